"""The property form of the selected node, generated from its params' JSON schema.

Inputs are uncontrolled and commit on blur, so typing never round-trips to the server;
their keys include the value, so a change made elsewhere remounts them. A co-editor's
edit of a field is shown from the room's patch (flow_canvas.jsx), without the form being
sent again: a text field's DOM takes it, which also makes it the field's default value,
and the other fields draw it through field_values.jsx (``_shown``). A blur or a choice
sends what the field showed with what it holds: an untouched field writes nothing, and an
edit made over someone else's newer value is offered as a choice instead of written. A
param that
names something real (a connection, a chat...) is a picker of the real ones, by name;
a chat can still be typed (an id, or a value from the flow).
"""

from __future__ import annotations

import reflex as rx
from reflex.event import EventSpec
from reflex_base.utils.imports import ImportVar
from reflex_base.vars import VarData

from flowbot_ui.components.flow_canvas import FIELD_VALUES
from flowbot_ui.state.editor import EditorState, FieldSpec
from flowbot_ui.state.node_form import UNSET, PickChoice
from flowbot_ui.state.room import FlowRoom

# What a text field showed before the person typed: the value it was drawn with, or the
# one a co-editor's patch put there since.
_SHOWN: rx.Var = rx.Var("_e?.target?.defaultValue")
# fieldText(node, name, the form's value): the text a field shows, a co-editor's newer one
# from the room's patch included (field_values.jsx).
_FIELD_TEXT: rx.Var = rx.Var(
    _js_expr="fieldText",
    _var_data=VarData(
        hooks={"const fieldText = useFieldText()": None},
        imports={FIELD_VALUES.importable_path: [ImportVar(tag="useFieldText")]},
    ),
)


def _js(template: str, **parts: rx.Var) -> rx.Var:
    """A JavaScript expression over Vars (``{name}`` in ``template``), keeping what each
    needs to be drawn (its state, its hook)."""
    return rx.Var(
        _js_expr=template.format(**{name: f"({part!s})" for name, part in parts.items()}),
        _var_data=VarData.merge(*(part._get_all_var_data() for part in parts.values())),
    )


def _shown(field: FieldSpec) -> rx.Var:
    """What the field shows: the form's value, or a co-editor's newer text."""
    return _js(
        "{text}({node}, {name}, {value})",
        text=_FIELD_TEXT,
        node=EditorState.selected_id,
        name=field.name,
        value=field.value,
    ).to(str)


def _commit(field: FieldSpec, value: rx.Var, shown: rx.Var | None = None) -> EventSpec:
    return EditorState.commit_field(field.name, field.value if shown is None else shown, value)


def _key(field: FieldSpec, value: rx.Var | None = None) -> rx.Var:
    """Remount an input only when its value (``value``, else the form's) changed
    underneath (undo, a co-editor)."""
    shown = field.value if value is None else value
    return EditorState.selected_id + "/" + field.name + "/" + shown


def _text(field: FieldSpec, *, multiline: bool = False) -> rx.Component:
    common = {
        # what it shows: drawn again with the page's other fields, it must not go back to
        # the form's older value (which leaving it would then compare with)
        "default_value": _shown(field),
        "placeholder": field.placeholder,
        "key": _key(field),
        # Co-editors see who is in which field (the room shows it on the node).
        "on_focus": FlowRoom.focus_field(field.name),
        "on_blur": lambda value: [_commit(field, value, _SHOWN), FlowRoom.focus_field("")],
        "read_only": ~EditorState.can_edit,
        "width": "100%",
        "id": "param-" + field.name,
        "custom_attrs": {"data-testid": "param-" + field.name},
    }
    if multiline:
        return rx.text_area(rows="4", font_family="var(--code-font-family)", size="1", **common)
    return rx.input(size="2", **common)


def _insert_hint(field: FieldSpec) -> rx.Component:
    """Offer trigger fields, upstream node outputs and variables to insert."""
    return rx.cond(
        EditorState.hints.length() > 0,
        rx.select(
            EditorState.hints,
            value="",
            placeholder="Insert a value…",
            size="1",
            variant="soft",
            on_change=lambda hint: _commit(field, _shown(field) + hint, _shown(field)),
            disabled=~EditorState.can_edit,
            custom_attrs={"data-testid": "hint-" + field.name},
        ),
    )


def _with_hint(field: FieldSpec, *, multiline: bool = False) -> rx.Component:
    return rx.vstack(
        _text(field, multiline=multiline), _insert_hint(field), spacing="1", width="100%"
    )


def choice_text(choice: PickChoice) -> rx.Component:
    return rx.hstack(
        rx.text(choice.label, size="2"),
        rx.text(choice.detail, size="1", color=rx.color("gray", 10)),
        spacing="2",
        align="baseline",
    )


def _single_picker(field: FieldSpec) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(
            placeholder="Choose…",
            width="100%",
            custom_attrs={"data-testid": "pick-" + field.name},
        ),
        rx.select.content(
            rx.cond(field.unset != "", rx.select.item(field.unset, value=UNSET)),
            rx.foreach(
                field.choices,
                lambda choice: rx.select.item(
                    choice_text(choice),
                    value=choice.value,
                    custom_attrs={"data-testid": "choice-" + field.name + "-" + choice.value},
                ),
            ),
        ),
        value=_js(
            "{shown} === {value} ? {picked} : ({shown}.trim() || ({unset} ? {none} : ''))",
            shown=_shown(field),
            value=field.value,
            picked=field.picked,
            unset=field.unset,
            none=rx.Var.create(UNSET),
        ).to(str),
        on_change=lambda value: EditorState.pick(field.name, value),
        key=_key(field),
        disabled=~EditorState.can_edit,
        width="100%",
    )


def _several_picker(field: FieldSpec) -> rx.Component:
    return rx.vstack(
        rx.foreach(
            field.choices,
            lambda choice: rx.checkbox(
                choice_text(choice),
                checked=_js(
                    "{shown} === {value} ? {selected}"
                    " : {shown}.split('\\n').map((line) => line.trim()).includes({choice})",
                    shown=_shown(field),
                    value=field.value,
                    selected=choice.selected,
                    choice=choice.value,
                ).to(bool),
                on_change=lambda on: EditorState.toggle_pick(field.name, choice.value, on),
                disabled=~EditorState.can_edit,
                custom_attrs={"data-testid": "choice-" + field.name + "-" + choice.value},
            ),
        ),
        spacing="1",
        width="100%",
        custom_attrs={"data-testid": "pick-" + field.name},
    )


_NOTHING_TO_PICK = {
    "connection": "No connection of this kind yet: add one on the Connections page.",
    "chat": "No chats yet: they appear once the connection is in one.",
    "discovered_chat": "No chats yet: they appear once a connection is in one.",
    "server": "No servers yet: they appear once the bot is in one.",
    "voice_channel": "No voice channels yet: they appear once the bot is in a server with one.",
    "community": "No communities yet: create one on the Communities page.",
    "flow": "No flows yet.",
}


def _picker(field: FieldSpec) -> rx.Component:
    """The real things to pick from; a chat may also be typed, as an id or an expression."""
    return rx.vstack(
        rx.cond(
            field.choices.length() > 0,
            rx.cond(field.kind == "list", _several_picker(field), _single_picker(field)),
            rx.text(
                rx.match(field.picks, *_NOTHING_TO_PICK.items(), "Nothing to pick yet."),
                size="1",
                color=rx.color("gray", 10),
            ),
        ),
        rx.cond(
            field.typed,
            rx.vstack(
                rx.text("Or type an id, or insert a value from the flow:", size="1"),
                _with_hint(field),
                spacing="1",
                width="100%",
            ),
        ),
        spacing="2",
        width="100%",
    )


def _input(field: FieldSpec) -> rx.Component:
    return rx.cond(
        field.picks != "",
        _picker(field),
        rx.match(
            field.kind,
            (
                "checkbox",
                rx.checkbox(
                    default_checked=_shown(field) == "true",
                    key=_key(field, _shown(field)),
                    on_change=lambda checked: EditorState.set_flag(field.name, checked),
                    disabled=~EditorState.can_edit,
                    custom_attrs={"data-testid": "param-" + field.name},
                ),
            ),
            (
                "select",
                rx.select(
                    field.options,
                    value=_shown(field),
                    placeholder="Choose…",
                    on_change=lambda value: _commit(field, value, _shown(field)),
                    disabled=~EditorState.can_edit,
                    width="100%",
                    custom_attrs={"data-testid": "param-" + field.name},
                ),
            ),
            ("number", _with_hint(field)),
            ("text", _with_hint(field)),
            _with_hint(field, multiline=True),
        ),
    )


_KIND_HINTS = {
    "number": "A number, or a value from the flow.",
    "list": "One per line.",
    "keyvalue": "One 'name: value' per line.",
    "json": 'Text, a number, or a list or object written as JSON (["a", "b"], {"a": 1}).',
}


def _conflict(field: FieldSpec) -> rx.Component:
    """Someone else changed this field while this person edited it: theirs is shown, and
    this person chooses which stays."""
    return rx.cond(
        EditorState.field_conflict == field.name,
        rx.callout(
            rx.vstack(
                rx.text(
                    "Changed by ",
                    EditorState.field_conflict_by,
                    " while you edited it. Yours: ",
                    rx.code(EditorState.field_conflict_text),
                ),
                rx.hstack(
                    rx.button(
                        "Keep mine",
                        size="1",
                        on_click=EditorState.keep_mine,
                        data_testid="keep-mine",
                    ),
                    rx.button(
                        "Take theirs",
                        size="1",
                        variant="soft",
                        on_click=EditorState.take_theirs,
                        data_testid="take-theirs",
                    ),
                ),
                spacing="2",
            ),
            icon="users",
            color_scheme="amber",
            size="1",
            width="100%",
            data_testid="field-conflict-" + field.name,
        ),
    )


def _field(field: FieldSpec) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(field.label, size="2", weight="medium"),
            rx.cond(field.required, rx.text("*", color=rx.color("red", 10), size="2")),
            spacing="1",
        ),
        _input(field),
        _conflict(field),
        rx.text(
            field.description,
            rx.cond(
                field.picks == "",
                rx.match(
                    field.kind, *[(kind, " " + text) for kind, text in _KIND_HINTS.items()], ""
                ),
                "",
            ),
            size="1",
            color=rx.color("gray", 10),
        ),
        rx.cond(
            field.error != "",
            rx.text(field.error, size="1", color=rx.color("red", 11)),
        ),
        spacing="1",
        width="100%",
    )


def param_form() -> rx.Component:
    return rx.vstack(
        rx.foreach(EditorState.fields, _field),
        rx.cond(
            EditorState.fields.length() == 0,
            rx.text("This node has no settings.", size="2", color=rx.color("gray", 10)),
        ),
        spacing="4",
        width="100%",
        data_testid="param-form",
        custom_attrs={"data-node": EditorState.selected_id},  # whose form (for patches)
    )

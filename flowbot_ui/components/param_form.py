"""The property form of the selected node, generated from its params' JSON schema.

Inputs are uncontrolled and commit on blur, so typing never round-trips to the server;
their keys include the value, so a change made elsewhere remounts them.
"""

from __future__ import annotations

import reflex as rx

from flowbot_ui.state.editor import EditorState, FieldSpec
from flowbot_ui.state.room import FlowRoom


def _commit(field: FieldSpec, value: rx.Var) -> list:  # type: ignore[type-arg]
    return [
        FlowRoom.set_param(EditorState.selected_id, field.name, value),
        EditorState.refresh_panel,
    ]


def _key(field: FieldSpec) -> rx.Var:
    """Remount an input only when its value changed underneath (undo, a co-editor)."""
    return EditorState.selected_id + "/" + field.name + "/" + field.value


def _text(field: FieldSpec, *, multiline: bool = False) -> rx.Component:
    common = {
        "default_value": field.value,
        "placeholder": field.placeholder,
        "key": _key(field),
        "on_blur": lambda value: _commit(field, value),
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
            on_change=lambda hint: _commit(field, field.value + hint),
            custom_attrs={"data-testid": "hint-" + field.name},
        ),
    )


def _input(field: FieldSpec) -> rx.Component:
    return rx.match(
        field.kind,
        (
            "checkbox",
            rx.checkbox(
                default_checked=field.value == "true",
                key=_key(field),
                on_change=lambda checked: [
                    FlowRoom.set_flag(EditorState.selected_id, field.name, checked),
                    EditorState.refresh_panel,
                ],
                custom_attrs={"data-testid": "param-" + field.name},
            ),
        ),
        (
            "select",
            rx.select(
                field.options,
                value=field.value,
                placeholder="Choose…",
                on_change=lambda value: _commit(field, value),
                width="100%",
                custom_attrs={"data-testid": "param-" + field.name},
            ),
        ),
        ("number", _text(field)),
        ("text", rx.vstack(_text(field), _insert_hint(field), spacing="1", width="100%")),
        _text(field, multiline=True),
    )


_KIND_HINTS = {
    "list": "One per line.",
    "keyvalue": "One 'name: value' per line.",
    "json": "JSON, or an expression.",
}


def _field(field: FieldSpec) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(field.label, size="2", weight="medium"),
            rx.cond(field.required, rx.text("*", color=rx.color("red", 10), size="2")),
            spacing="1",
        ),
        _input(field),
        rx.text(
            field.description,
            rx.match(
                field.kind,
                *[(kind, " " + text) for kind, text in _KIND_HINTS.items()],
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
    )

"""The command, response or menu being edited on the Bot config page, as plain data.

The form edits a copy of one item of the draft (a dict shaped like the document's model):
every field the page shows is a path into that copy, and a localized text is the value for
the language tab the admin has open. Nothing here decides what is valid: the item goes to
the service whole, which validates it like any client's input. Kept free of Reflex so the
path edits and the projections can be tested without a browser.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from engine.bot_config.document import (
    BotAction,
    Button,
    Command,
    CommandOption,
    Menu,
    OptionChoice,
    Response,
    ResponseTrigger,
)

Kind = Literal["command", "response", "menu"]
Path = tuple[str | int, ...]
LOCALIZED_FIELDS = frozenset({"description", "text", "title", "label", "name"})
KEY_FIELD: dict[str, str] = {"command": "name", "response": "key", "menu": "key"}
# What "Add" appends to each list of an item.
NEW_PARTS: dict[str, dict[str, Any]] = {
    "options": CommandOption(name="").model_dump(mode="json"),
    "choices": OptionChoice(value="").model_dump(mode="json"),
    "triggers": ResponseTrigger(value="").model_dump(mode="json"),
    "buttons": Button().model_dump(mode="json"),
}


def new_item(kind: Kind) -> dict[str, Any]:
    """An empty command, response or menu, with every field the form shows."""
    model = {"command": Command, "response": Response, "menu": Menu}[kind]
    item = model.model_construct(**{KEY_FIELD[kind]: ""}).model_dump(mode="json")
    if kind == "response":
        item["media"] = {"kind": "photo", "url": ""}  # the form always shows the media fields
    return item


def editable(kind: Kind, stored: dict[str, Any]) -> dict[str, Any]:
    """A stored item as the form edits it (media fields present even when there is none)."""
    item = copy.deepcopy(stored)
    if kind == "response" and not item.get("media"):
        item["media"] = {"kind": "photo", "url": ""}
    return item


def finished(kind: Kind, item: dict[str, Any]) -> dict[str, Any]:
    """The form's copy as the document stores it: no empty media, no blank translations."""
    done = _without_blank_texts(copy.deepcopy(item))
    if kind == "response":
        if not (done.get("media") or {}).get("url", "").strip():
            done["media"] = None
        if done.get("delete_after_seconds") in ("", None):
            done["delete_after_seconds"] = None
    return done


def _without_blank_texts(value: Any) -> Any:
    """Localized texts lose their blank languages (a blank is a missing translation)."""
    if isinstance(value, list):
        return [_without_blank_texts(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k: {lang: t for lang, t in v.items() if t.strip()}
        if k in LOCALIZED_FIELDS and isinstance(v, dict)
        else _without_blank_texts(v)
        for k, v in value.items()
    }


# -- edits ---------------------------------------------------------------------------------


def _container(item: dict[str, Any], path: Path) -> Any:
    """The dict or list at ``path``; LookupError when the path is not in the item."""
    here: Any = item
    for step in path:
        in_dict = isinstance(here, dict) and isinstance(step, str) and step in here
        in_list = isinstance(here, list) and isinstance(step, int) and 0 <= step < len(here)
        if not (in_dict or in_list):
            raise LookupError(f"No field {'.'.join(map(str, path))} in this form.")
        here = here[step]
    return here


def put(item: dict[str, Any], path: Path, value: Any, language: str) -> dict[str, Any]:
    """A copy of ``item`` with ``value`` at ``path``; a localized text takes it for
    ``language``. Only fields the item already has can be set."""
    changed = copy.deepcopy(item)
    *above, name = path
    parent = _container(changed, tuple(above))
    current = _container(changed, path)
    if isinstance(current, dict):  # a localized text: language → text
        current[language] = str(value)
    elif isinstance(current, bool):
        parent[name] = bool(value)
    elif name == "delete_after_seconds":
        text = str(value).strip()
        parent[name] = int(text) if text.isdigit() else (text or None)
    else:
        parent[name] = "" if value is None else str(value)
    return changed


def append(item: dict[str, Any], path: Path, part: str) -> dict[str, Any]:
    """A copy of ``item`` with a new empty ``part`` (see NEW_PARTS, or "row") added to the
    list at ``path``."""
    changed = copy.deepcopy(item)
    target = _container(changed, path)
    if not isinstance(target, list):
        raise LookupError("Only lists take new entries.")
    target.append(
        [copy.deepcopy(NEW_PARTS["buttons"])] if part == "row" else copy.deepcopy(NEW_PARTS[part])
    )
    return changed


def drop(item: dict[str, Any], path: Path) -> dict[str, Any]:
    """A copy of ``item`` without the list entry at ``path``; a button row left empty goes."""
    changed = copy.deepcopy(item)
    *above, index = path
    target = _container(changed, tuple(above))
    if not isinstance(target, list) or not isinstance(index, int):
        raise LookupError("Only list entries can be removed.")
    _container(changed, path)  # in range
    del target[index]
    if len(above) >= 2 and above[-2] in ("buttons", "rows") and not target:
        del _container(changed, tuple(above[:-1]))[above[-1]]
    return changed


def set_action_kind(item: dict[str, Any], path: Path, kind: str) -> dict[str, Any]:
    """A new action kind forgets the old target (a menu key is no response key)."""
    changed = put(item, (*path, "kind"), kind, "")
    return put(changed, (*path, "target"), "", "")


def explain(error: ValidationError) -> str:
    """Pydantic's refusal in one line per field, named by where it is in the form."""
    lines = []
    for problem in error.errors():
        where = " → ".join(str(step) for step in problem["loc"]) or "form"
        lines.append(f"{where}: {problem['msg']}")
    return "; ".join(lines)


# -- what the form shows -------------------------------------------------------------------


class ChoiceForm(BaseModel):
    name: str
    value: str


class OptionForm(BaseModel):
    name: str
    description: str
    type: str
    required: bool
    choices: list[ChoiceForm]


class ActionForm(BaseModel):
    kind: str
    target: str


class ButtonForm(BaseModel):
    label: str
    action: ActionForm


class ButtonRow(BaseModel):
    buttons: list[ButtonForm]


class TriggerForm(BaseModel):
    kind: str
    value: str


class ItemForm(BaseModel):
    """Every field of a command, response or menu, texts in the open language tab."""

    key: str = ""
    description: str = ""  # commands
    scope_kind: str = "all"
    scope_target: str = ""
    enabled: bool = True
    action: ActionForm = ActionForm(kind="response", target="")
    options: list[OptionForm] = []
    triggers: list[TriggerForm] = []  # responses
    text: str = ""  # a response's text, a menu's title
    media_kind: str = "photo"
    media_url: str = ""
    reply_mode: str = "reply"
    delete_after: str = ""
    rows: list[ButtonRow] = []  # a response's buttons, a menu's rows


def _in(texts: dict[str, str] | None, language: str) -> str:
    return (texts or {}).get(language, "")


def _action(stored: dict[str, Any]) -> ActionForm:
    action = BotAction.model_validate(stored) if stored else BotAction()
    return ActionForm(kind=str(action.kind), target=action.target)


def _rows(rows: list[list[dict[str, Any]]], language: str) -> list[ButtonRow]:
    return [
        ButtonRow(
            buttons=[
                ButtonForm(label=_in(b.get("label"), language), action=_action(b.get("action")))
                for b in row
            ]
        )
        for row in rows
    ]


def form_of(kind: Kind, item: dict[str, Any], language: str) -> ItemForm:
    """The item's fields as the form shows them, texts in ``language``."""
    if kind == "command":
        scope = item.get("scope") or {}
        return ItemForm(
            key=item.get("name", ""),
            description=_in(item.get("description"), language),
            scope_kind=scope.get("kind", "all"),
            scope_target=scope.get("target_id", ""),
            enabled=bool(item.get("enabled", True)),
            action=_action(item.get("action")),
            options=[
                OptionForm(
                    name=o.get("name", ""),
                    description=_in(o.get("description"), language),
                    type=o.get("type", "string"),
                    required=bool(o.get("required")),
                    choices=[
                        ChoiceForm(name=_in(c.get("name"), language), value=c.get("value", ""))
                        for c in o.get("choices", [])
                    ],
                )
                for o in item.get("options", [])
            ],
        )
    if kind == "response":
        media = item.get("media") or {}
        after = item.get("delete_after_seconds")
        return ItemForm(
            key=item.get("key", ""),
            triggers=[TriggerForm(kind=t["kind"], value=t["value"]) for t in item["triggers"]],
            text=_in(item.get("text"), language),
            media_kind=media.get("kind", "photo"),
            media_url=media.get("url", ""),
            rows=_rows(item.get("buttons", []), language),
            reply_mode=item.get("reply_mode", "reply"),
            delete_after="" if after is None else str(after),
            enabled=bool(item.get("enabled", True)),
        )
    return ItemForm(
        key=item.get("key", ""),
        text=_in(item.get("title"), language),
        rows=_rows(item.get("rows", []), language),
    )

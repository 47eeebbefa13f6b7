"""The test-run form: the trigger's example event as fields an admin can change (the text,
who wrote it, in which chat), and back to the event the run gets.

No Reflex here: the editor state calls these, and unit tests can too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from engine.services.node_pickers import Choice
from flowbot_ui.state.node_form import PickChoice

# The envelope of an event: set by whoever builds it, not something to try variations of.
_FIXED = frozenset({"event_id", "kind", "platform", "connector", "raw", "occurred_at"})
_WORDS = {"id": "ID", "ids": "IDs"}
CONNECTION = "instance_id"  # the field a run form offers the real connections for


def payload_fields(example: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One field per value of the example: its path, a label in words, its value as text.

    Parts the example leaves empty are not offered: this kind of event does not have
    them (no chat for a poll answer, no first name on Discord)."""
    found: list[dict[str, Any]] = []

    def walk(value: Any, path: list[str]) -> None:
        if value in (None, [], {}):
            return
        if isinstance(value, Mapping):
            for key, item in value.items():
                if path or key not in _FIXED:
                    walk(item, [*path, str(key)])
            return
        found.append({"path": path, "label": _label(path), "value": _as_text(value)})

    walk(example, [])
    return found


def apply_fields(example: Mapping[str, Any], values: list[tuple[list[str], str]]) -> dict[str, Any]:
    """The example event with the fields' texts in place, each read as the kind of value
    the example holds there (a number stays a number, a list is written as JSON)."""
    payload = copy.deepcopy(dict(example))
    for path, text in values:
        parent = payload
        for key in path[:-1]:
            parent = parent.setdefault(key, {})
        parent[path[-1]] = _read(parent.get(path[-1]), text)
    return payload


def _label(path: list[str]) -> str:
    if path == [CONNECTION]:
        return "Connection"
    text = " · ".join(" ".join(_WORDS.get(w, w) for w in key.split("_")) for key in path)
    return text[:1].upper() + text[1:]


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _read(before: Any, text: str) -> Any:
    """``text`` as the example's kind of value; text that does not fit stays text."""
    if isinstance(before, str):
        return text
    if text.strip() == "":
        return None if before is None or not isinstance(before, list | dict) else type(before)()
    try:
        return json.loads(text)
    except ValueError:
        return text


class RunField(BaseModel):
    """One field of the test-run form; a connection is picked from the real ones."""

    index: int
    key: str  # the dotted path, for tests and keys ("user.first_name")
    label: str
    value: str
    choices: list[PickChoice] = []


def run_fields(
    example: Mapping[str, Any], connections: list[Choice]
) -> tuple[list[RunField], list[list[str]]]:
    """The form's fields and the path each one fills. The connection is one of the real
    ones of the event's kind: the example's own id is only a sample, so the first real
    connection is picked unless the example names one that exists."""
    fields, paths = [], []
    for index, found in enumerate(payload_fields(example)):
        field = RunField(
            index=index, key=".".join(found["path"]), label=found["label"], value=found["value"]
        )
        if found["path"] == [CONNECTION] and connections:
            values = [choice.value for choice in connections]
            field.value = field.value if field.value in values else values[0]
            field.choices = [
                PickChoice(
                    value=c.value, label=c.label, detail=c.detail, selected=c.value == field.value
                )
                for c in connections
            ]
        fields.append(field)
        paths.append(found["path"])
    return fields, paths

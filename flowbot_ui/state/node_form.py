"""The selected node's form as the editor shows it: fields from the node's params, and for
params that name something real (a connection, a chat...) the real ones to pick from.

The choices come from engine.services.node_pickers, narrowed to the node: its platform's
connections, the chats of the connection it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from engine.graph import Issue
from engine.models import AdminUser
from engine.nodes import REGISTRY
from engine.services import node_pickers
from flowbot_ui.state.flow_graph import param_fields, unset_label

UNSET = "__unset__"  # the picker's "nothing picked" item (a select item cannot be "")
# May also be typed: an id, or an expression.
TYPED_PICKS = ("chat", "server", "voice_channel")
SCOPE_PARAM = "instance_id"  # the connection a node uses: its pickers' choices depend on it


class PickChoice(BaseModel):
    value: str
    label: str
    detail: str
    selected: bool


class FieldSpec(BaseModel):
    name: str
    label: str
    kind: str
    description: str
    value: str
    options: list[str]
    required: bool
    placeholder: str
    error: str
    picks: str = ""  # what the param names ("connection", "chat"...); "" for a plain field
    typed: bool = False  # a picker that also takes a typed id or expression
    choices: list[PickChoice] = []
    picked: str = ""  # the select's value: a choice's value, UNSET, or "" (none of them)
    unset: str = ""  # the label of the "nothing picked" item; "" when a value is required


def form_fields(
    session: Session, user: AdminUser, node: Mapping[str, Any], issues: Iterable[Issue]
) -> list[FieldSpec]:
    """The node's form, with the choices of its pickers (read as ``user``)."""
    params = node.get("params") or {}
    node_type = REGISTRY.get(node["type"]) if node["type"] in REGISTRY else None
    scope = node_pickers.Scope(
        kind=node_pickers.connector_kind(str(node_type.platform)) if node_type else None,
        instance_id=params.get(SCOPE_PARAM) if isinstance(params.get(SCOPE_PARAM), int) else None,
    )
    fields = []
    for spec in param_fields(node["type"], params, issues):
        field = FieldSpec(**spec)
        if field.picks:
            _add_choices(field, node_pickers.choices(session, user, field.picks, scope))
        fields.append(field)
    return fields


def _add_choices(field: FieldSpec, found: list[node_pickers.Choice]) -> None:
    current = [line.strip() for line in field.value.splitlines() if line.strip()]
    field.typed = field.picks in TYPED_PICKS
    field.unset = "" if field.required or field.kind == "list" else unset_label(field.description)
    field.choices = [
        PickChoice(value=c.value, label=c.label, detail=c.detail, selected=c.value in current)
        for c in found
    ]
    unknown = [v for v in current if v not in {c.value for c in found} and "{{" not in v]
    if unknown and not field.typed:  # a deleted connection, say: shown, not silently dropped
        field.choices += [
            PickChoice(value=v, label=f"Not found (ID {v})", detail="", selected=True)
            for v in unknown
        ]
    if any(choice.selected for choice in field.choices):
        field.picked = field.value.strip()
    elif not current and field.unset:
        field.picked = UNSET


def toggled(text: str, value: str, on: bool) -> str:
    """A multiple picker's text after ticking or unticking ``value`` (other lines kept)."""
    lines = [line.strip() for line in text.splitlines() if line.strip() != value]
    return "\n".join([line for line in lines if line] + ([value] if on else []))

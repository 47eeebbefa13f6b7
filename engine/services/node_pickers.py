"""The real things a node param can name (engine.nodes.base.Picks), for pickers.

An admin chooses "Support bot" or "Flowbot Community", never types 3 or -1001234567890:
the editor's node form (and anything else that fills node params, such as templates)
offers these choices, filtered to what the node can use (its platform's connections, the
chats its connection is in). The value is what the param stores; the id is only a detail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from engine.models import AdminUser, FlowDefinition, Role
from engine.platform_event import PLATFORMS
from engine.services import communities, connections
from engine.services.auth import require_role

MAX_CHOICES = 300


@dataclass(frozen=True)
class Choice:
    value: str  # what the param holds, as the form's text
    label: str  # the name an admin knows it by
    detail: str  # the id and where it is: shown small, beside the name


@dataclass(frozen=True)
class Scope:
    """What narrows the choices: the node's connector kind (None: a node of any platform)
    and the connection the node itself names (chats of that connection only)."""

    kind: str | None = None
    instance_id: int | None = None


def connector_kind(node_platform: str) -> str | None:
    """The connector kind a node of this platform runs on; None for platform-free nodes."""
    return node_platform if node_platform in PLATFORMS else None


def choices(session: Session, viewer: AdminUser, what: str, scope: Scope) -> list[Choice]:
    """The choices for a param marked ``Picks(what)``, by name."""
    require_role(viewer, Role.viewer)
    try:
        listing = _LISTINGS[what]
    except KeyError:
        raise ValueError(f"nothing to pick for {what!r}") from None
    return sorted(listing(session, scope), key=lambda choice: choice.label.lower())


def _connections(session: Session, scope: Scope) -> list[Choice]:
    return [
        Choice(
            value=str(view.instance_id),
            label=view.name,
            detail=" · ".join(
                part
                for part in (
                    f"ID {view.instance_id}",
                    view.kind_label,
                    f"@{view.platform_username}" if view.platform_username else "",
                    "" if view.is_active else "paused",
                )
                if part
            ),
        )
        for view in connections.list_connections(session)
        if scope.kind is None or view.kind == scope.kind
    ]


def _discovered(
    session: Session, scope: Scope, *, servers: bool, voice: bool = False, by_row: bool = False
) -> list[Choice]:
    """Chats the node's connections are in: Discord servers, Discord voice channels, or
    every chat that takes messages; by their platform id, or (``by_row``) by Flowbot's own
    id of the discovered chat."""
    wanted = {
        view.connection_id: view
        for view in connections.list_connections(session)
        if (scope.kind is None or view.kind == scope.kind)
        and scope.instance_id in (None, view.instance_id)
    }
    platform = PLATFORMS.get(scope.kind or "")
    filters = communities.ChatFilters(
        platform=platform, connection_ids=tuple(wanted), servers=servers, voice=voice
    )
    found = []
    for chat in communities.chat_page(session, filters, MAX_CHOICES):
        if chat.connection_id is None:  # the query keeps the wanted connections' chats only
            continue
        where = [chat.platform_chat_id, chat.type, f"via {wanted[chat.connection_id].name}"]
        value = str(chat.chat_id) if by_row else chat.platform_chat_id
        found.append(Choice(value=value, label=chat.title, detail=" · ".join(where)))
    return found


def _communities(session: Session, scope: Scope) -> list[Choice]:
    return [
        Choice(value=str(view.community_id), label=view.name, detail=f"ID {view.community_id}")
        for view in communities.list_communities(session)
    ]


def _flows(session: Session, scope: Scope) -> list[Choice]:
    rows = session.exec(
        select(FlowDefinition.id, FlowDefinition.name, FlowDefinition.status)
        .where(col(FlowDefinition.system_kind).is_(None))  # built-in flows are not called
        .order_by(col(FlowDefinition.name))
        .limit(MAX_CHOICES)
    ).all()
    return [
        Choice(value=str(flow_id), label=name, detail=f"ID {flow_id} · {status}")
        for flow_id, name, status in rows
    ]


_LISTINGS: dict[str, Callable[[Session, Scope], list[Choice]]] = {
    "connection": _connections,
    "chat": lambda session, scope: _discovered(session, scope, servers=False),
    "server": lambda session, scope: _discovered(session, scope, servers=True),
    "voice_channel": lambda session, scope: _discovered(session, scope, servers=False, voice=True),
    "discovered_chat": lambda session, scope: _discovered(
        session, scope, servers=False, by_row=True
    ),
    "community": _communities,
    "flow": _flows,
}

"""Which published, active flows an event starts: an index kept in memory per process.

Every second at most, a lookup asks the database for the (flow, published version) pairs
of active flows, one small query; published versions never change, so only versions it
has not seen are loaded. Every process (web, workers, on any machine) therefore sees a
publish or a pause within about a second without any message between them; a
``flows.changed`` event on the bus makes the next lookup check at once.

One function, :func:`matches`, decides whether an event passes a trigger's filters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from engine.db import primary_key
from engine.models import FlowDefinition, FlowStatus, FlowVersion
from engine.nodes import REGISTRY
from engine.nodes.base import NodeCategory
from engine.platform_event import PlatformEvent

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0
# Triggers that events from the connectors never start: their flows are started directly.
NOT_ROUTED = frozenset({"webhook", "schedule", "manual", "flow_called"})


def _chat_id(event: PlatformEvent) -> str | None:
    return event.chat.id if event.chat else None


def _changed(event: PlatformEvent, what: str) -> bool:
    if what == "roles":
        return bool(event.data.get("added_roles") or event.data.get("removed_roles"))
    return event.data.get("old_nickname") != event.data.get("new_nickname")


# Named functions rather than lambdas, so mutation testing (scripts/mutation.sh) reaches them.
def _instance(want: Any, e: PlatformEvent) -> bool:
    return bool(e.instance_id == want)


def _chat(want: Any, e: PlatformEvent) -> bool:
    return _chat_id(e) == str(want)


def _guild(want: Any, e: PlatformEvent) -> bool:
    return e.chat is not None and e.chat.guild_id == str(want)


def _text_contains(want: Any, e: PlatformEvent) -> bool:
    return bool(want.casefold() in (e.text or "").casefold())


def _command(want: Any, e: PlatformEvent) -> bool:
    return bool((e.command or "").removeprefix("/").lower() == want.lower())


def _emoji(want: Any, e: PlatformEvent) -> bool:
    return bool(e.data.get("emoji") == want)


def _callback_data(want: Any, e: PlatformEvent) -> bool:
    return str(e.data.get("callback_data") or "").startswith(want)


def _custom_id(want: Any, e: PlatformEvent) -> bool:
    return str(e.data.get("custom_id") or "").startswith(want)


def _query(want: Any, e: PlatformEvent) -> bool:
    return bool((e.text or e.data.get("query") or "").startswith(want))


def _poll(want: Any, e: PlatformEvent) -> bool:
    return bool(str(e.data.get("poll_id")) == want)


def _media(want: Any, e: PlatformEvent) -> bool:
    return e.media is not None and bool(e.media.type in want)


def _status(want: Any, e: PlatformEvent) -> bool:
    return bool(e.data.get("new_status") in want)


def _receipt(want: Any, e: PlatformEvent) -> bool:
    return bool(e.data.get("receipt_type") in want)


def _changes(want: Any, e: PlatformEvent) -> bool:
    return any(_changed(e, what) for what in want)


def _bots(allow: Any, e: PlatformEvent) -> bool:
    return bool(allow or not (e.user is not None and e.user.is_bot))


def _outgoing(allow: Any, e: PlatformEvent) -> bool:
    return bool(allow or not e.data.get("outgoing"))


# Trigger param name -> does the event pass it. An empty value (None, "", []) means "any";
# booleans always apply. A unit test checks every routed trigger param has an entry.
FILTERS: dict[str, Callable[[Any, PlatformEvent], bool]] = {
    "instance_id": _instance,
    "chat_id": _chat,
    "channel_id": _chat,
    "guild_id": _guild,
    "text_contains": _text_contains,
    "command": _command,
    "emoji": _emoji,
    "data_prefix": _callback_data,
    "custom_id_prefix": _custom_id,
    "query_prefix": _query,
    "poll_id": _poll,
    "media_types": _media,
    "new_status": _status,
    "receipt_types": _receipt,
    "changes": _changes,
    "include_bots": _bots,
    "include_outgoing": _outgoing,
}


def matches(params: dict[str, Any], event: PlatformEvent) -> bool:
    """Whether ``event`` passes every filter set in a trigger's (validated) params."""
    for name, want in params.items():
        if want is None or want == "" or want == []:
            continue
        check = FILTERS.get(name)
        if check is not None and not check(want, event):
            return False
    return True


VersionKey = tuple[int, datetime]  # (version id, created at)


@dataclass(frozen=True)
class TriggerEntry:
    """One trigger node of a published version: what an execution of it needs."""

    flow_id: int
    version_id: int
    node_id: str
    kind: str
    params: dict[str, Any]


def triggers_of(flow_id: int, version_id: int, graph: Mapping[str, Any]) -> Iterator[TriggerEntry]:
    """The routed trigger nodes of a graph, their params validated (defaults filled in)."""
    for node in graph.get("nodes", []):
        kind = node.get("type")
        if kind in NOT_ROUTED or kind not in REGISTRY:
            continue
        node_type = REGISTRY.get(kind)
        if node_type.category is not NodeCategory.trigger:
            continue
        try:
            params = node_type.params.model_validate(node.get("params") or {}).model_dump()
        except ValidationError as exc:
            log.warning("flow %s v%s: trigger %s ignored: %s", flow_id, version_id, kind, exc)
            continue
        yield TriggerEntry(flow_id, version_id, str(node.get("id")), kind, params)


SessionFactory = Callable[[], AbstractContextManager[Session]]


class TriggerIndex:
    """Published active flows by trigger kind, refreshed from the database when stale."""

    def __init__(self, session_factory: SessionFactory, ttl: float = REFRESH_SECONDS) -> None:
        self._session_factory = session_factory
        self._ttl = ttl
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._active: dict[int, VersionKey] = {}  # flow id -> its published version
        self._by_version: dict[VersionKey, list[TriggerEntry]] = {}
        self._by_kind: dict[str, list[TriggerEntry]] = {}

    def invalidate(self) -> None:
        """Check the database on the next lookup (a flow was published or paused)."""
        self._checked_at = float("-inf")

    def lookup(self, event: PlatformEvent) -> list[TriggerEntry]:
        """The triggers ``event`` starts, at most one per flow."""
        self._refresh_if_stale()
        found: dict[int, TriggerEntry] = {}
        for entry in self._by_kind.get(event.kind, ()):
            if entry.flow_id not in found and matches(entry.params, event):
                found[entry.flow_id] = entry
        return list(found.values())

    def _refresh_if_stale(self) -> None:
        if time.monotonic() - self._checked_at < self._ttl:
            return
        with self._lock:
            if time.monotonic() - self._checked_at < self._ttl:
                return
            with self._session_factory() as session:
                # A version is known by id and creation time: SQLite may reuse the id of a
                # deleted row, and a reused id must not serve the old graph's triggers.
                active = {
                    flow_id: (version_id, created_at)
                    for flow_id, version_id, created_at in session.exec(
                        select(
                            primary_key(FlowDefinition),
                            primary_key(FlowVersion),
                            FlowVersion.created_at,
                        )
                        .join(
                            FlowVersion,
                            col(FlowVersion.id) == col(FlowDefinition.published_version_id),
                        )
                        .where(FlowDefinition.status == FlowStatus.active)
                    ).all()
                }
                if active != self._active:
                    self._load(session, active)
            self._checked_at = time.monotonic()

    def _load(self, session: Session, active: dict[int, VersionKey]) -> None:
        missing = set(active.values()) - set(self._by_version)
        if missing:
            rows = session.exec(
                select(primary_key(FlowVersion), FlowVersion.created_at, FlowVersion.flow_id,
                       FlowVersion.graph)
                .where(col(FlowVersion.id).in_([version_id for version_id, _ in missing]))
            ).all()  # fmt: skip
            for version_id, created_at, flow_id, graph in rows:
                self._by_version[(version_id, created_at)] = list(
                    triggers_of(flow_id, version_id, graph)
                )
        live = set(active.values())
        self._by_version = {v: e for v, e in self._by_version.items() if v in live}
        self._by_kind = _group(entry for entries in self._by_version.values() for entry in entries)
        self._active = active


def _group(entries: Iterable[TriggerEntry]) -> dict[str, list[TriggerEntry]]:
    by_kind: dict[str, list[TriggerEntry]] = {}
    for entry in sorted(entries, key=lambda e: (e.flow_id, e.node_id)):
        by_kind.setdefault(entry.kind, []).append(entry)
    return by_kind

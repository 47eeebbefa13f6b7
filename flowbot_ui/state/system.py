"""The System status page: what engine/services/system_status.gather sees, as rows.

Anyone signed in may look (the service says viewers and up); nothing here changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import reflex as rx
from pydantic import BaseModel

from engine.db import session_scope
from engine.models import utcnow
from engine.services import auth, system_status
from flowbot_ui.state.auth import AuthState


class ProcessRow(BaseModel):
    kind: str
    name: str  # host:pid
    version: str
    started: str
    heartbeat: str
    alive: bool
    details: str


class QueueRow(BaseModel):
    name: str
    depth: int
    waiting: int
    delayed: int
    dead: int
    oldest: str


class ConnectionRow(BaseModel):
    name: str
    kind: str
    status: str
    connected: bool
    last_event: str
    error: str


class CheckRow(BaseModel):
    at: str
    ok: bool
    down: str


class IncidentRow(BaseModel):
    what: str
    error: str
    started: str
    resolved: str
    notified: str


def when(value: datetime | str | None) -> str:
    """Times as the page shows them (UTC, to the second); "—" for none."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _reach(found: system_status.Reachability | None) -> str:
    if found is None:
        return "not used (embedded mode)"
    return f"{found.latency_ms} ms" if found.ok else f"unreachable ({found.error})"


def _details(details: dict[str, Any]) -> str:
    shown = {k: v for k, v in details.items() if k != "last_event_at"}
    return ", ".join(f"{k} {v}" for k, v in sorted(shown.items()))


def _notified(incident: system_status.IncidentRecord) -> str:
    parts = []
    if incident.notified_down_at:
        parts.append(f"down notice {when(incident.notified_down_at)}")
    if incident.notified_up_at:
        parts.append(f"recovery notice {when(incident.notified_up_at)}")
    if incident.notify_error:
        parts.append(f"failed: {incident.notify_error}")
    return "; ".join(parts) or "not yet"


class SystemState(AuthState):
    mode: str = ""
    database: str = ""
    redis: str = ""
    processes: list[ProcessRow] = []
    queues: list[QueueRow] = []
    connections: list[ConnectionRow] = []
    checks: list[CheckRow] = []
    incidents: list[IncidentRow] = []
    unheld: list[str] = []
    read_at: str = ""

    @rx.event
    def load(self) -> None:
        try:
            with session_scope() as session:
                found = system_status.gather(session, self._current_user(session))
        except auth.AuthError as exc:
            self.error = str(exc)
            return
        self.error = ""
        self._show(found)

    def _show(self, found: system_status.SystemStatus) -> None:
        self.mode, self.read_at = found.mode, when(utcnow())
        self.database, self.redis = _reach(found.database), _reach(found.redis)
        self.processes = [
            ProcessRow(
                kind=p.kind,
                name=f"{p.host}:{p.pid}",
                version=p.version,
                started=when(p.started_at),
                heartbeat=when(p.heartbeat_at),
                alive=p.alive,
                details=_details(p.details),
            )
            for p in found.processes
        ]
        q = found.queue
        self.queues = (
            [
                QueueRow(
                    name=q.name,
                    depth=q.depth,
                    waiting=q.waiting,
                    delayed=q.delayed,
                    dead=q.dead_lettered,
                    oldest="—" if q.oldest_age_seconds is None else f"{q.oldest_age_seconds} s",
                )
            ]
            if q
            else []
        )
        self.connections = [
            ConnectionRow(
                name=c.name,
                kind=c.kind,
                status=c.status,
                connected=c.status == "connected",
                last_event=when(c.last_event_at),
                error=c.last_error or "",
            )
            for c in found.connections
        ]
        self.checks = [
            CheckRow(at=when(c.checked_at), ok=c.ok, down=", ".join(c.down)) for c in found.checks
        ]
        self.incidents = [
            IncidentRow(
                what=f"{i.label} ({i.component})",
                error=i.error,
                started=when(i.started_at),
                resolved=when(i.resolved_at) if i.resolved_at else "still down",
                notified=_notified(i),
            )
            for i in found.incidents
        ]
        self.unheld = [h.name for h in found.unheld]

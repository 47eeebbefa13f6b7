"""The System status page: what engine/services/system_status.gather sees, as rows.

Anyone signed in may look (the service says viewers and up); nothing here changes. What
is down is said in words first (what, since when, why); the clients' raw texts stay one
click away ("Details"). A database that cannot be reached is said so too, instead of the
page failing with the driver's traceback.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import reflex as rx
import sqlalchemy as sa
from pydantic import BaseModel

from engine.db import session_scope
from engine.models import utcnow
from engine.services import auth, system_status
from engine.services.outages import explain_outage, raw_detail
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


class ProblemRow(BaseModel):
    what: str
    since: str
    cause: str
    detail: str


class ConnectionRow(BaseModel):
    name: str
    kind: str
    status: str
    connected: bool
    last_event: str
    cause: str  # the error in words ("" without one)
    error: str  # the client's own words, behind Details


class CheckRow(BaseModel):
    at: str
    ok: bool
    down: str


class IncidentRow(BaseModel):
    what: str
    cause: str
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
    return f"{found.latency_ms} ms" if found.ok else "unreachable (see above)"


def _since(problem: system_status.Problem) -> str:
    if problem.since is None:
        return "seen now (no health check has recorded it yet)"
    return f"down since {when(problem.since)}"


def _age(seconds: float | None) -> str:
    """The oldest message's age, readable ("—": the queue is empty)."""
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


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
    problems: list[ProblemRow] = []
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
        except sa.exc.OperationalError as exc:  # the database itself cannot be reached
            self._database_down(raw_detail(exc))
            return
        self.error = ""
        self._show(found)

    def _database_down(self, detail: str) -> None:
        """Only this is known without the database: say it, keep nothing stale."""
        self.error, self.read_at, self.database = "", when(utcnow()), "unreachable (see above)"
        self.problems = [
            ProblemRow(
                what="Database",
                since=f"seen now ({self.read_at})",
                cause=explain_outage("database", detail),
                detail=detail,
            )
        ]
        self.processes, self.queues, self.connections = [], [], []
        self.checks, self.incidents, self.unheld = [], [], []

    def _show(self, found: system_status.SystemStatus) -> None:
        self.mode, self.read_at = found.mode, when(utcnow())
        self.database, self.redis = _reach(found.database), _reach(found.redis)
        self.problems = [
            ProblemRow(what=p.label, since=_since(p), cause=p.cause, detail=p.detail)
            for p in found.problems
        ]
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
        self.queues = [
            QueueRow(
                name=q.name,
                depth=q.depth,
                waiting=q.waiting,
                delayed=q.delayed,
                dead=q.dead_lettered,
                oldest=_age(q.oldest_age_seconds),
            )
            for q in found.queues or []
        ]
        self.connections = [
            ConnectionRow(
                name=c.name,
                kind=c.kind,
                status=c.status,
                connected=c.status == "connected",
                last_event=when(c.last_event_at),
                cause=c.cause,
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
                cause=i.cause,
                error=i.error,
                started=when(i.started_at),
                resolved=when(i.resolved_at) if i.resolved_at else "still down",
                notified=_notified(i),
            )
            for i in found.incidents
        ]
        self.unheld = [h.name for h in found.unheld]

"""The periodic health check (every ``health_check_minutes``, from the worker's sweep):
records database, Redis, workers, supervisors and each active connection as one
``HealthCheck``, keeps one ``HealthIncident`` open per component while it is down, and
tells admins once when an incident starts and once when it ends
(engine/services/health_settings.py says where).

A notice is claimed by a conditional UPDATE of its ``notified_*_at`` before it is sent,
so two checks running at once never send it twice; a notice that fails is released with
its error on the incident and tried again at the next check, for ``RETRY_WINDOW``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from dramatiq.brokers.redis import RedisBroker
from redis.exceptions import RedisError
from sqlmodel import Session, col, select

from engine import heartbeats
from engine.broker import get_broker
from engine.db import get_engine, session_scope
from engine.models import ConnectionStatus
from engine.models.health import HealthCheck, HealthIncident, ProcessHeartbeat
from engine.nodes.utility import as_utc
from engine.services import health_settings
from engine.services.outages import raw_detail
from engine.services.system_status import (
    STATUS_ONLY,
    connection_states,
    incident_cause,
    last_event_times,
    unheld_instances,
)
from engine.settings import get_settings

log = logging.getLogger(__name__)
DETAIL_CHARS = 200  # of the client's raw error in a notice; System status shows it all

RETRY_WINDOW = timedelta(days=1)
KEEP_CHECKS = timedelta(days=30)


def period_ms() -> int:
    """How often the check runs (the ``health_check_minutes`` setting)."""
    return int(get_settings().health_check_minutes * 60_000)


@dataclass(frozen=True)
class ComponentResult:
    component: str  # "database", "redis", "workers", "supervisors", "connection:<id>"
    label: str
    ok: bool
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)


async def run_check(now: datetime) -> HealthCheck:
    """One check: record it, open and resolve incidents, send the notices due."""
    with session_scope() as session:
        results = _components(session, now)
        check = HealthCheck(
            checked_at=now, ok=all(r.ok for r in results), results=[asdict(r) for r in results]
        )
        session.add(check)
        _track_incidents(session, results, now)
        session.execute(
            sa.delete(HealthCheck).where(col(HealthCheck.checked_at) < now - KEEP_CHECKS)
        )
    heartbeats.prune(now)
    await send_due_notices(now)
    return check


def _components(session: Session, now: datetime) -> list[ComponentResult]:
    session.execute(sa.text("SELECT 1"))  # a database that fails here fails the whole check
    found = [ComponentResult("database", "Database", True)]
    broker = get_broker()
    if isinstance(broker, RedisBroker):
        try:
            broker.client.ping()
            found.append(ComponentResult("redis", "Redis", True))
        except RedisError as exc:
            found.append(ComponentResult("redis", "Redis", False, raw_detail(exc)))
    beats = session.exec(
        select(ProcessHeartbeat).where(
            col(ProcessHeartbeat.heartbeat_at) >= now - heartbeats.ALIVE_WITHIN
        )
    ).all()
    workers = sum(b.kind == "worker" for b in beats)
    found.append(
        ComponentResult(
            "workers", "Workers", workers > 0, "" if workers else "no worker process is beating",
            {"alive": workers},
        )
    )  # fmt: skip
    unheld = [held.name for held in unheld_instances(session)]
    found.append(
        ComponentResult(
            "supervisors",
            "Connector supervisors",
            not unheld,
            f"no live supervisor holds {', '.join(unheld)}" if unheld else "",
            {"alive": sum(b.kind == "supervisor" for b in beats)},
        )
    )
    for state in connection_states(session, last_event_times(beats)):
        up = connection_up(state.status, state.last_error)
        found.append(
            ComponentResult(
                f"connection:{state.connection_id}",
                state.name,
                up,
                "" if up else (state.last_error or f"{STATUS_ONLY}{state.status}"),
                {"status": state.status, "last_event_at": state.last_event_at},
            )
        )
    return found


def connection_up(status: str, last_error: str | None) -> bool:
    """Connected, or still connecting for the first time (a start or a restart is not an
    incident); connecting again after a failure keeps its error, and counts as down."""
    return status == ConnectionStatus.connected or (
        status == ConnectionStatus.connecting and not last_error
    )


def _track_incidents(session: Session, results: list[ComponentResult], now: datetime) -> None:
    open_ones = {
        i.component: i
        for i in session.exec(
            select(HealthIncident).where(col(HealthIncident.resolved_at).is_(None))
        ).all()
    }
    seen = set()
    for result in results:
        seen.add(result.component)
        incident = open_ones.get(result.component)
        if not result.ok and incident is None:
            session.add(
                HealthIncident(
                    component=result.component,
                    label=result.label[:200],
                    error=result.error,
                    started_at=now,
                )
            )
        elif result.ok and incident is not None:
            incident.resolved_at = now
            session.add(incident)
    for component, incident in open_ones.items():
        if component not in seen:  # a connection paused or deleted: nothing is down now
            incident.resolved_at = now
            session.add(incident)


async def send_due_notices(now: datetime) -> int:
    """Send the notices not sent yet (new incidents, recoveries of notified ones); how
    many went through."""
    with session_scope() as session:
        channel = health_settings.load_channel(session)
        if channel is None:
            return 0
        since = now - RETRY_WINDOW
        down = session.exec(
            select(HealthIncident.id).where(
                col(HealthIncident.resolved_at).is_(None),
                col(HealthIncident.notified_down_at).is_(None),
                col(HealthIncident.started_at) >= since,
            )
        ).all()
        up = session.exec(
            select(HealthIncident.id).where(
                col(HealthIncident.resolved_at) >= since,
                col(HealthIncident.notified_down_at).is_not(None),
                col(HealthIncident.notified_up_at).is_(None),
            )
        ).all()
    sent = 0
    for incident_id in down:
        sent += await _notify(incident_id, channel, "notified_down_at", now)
    for incident_id in up:
        sent += await _notify(incident_id, channel, "notified_up_at", now)
    return sent


async def _notify(
    incident_id: int | None, channel: health_settings.Channel, stamp: str, now: datetime
) -> bool:
    column = getattr(HealthIncident, stamp)
    with get_engine().begin() as conn:
        claimed = conn.execute(
            sa.update(HealthIncident)
            .where(col(HealthIncident.id) == incident_id, col(column).is_(None))
            .values({stamp: now})
        )
        if claimed.rowcount != 1:  # another check sends it
            return False
    with session_scope() as session:
        incident = session.get(HealthIncident, incident_id)
        if incident is None:
            return False
        down = incident.resolved_at is None  # a recovery says how long, not why
        cause = incident_cause(session, incident.component, incident.error) if down else ""
        text = notice_text(incident, cause)
        try:
            await health_settings.send_notice(
                session, channel, text, f"health:{incident_id}:{stamp}"
            )
        except health_settings.NoticeFailed as failed:
            log.warning("health notice for %s not sent: %s", incident.component, failed)
            session.execute(
                sa.update(HealthIncident)
                .where(col(HealthIncident.id) == incident_id)
                .values({stamp: None, "notify_error": str(failed)[:2000]})
            )
            return False
        session.execute(
            sa.update(HealthIncident)
            .where(col(HealthIncident.id) == incident_id)
            .values(notify_error=None)
        )
    return True


def notice_text(incident: HealthIncident, cause: str) -> str:
    """Plain text (names are data, never markup): what, since when, why in words (``cause``,
    as System status says it; a recovery has none), and the client's own text as a short
    detail."""
    what = f"{incident.label} ({incident.component})"
    started = as_utc(incident.started_at).strftime("%Y-%m-%d %H:%M UTC")
    if incident.resolved_at is None:
        detail = " ".join(incident.error.split())
        if len(detail) > DETAIL_CHARS:
            detail = detail[: DETAIL_CHARS - 1] + "…"
        lines = [f"Flowbot: {what} is DOWN since {started}.", cause]
        return "\n".join(lines + ([f"Detail: {detail}"] if detail else []))
    minutes = max(
        1, round((as_utc(incident.resolved_at) - as_utc(incident.started_at)).total_seconds() / 60)
    )
    return f"Flowbot: {what} is back up after {minutes} min (down since {started})."

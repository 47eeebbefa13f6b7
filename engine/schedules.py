"""Starts flows whose trigger is ``schedule``: a sweep every ``SWEEP_SECONDS`` fires each
active flow whose most recent due time has just passed.

Only a due time of the last ``CATCH_UP`` is fired, and never one before the published
version existed: after downtime (no worker sweeping) the missed runs are skipped, not
replayed in a burst, and the schedule goes on from its next due time. Each run is an
execution under the idempotency key ``schedule:<flow>:<due time>``, so several workers
sweeping at once (or one sweeping twice) create it once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from pydantic import ValidationError
from sqlmodel import Session, col, select

from engine import runtime
from engine.db import primary_key, session_scope
from engine.models import ExecutionStatus, FlowDefinition, FlowExecution, FlowStatus, FlowVersion
from engine.nodes.triggers import ScheduleTrigger
from engine.nodes.utility import as_utc
from engine.platform_event import PlatformEvent
from engine.settings import get_settings

log = logging.getLogger(__name__)

SWEEP_SECONDS = 15.0  # the worker's timer period: the resolution of every schedule
# Two periods: a late or lost tick is made up by the next one, a longer outage is not.
CATCH_UP = timedelta(seconds=2 * SWEEP_SECONDS)

# (database, version id, created at): SQLite may reuse the id of a deleted version.
VersionKey = tuple[str, int, datetime]


@dataclass(frozen=True)
class Schedule:
    """The schedule trigger of an active flow's published version."""

    flow_id: int
    version_id: int
    published_at: datetime  # aware UTC; also the anchor of interval schedules
    params: ScheduleTrigger


def due_time(params: ScheduleTrigger, anchor: datetime, now: datetime) -> datetime | None:
    """The most recent due time at or before ``now``, in the trigger's time zone; None if
    an interval schedule has not completed its first interval since ``anchor``."""
    zone = ZoneInfo(params.timezone)
    if params.cron is not None:
        # croniter's get_prev is strictly before its start: a microsecond on includes ``now``.
        start = now.astimezone(zone) + timedelta(microseconds=1)
        previous: datetime = croniter(params.cron, start).get_prev(datetime)
        return previous
    assert params.interval_seconds is not None
    periods = (now - anchor) // timedelta(seconds=params.interval_seconds)
    if periods < 1:
        return None
    return (anchor + periods * timedelta(seconds=params.interval_seconds)).astimezone(zone)


def should_fire(due: datetime | None, published_at: datetime, now: datetime) -> bool:
    return due is not None and published_at <= due <= now and now - due <= CATCH_UP


def fire_due_schedules(now: datetime) -> list[int]:
    """Create the executions due at ``now``; the ids of the ones this call created."""
    now = as_utc(now)
    created: list[int] = []
    with session_scope() as session:
        for schedule in active_schedules(session):
            due = due_time(schedule.params, schedule.published_at, now)
            if due is None or not should_fire(due, schedule.published_at, now):
                continue
            execution_id = _create(session, schedule, due)
            if execution_id is not None:
                created.append(execution_id)
    return created


def _create(session: Session, schedule: Schedule, due: datetime) -> int | None:
    """The new queued execution's id; None when a sweep already created it. (Two sweeps
    racing past the first check both get the one row; both sending it is harmless.)"""
    key = f"schedule:{schedule.flow_id}:{due.isoformat()}"
    taken = select(FlowExecution.id).where(FlowExecution.idempotency_key == key)
    if session.exec(taken).first() is not None:
        return None
    p = schedule.params
    when = {"cron": p.cron} if p.cron is not None else {"interval_seconds": p.interval_seconds}
    event = PlatformEvent(
        kind="schedule",
        platform="flowbot",
        event_id=key,
        occurred_at=due,
        data={"scheduled_for": due.isoformat(), **when, "timezone": p.timezone},
    )
    execution = runtime.create_execution(
        session,
        schedule.flow_id,
        event.as_trigger(),
        trigger_type="schedule",
        idempotency_key=key,
        version_id=schedule.version_id,
    )
    return execution.id if execution.status == ExecutionStatus.queued else None


# --- which flows run on a schedule --------------------------------------------------------

# Published versions never change: each one's schedule (or None) is parsed once.
_parsed: dict[VersionKey, ScheduleTrigger | None] = {}
_parsed_lock = threading.Lock()


def active_schedules(session: Session) -> list[Schedule]:
    """Schedules of the active flows' published versions, in flow order."""
    active = session.exec(
        select(primary_key(FlowDefinition), primary_key(FlowVersion), FlowVersion.created_at)
        .join(FlowVersion, col(FlowVersion.id) == col(FlowDefinition.published_version_id))
        .where(FlowDefinition.status == FlowStatus.active)
        .order_by(col(FlowDefinition.id))
    ).all()
    database = get_settings().effective_database_url
    keys = {(database, version_id, created_at) for _, version_id, created_at in active}
    with _parsed_lock:
        missing = [version_id for _, version_id, _ in keys - _parsed.keys()]
        if missing:
            rows = session.exec(
                select(primary_key(FlowVersion), FlowVersion.created_at, FlowVersion.graph).where(
                    col(FlowVersion.id).in_(missing)
                )
            ).all()
            for version_id, created_at, graph in rows:
                _parsed[(database, version_id, created_at)] = _schedule_of(version_id, graph)
        for stale in [key for key in _parsed if key[0] == database and key not in keys]:
            del _parsed[stale]
        parsed = dict(_parsed)
    return [
        Schedule(flow_id, version_id, as_utc(created_at), params)
        for flow_id, version_id, created_at in active
        if (params := parsed.get((database, version_id, created_at))) is not None
    ]


def _schedule_of(version_id: int, graph: Mapping[str, Any]) -> ScheduleTrigger | None:
    for node in graph.get("nodes", []):
        if node.get("type") != "schedule":
            continue
        try:
            return ScheduleTrigger.model_validate(node.get("params") or {})
        except ValidationError as exc:
            log.warning("flow version %s: schedule ignored: %s", version_id, exc)
    return None

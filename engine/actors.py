"""Dramatiq actors: route an event to the flows it starts, run executions, resume delays,
fire schedules and deliver scheduled messages.

Delivery is at least once (a worker may die after doing the work but before the
acknowledgement), so every actor is safe to run twice: ``route_event`` creates
executions under an idempotency key per (event, flow), and the runtime never repeats a
completed step of ``execute_flow``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import dramatiq
import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import select

from engine import maintenance, runtime, scheduled_messages, schedules
from engine.broker import QUEUE, claim_once, get_broker
from engine.db import session_scope
from engine.models import ExecutionStatus, FlowExecution, utcnow
from engine.platform_event import PlatformEvent
from engine.settings import get_settings
from engine.trigger_index import TriggerIndex

log = logging.getLogger(__name__)

broker = get_broker()  # installed globally: the actors below are declared on it
trigger_index = TriggerIndex(session_scope)

# An event not routed within an hour is stale: starting flows for it then would surprise.
EVENT_MAX_AGE_MS = 3_600_000
# Above the runtime's wall-clock budget, so the runtime, not the middleware, stops a flow.
EXECUTION_TIME_LIMIT_MS = int(get_settings().max_seconds * 1000) + 60_000
# Redis refuses delays of 7 days or more; a longer wait wakes up early and parks again.
MAX_DELAY_MS = 6 * 24 * 3_600_000
# A waiting execution this late was lost by its broker (embedded restart, flushed Redis).
# A queued execution this old has lost its message.
QUEUED_GRACE = timedelta(minutes=5)
OVERDUE_GRACE = timedelta(seconds=30)
SWEEP_BATCH = 500
T = TypeVar("T")
UNFINISHED = (ExecutionStatus.queued, ExecutionStatus.running, ExecutionStatus.waiting)


@dramatiq.actor(queue_name=QUEUE, max_age=EVENT_MAX_AGE_MS, throws=(ValidationError,))
def route_event(event: dict) -> None:
    """Create one execution per matching published active flow and run each."""
    parsed = PlatformEvent.model_validate(event)
    for execution_id in start_executions(parsed):
        execute_flow.send(execution_id)
    maintenance.record_event(parsed)


def start_executions(event: PlatformEvent) -> list[int]:
    """The executions ``event`` starts; a redelivered event finds the ones it created."""
    queued: list[int] = []
    entries = trigger_index.lookup(event)
    if not entries:
        return queued
    trigger = event.as_trigger()
    with session_scope() as session:
        for entry in entries:
            execution = runtime.create_execution(
                session,
                entry.flow_id,
                trigger,
                trigger_type=event.kind,
                idempotency_key=f"{event.event_id}:{entry.flow_id}",
                version_id=entry.version_id,
            )
            if execution.status == ExecutionStatus.queued:
                queued.append(execution.id)
    return queued


@dramatiq.actor(queue_name=QUEUE, time_limit=EXECUTION_TIME_LIMIT_MS)
def execute_flow(execution_id: int) -> None:
    """Run (or resume) an execution; a durable delay comes back as a delayed message."""
    outcome = _run(runtime.run_execution(execution_id))
    if outcome.status == ExecutionStatus.waiting and outcome.resume_at is not None:
        schedule_resume(execution_id, outcome.resume_at)


def schedule_resume(execution_id: int, resume_at: datetime) -> None:
    """Send one delayed ``execute_flow`` for this wake-up, however many messages ask."""
    resume_at = _aware(resume_at)
    delay_ms = int(max(0.0, (resume_at - utcnow()).total_seconds() * 1000))
    delay_ms = min(delay_ms, MAX_DELAY_MS)
    if claim_once(f"resume:{execution_id}:{resume_at.isoformat()}", delay_ms + 3_600_000):
        execute_flow.send_with_options(args=(execution_id,), delay=delay_ms)


@dramatiq.actor(queue_name=QUEUE, max_retries=0, max_age=60_000)
def resume_waiting() -> None:
    """Safety net: wake waiting executions whose resume time is long past, and send again
    queued ones whose message was lost (a web process that died between commit and send).
    Sending twice is harmless: completed steps are replayed, never repeated."""
    now = utcnow()
    for execution_id in overdue_executions(now - OVERDUE_GRACE, now - QUEUED_GRACE):
        execute_flow.send(execution_id)


@dramatiq.actor(queue_name=QUEUE, max_retries=0, max_age=60_000)
def fire_schedules() -> None:
    """Start the flows whose schedule is due (see engine/schedules.py); a lost tick is
    made up by the next one, so this is not retried."""
    for execution_id in schedules.fire_due_schedules(utcnow()):
        execute_flow.send(execution_id)


@dramatiq.actor(queue_name=QUEUE, max_retries=0, max_age=60_000)
def deliver_scheduled_messages() -> None:
    """Send the scheduled messages that are due (see engine/scheduled_messages.py)."""
    _run(scheduled_messages.deliver_due_messages(utcnow()))


@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def prune_history() -> None:
    """Daily: drop expired sample events and old finished executions (engine/maintenance.py).
    Each batch commits, so a retry or the next day's run carries on where this one stopped."""
    log.info("pruned %s", maintenance.prune_flow_events(utcnow()))


@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def snapshot_communities(day: str) -> None:
    """Daily: every community's analytics for ``day`` (ISO date); re-running replaces them."""
    maintenance.snapshot_analytics(date.fromisoformat(day))


def overdue_executions(resume_before: datetime, queued_before: datetime) -> list[int]:
    with session_scope() as session:
        return list(
            session.exec(
                select(FlowExecution.id)
                .where(
                    sa.or_(
                        sa.and_(
                            FlowExecution.status == ExecutionStatus.waiting,
                            FlowExecution.resume_at <= resume_before,
                        ),
                        sa.and_(
                            FlowExecution.status == ExecutionStatus.queued,
                            FlowExecution.started_at <= queued_before,
                        ),
                    )
                )
                .order_by(FlowExecution.id)
                .limit(SWEEP_BATCH)
            ).all()
        )


def recover_orphans() -> int:
    """Embedded start: the in-memory queue died with the last process; resend every
    unfinished execution (waiting ones reschedule themselves)."""
    with session_scope() as session:
        ids = session.exec(
            select(FlowExecution.id).where(FlowExecution.status.in_(UNFINISHED))
        ).all()
    for execution_id in ids:
        execute_flow.send(execution_id)
    return len(ids)


# --- one event loop per worker thread ------------------------------------------------------

_local = threading.local()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on this thread's own loop, kept across messages so the runtime's
    per-loop clients (HTTP to the pool) are reused rather than reopened per message."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coro)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

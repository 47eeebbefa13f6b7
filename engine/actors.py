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
import time
from collections.abc import Coroutine, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import dramatiq
import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, select

from engine import maintenance, runtime, scheduled_messages, schedules
from engine.broker import QUEUE, claim_once, get_broker, pending_messages
from engine.db import session_scope
from engine.execution_store import ExecutionNotFound
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
OVERDUE_GRACE = timedelta(seconds=30)
# With Redis, a queued execution this old with no message in Redis lost it (Redis came
# back empty, a process died between commit and send); the grace covers commit-to-send.
LOST_AFTER = timedelta(seconds=10)
# How long a message waits for the row of an execution being committed as it was sent.
UNCOMMITTED_WAIT = timedelta(seconds=5)
# In-process, the queue cannot be asked: a queued execution this old has lost its message.
QUEUED_GRACE = timedelta(minutes=5)
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
    """The executions ``event`` starts, to be sent. A redelivered event finds the ones it
    created and sends none of them again: their first message (or the sweep of lost
    messages) runs them, and a second one could run an execution twice at once."""
    queued: list[int] = []
    entries = trigger_index.lookup(event)
    if not entries:
        return queued
    trigger = event.as_trigger()
    keys = {entry.flow_id: f"{event.event_id}:{entry.flow_id}" for entry in entries}
    with session_scope() as session:
        existing = known_keys(session, keys.values())
        for entry in entries:
            execution = runtime.create_execution(
                session,
                entry.flow_id,
                trigger,
                trigger_type=event.kind,
                idempotency_key=keys[entry.flow_id],
                version_id=entry.version_id,
            )
            if keys[entry.flow_id] not in existing and execution.status == ExecutionStatus.queued:
                queued.append(execution.id)
    return queued


def known_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these idempotency keys already name an execution (created earlier)."""
    query = select(FlowExecution.idempotency_key).where(FlowExecution.idempotency_key.in_(keys))
    return {key for key in session.exec(query).all() if key is not None}


@dramatiq.actor(queue_name=QUEUE, time_limit=EXECUTION_TIME_LIMIT_MS)
def execute_flow(execution_id: int) -> None:
    """Run (or resume) an execution; a durable delay comes back as a delayed message.

    A message can arrive before the row it names is committed (``launch`` sends inside
    its transaction), so a missing row is waited for; one that never appears belonged to
    a request that was refused and rolled back, and there is nothing to run."""
    try:
        outcome = _run(runtime.run_execution(execution_id))
    except ExecutionNotFound:
        if not _appears(execution_id):
            log.warning("execution %s was never committed: nothing to run", execution_id)
            return
        outcome = _run(runtime.run_execution(execution_id))
    if outcome.status == ExecutionStatus.waiting and outcome.resume_at is not None:
        schedule_resume(execution_id, outcome.resume_at)


def _appears(execution_id: int) -> bool:
    """Whether the execution's row exists, or is committed within ``UNCOMMITTED_WAIT``."""
    deadline = time.monotonic() + UNCOMMITTED_WAIT.total_seconds()
    while True:
        with session_scope() as session:
            if session.get(FlowExecution, execution_id) is not None:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def schedule_resume(execution_id: int, resume_at: datetime) -> None:
    """Send one delayed ``execute_flow`` for this wake-up, however many messages ask."""
    resume_at = _aware(resume_at)
    delay_ms = int(max(0.0, (resume_at - utcnow()).total_seconds() * 1000))
    delay_ms = min(delay_ms, MAX_DELAY_MS)
    if claim_once(f"resume:{execution_id}:{resume_at.isoformat()}", delay_ms + 3_600_000):
        execute_flow.send_with_options(args=(execution_id,), delay=delay_ms)


@dramatiq.actor(queue_name=QUEUE, max_retries=0, max_age=60_000)
def resume_waiting() -> None:
    """Safety net, also run directly by the worker's timer: see :func:`requeue_lost`."""
    requeue_lost(utcnow())


def requeue_lost(now: datetime) -> list[int]:
    """Send again the executions whose message is gone: waiting ones long past their
    resume time, queued ones nobody picked up; the ids sent.

    With Redis only those that have no message there (waiting, delayed or being run), so
    a backlog is never doubled and no execution is run by two workers at once: Redis is
    read first, then the database, so one that ran meanwhile is no longer a candidate.
    That makes the check cheap enough to run every few seconds, and messages lost with
    Redis are sent again as soon as it is back. In-process, where the queue cannot be
    asked, a queued execution counts as lost by age alone.
    """
    resume_before, queued_before = now - OVERDUE_GRACE, now - LOST_AFTER
    if not overdue_executions(resume_before, queued_before):
        return []
    pending = pending_messages()
    if pending is None:
        lost = overdue_executions(resume_before, now - QUEUED_GRACE)
    else:
        name = execute_flow.actor_name
        held = {m.args[0] for m in pending if m.actor_name == name and m.args}
        lost = [i for i in overdue_executions(resume_before, queued_before) if i not in held]
    for execution_id in lost:
        execute_flow.send(execution_id)
    if lost:
        log.info("sent again %d executions whose message was lost", len(lost))
    return lost


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

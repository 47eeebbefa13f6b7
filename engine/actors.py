"""Dramatiq actors: route an event to the flows it starts, run executions, resume delays,
fire schedules and deliver scheduled messages.

Delivery is at least once (a worker may die after doing the work but before the
acknowledgement), so every actor is safe to run twice: ``route_event`` creates
executions under an idempotency key per (event, flow), and the runtime never repeats a
completed step of ``execute_flow``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dramatiq
import sqlalchemy as sa
from dramatiq.broker import MessageProxy
from pydantic import ValidationError
from sqlmodel import Session, col, select

from engine import (
    community_events,
    cross_post_delivery,
    health_check,
    maintenance,
    runtime,
    scheduled_messages,
    schedules,
)
from engine.broker import EXECUTE_FLOW, QUEUE, claim_once, get_broker, pending_messages
from engine.db import primary_key, saved_id, session_scope
from engine.execution_events import announce_status
from engine.execution_store import ExecutionMissing, interrupt_running_steps
from engine.models import ExecutionStatus, FlowExecution, utcnow
from engine.models.flows import UNFINISHED
from engine.platform_event import PlatformEvent
from engine.settings import get_settings
from engine.thread_loop import drop_thread_loop, run_on_thread_loop
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
FIRST_UNCOMMITTED_PAUSE, LAST_UNCOMMITTED_PAUSE = 0.002, 0.05
# In-process, the queue cannot be asked: a queued execution this old has lost its message.
QUEUED_GRACE = timedelta(minutes=5)
SWEEP_BATCH = 500


@dramatiq.actor(queue_name=QUEUE, max_age=EVENT_MAX_AGE_MS, throws=(ValidationError,))
def route_event(event: dict[str, Any]) -> None:
    """Create one execution per matching published active flow and run each."""
    parsed = PlatformEvent.model_validate(event)
    for execution_id in start_executions(parsed):
        # Two deliveries of one event routed at once may both think they created it.
        if claim_once(f"send:{execution_id}", SEND_CLAIM_MS):
            execute_flow.send(execution_id)
    community_events.handle(parsed)  # never raises: best effort, like the sample below
    cross_post_delivery.handle(parsed)  # never raises either
    maintenance.record_event(parsed)


# How long routing remembers it sent an execution; a message lost after that is the
# lost-message sweep's to send again.
SEND_CLAIM_MS = 3_600_000


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
                queued.append(saved_id(execution))
    return queued


def known_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these idempotency keys already name an execution (created earlier)."""
    query = select(col(FlowExecution.idempotency_key)).where(
        col(FlowExecution.idempotency_key).in_(keys)
    )
    return {key for key in session.exec(query).all() if key is not None}


@dramatiq.actor(actor_name=EXECUTE_FLOW, queue_name=QUEUE, time_limit=EXECUTION_TIME_LIMIT_MS)
def execute_flow(execution_id: int) -> None:
    """Run (or resume) an execution; a durable delay comes back as a delayed message."""
    outcome = _run_once_committed(execution_id)
    if outcome is None:
        log.warning("execution %s was never committed: nothing to run", execution_id)
        return
    if outcome.status == ExecutionStatus.waiting and outcome.resume_at is not None:
        schedule_resume(execution_id, outcome.resume_at)


def _run_once_committed(execution_id: int) -> runtime.ExecutionOutcome | None:
    """The run, once the row exists; None if it is not committed within UNCOMMITTED_WAIT.

    A message can arrive before the row it names is committed (``launch`` sends inside
    its transaction, and commits a moment later), so a missing row is tried again after
    pauses growing from 2 ms to 50 ms; one that never appears belonged to a request that
    was refused and rolled back, and there is nothing to run."""
    deadline = time.monotonic() + UNCOMMITTED_WAIT.total_seconds()
    pause = FIRST_UNCOMMITTED_PAUSE
    while True:
        try:
            return run_on_thread_loop(runtime.run_execution(execution_id))
        except ExecutionMissing:
            if time.monotonic() >= deadline:
                return None
        time.sleep(pause)
        pause = min(pause * 2, LAST_UNCOMMITTED_PAUSE)


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
    run_on_thread_loop(scheduled_messages.deliver_due_messages(utcnow()))


@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def prune_history() -> None:
    """Daily: drop expired sample events and old finished executions (engine/maintenance.py).
    Each batch commits, so a retry or the next day's run carries on where this one stopped."""
    log.info("pruned %s", maintenance.prune_flow_events(utcnow()))


@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def snapshot_communities(day: str) -> None:
    """Daily: every community's analytics for ``day`` (ISO date); re-running replaces them."""
    maintenance.snapshot_analytics(date.fromisoformat(day))


@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def rollup_flow_stats(day: str) -> None:
    """Daily: every flow's executions of ``day`` (ISO date) as one row, so analytics outlive
    the 30 days executions are kept; re-running replaces them."""
    maintenance.rollup_flow_stats(date.fromisoformat(day))


@dramatiq.actor(queue_name=QUEUE, max_retries=0, max_age=60_000)
def check_health() -> None:
    """Every ``health_check_minutes`` (engine/health_check.py). Of two runs at once (a
    message delivered twice, two sweeps), the claim lets one through; a lost run is made
    up by the next period's."""
    if claim_once("health-check:run", health_check.period_ms() // 2):
        run_on_thread_loop(health_check.run_check(utcnow()))


def overdue_executions(resume_before: datetime, queued_before: datetime) -> list[int]:
    with session_scope() as session:
        return list(
            session.exec(
                select(primary_key(FlowExecution))
                .where(
                    sa.or_(
                        sa.and_(
                            col(FlowExecution.status) == ExecutionStatus.waiting,
                            col(FlowExecution.resume_at) <= resume_before,
                        ),
                        sa.and_(
                            col(FlowExecution.status) == ExecutionStatus.queued,
                            col(FlowExecution.started_at) <= queued_before,
                        ),
                    )
                )
                .order_by(col(FlowExecution.id))
                .limit(SWEEP_BATCH)
            ).all()
        )


def recover_orphans() -> int:
    """Embedded start: the in-memory queue died with the last process; resend every
    unfinished execution (waiting ones reschedule themselves)."""
    with session_scope() as session:
        ids = session.exec(
            select(primary_key(FlowExecution)).where(col(FlowExecution.status).in_(UNFINISHED))
        ).all()
    for execution_id in ids:
        execute_flow.send(execution_id)
    return len(ids)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- a message that hit its time limit twice ------------------------------------------------

# How long the first time-out of an execution is remembered (retries back off up to 5 min).
TIMEOUT_MEMORY_MS = 24 * 3_600_000
TIMED_OUT_TWICE = (
    f"stopped: the execution hit the worker's time limit of {EXECUTION_TIME_LIMIT_MS // 1000:,} s"
    " twice (something in it could not be interrupted), so it is not retried again"
)


class TimeLimitedTwice(dramatiq.Middleware):
    """Dead-letters an ``execute_flow`` message whose execution hit the time limit twice.

    The time limit interrupts a worker thread only between Python bytecodes, so whatever
    outlived it (a C-level operation, a blocking call) would stall the next worker just
    the same: retrying it up to MAX_RETRIES times, or forever when the stalled worker is
    declared dead and its message requeued, freezes every worker in turn. The count is
    kept per execution where all workers see it (Redis, or the process in embedded mode);
    the second time the execution ends ``failed`` with a clear error and the message goes
    to the dead-letter queue instead of being retried.
    """

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Start TimeLimit's timer thread if nothing has: Dramatiq starts it on
        ``process_boot``, which its CLI and ``run_process`` emit but the embedded worker
        does not, so without this no time limit would ever fire in embedded mode."""
        for middleware in broker.middleware:
            timer = getattr(middleware, "manager", None)
            if isinstance(middleware, dramatiq.middleware.TimeLimit) and (
                isinstance(timer, threading.Thread) and timer.ident is None
            ):
                timer.start()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if message.actor_name != execute_flow.actor_name or not isinstance(
            exception, dramatiq.middleware.TimeLimitExceeded
        ):
            return
        drop_thread_loop()  # the interrupt may have left tasks of the stopped run on it
        execution_id = int(message.args[0])
        if claim_once(f"timed-out:{execution_id}", TIMEOUT_MEMORY_MS):
            log.warning("execution %s hit its time limit; retrying once", execution_id)
            return
        log.error("execution %s hit its time limit twice; not retried", execution_id)
        fail_timed_out(execution_id)
        message.options["max_retries"] = 0  # Retries, next in line, fails the message


def fail_timed_out(execution_id: int) -> None:
    """End an unfinished execution as failed with TIMED_OUT_TWICE, and tell its watchers."""
    with session_scope() as session:
        execution = session.get(FlowExecution, execution_id)
        if execution is None or execution.status not in UNFINISHED:
            return
        interrupt_running_steps(session.connection(), execution_id, TIMED_OUT_TWICE)
        execution.status = ExecutionStatus.failed
        execution.error = TIMED_OUT_TWICE
        execution.resume_at = None
        execution.finished_at = utcnow()
        flow_id = execution.flow_id
    announce_status(execution_id, flow_id, ExecutionStatus.failed, TIMED_OUT_TWICE)


if not any(isinstance(m, TimeLimitedTwice) for m in broker.middleware):
    # "after" hooks run in reverse order: placed after Retries, it sees the message first.
    broker.add_middleware(TimeLimitedTwice(), after=dramatiq.middleware.Retries)

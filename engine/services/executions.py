"""Starting executions from outside the workers (webhooks, REST, the editor) and waiting
for them to finish.

An execution is created and its ``execute_flow`` message sent in one transaction (see
:func:`launch`): when the database or the broker is down the caller gets
:class:`Unavailable` with nothing recorded, never an execution that runs later anyway.
A caller retrying with the same idempotency key gets the same execution back, not sent
again (its first message, or the workers' sweep of lost messages, runs it).

Reading executions (filtered lists, one with its steps) and cancelling one live here too,
for the debugger and the REST API alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dramatiq
import redis
import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine import actors, execution_store
from engine.db import get_engine, primary_key, saved_id, session_scope, table_of
from engine.execution_events import announce_status, expect_end, follow_ends, forget_end
from engine.execution_store import TERMINAL as TERMINAL  # the service's face of the rule
from engine.execution_store import interrupt_running_steps
from engine.models import (
    AdminUser,
    ExecutionStatus,
    FlowDefinition,
    FlowExecution,
    FlowExecutionStep,
    FlowStatus,
    FlowVersion,
    Role,
    utcnow,
)
from engine.models.flows import UNFINISHED
from engine.platform_event import PlatformEvent
from engine.redaction import public
from engine.services import audit
from engine.services.auth import require_role
from engine.services.errors import Conflict, NotFound
from engine.services.flows import FlowError, valid_draft
from engine.settings import get_settings

MAX_WAIT_SECONDS = 60.0
# The bus says when an execution ended; it is best effort, so the row is also read this often.
POLL_SECONDS = 0.5
# How long a waiter waits for the bus subscription that brings other processes' ends.
FOLLOW_START_SECONDS = 2.0
TEST_RUN_NOTE = "editor test run"


# How long a caller told Unavailable (HTTP 503) should wait before trying again.
RETRY_AFTER_SECONDS = 5
# What an outage of the database or the broker raises.
UNREACHABLE: tuple[type[Exception], ...] = (
    sa.exc.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    dramatiq.errors.BrokerConnectionError,
)

log = logging.getLogger(__name__)


class NotRunnable(ValueError):
    """The flow cannot run now, with a message fit to show the caller."""


class Unavailable(RuntimeError):
    """The database or the broker cannot be reached; nothing was started."""


class UnknownExecution(NotFound):
    """No execution has that id."""


class AlreadyFinished(Conflict):
    """The execution has ended: there is nothing left to cancel."""


_FLOWS = table_of(FlowDefinition)
# Three columns, not the flow with its draft graph: read on every start (issue 15).
_RUNNABLE = sa.select(_FLOWS.c.name, _FLOWS.c.published_version_id, _FLOWS.c.status).where(
    _FLOWS.c.id == sa.bindparam("flow_id")
)


def runnable_version(session: Session, flow_id: int) -> int:
    """The published version of an active flow, else NotRunnable."""
    flow = session.connection().execute(_RUNNABLE, {"flow_id": flow_id}).first()
    if flow is None:
        raise NotRunnable(f"Flow {flow_id} does not exist.")
    name, version_id, status = flow
    if version_id is None:
        raise NotRunnable(f"Flow {name!r} is not published yet: publish it first.")
    if status != FlowStatus.active:
        raise NotRunnable(f"Flow {name!r} is {status}: activate it to run it.")
    return int(version_id)


def draft_snapshot(session: Session, flow_id: int) -> int:
    """A frozen copy of the current draft for a test run, as a FlowVersion numbered <= 0.

    Executions always run an immutable version (a delayed step resumes the graph it
    started with), so a draft run freezes the draft too; negative numbers keep test
    snapshots out of the published numbering. An unchanged draft reuses its snapshot.
    """
    try:
        flow = valid_draft(session, flow_id)
    except FlowError as exc:
        raise NotRunnable(str(exc)) from None
    last = session.exec(
        select(FlowVersion)
        .where(FlowVersion.flow_id == flow_id, FlowVersion.version <= 0)
        .order_by(col(FlowVersion.version))
        .limit(1)
    ).first()
    if last is not None and last.graph == flow.graph:
        return saved_id(last)
    snapshot = FlowVersion(
        flow_id=flow_id,
        version=(last.version if last else 1) - 1,
        graph=flow.graph,
        note=TEST_RUN_NOTE,
        created_by="test-run",
    )
    with session.begin_nested():
        session.add(snapshot)
    return saved_id(snapshot)


def launch(
    flow_id: int,
    event: PlatformEvent,
    *,
    draft: bool = False,
    on_created: Callable[[Session], None] | None = None,
    new_event: bool = False,
    version_id: int | None = None,
) -> int:
    """Create the execution for ``event`` and send it to the workers, in one transaction.

    ``on_created(session)`` runs in the same transaction (webhook call counters).
    ``new_event``: the event id was just made up (no key from the caller), so no earlier
    execution can have it and none is looked for. ``version_id``: the flow's runnable
    version as the caller knows it (the webhook receiver keeps it), else it is read; if
    the row cannot be inserted with it (the flow was deleted meanwhile), the flow is read
    and the launch tried once more. Either
    the execution is recorded and will run, or Unavailable is raised and nothing is
    recorded, so a caller retrying after the refusal starts it once: the message is sent
    before the commit, and a send that fails rolls everything back. A worker faster than
    the commit waits for the row (``engine.actors.execute_flow``); a message whose
    commit then failed finds no row and is dropped.
    """
    try:
        return _launch(flow_id, event, draft, on_created, new_event, version_id)
    except sa.exc.IntegrityError:
        if version_id is None:
            raise
        return _launch(flow_id, event, draft, on_created, new_event, None)


def _launch(
    flow_id: int,
    event: PlatformEvent,
    draft: bool,
    on_created: Callable[[Session], None] | None,
    new_event: bool,
    version_id: int | None,
) -> int:
    key = f"{event.event_id}:{flow_id}"
    try:
        with session_scope() as session:
            if version_id is None:
                version_id = (draft_snapshot if draft else runnable_version)(session, flow_id)
            row: dict[str, Any] = {
                "flow_id": flow_id,
                "trigger": event.as_trigger(),
                "trigger_type": event.kind,
                "idempotency_key": key,
                "version_id": version_id,
            }
            if new_event:
                execution_id = execution_store.insert_new_execution(session, **row)
                queued = True
            else:
                existed = actors.known_keys(session, [key])
                execution = execution_store.create_execution(
                    session, **row, known_new=key not in existed
                )
                session.flush()
                execution_id = saved_id(execution)
                queued = not existed and execution.status == ExecutionStatus.queued
            if on_created is not None:
                on_created(session)
            if queued:
                actors.execute_flow.send(execution_id)
    except UNREACHABLE as exc:
        raise Unavailable("The database or the message broker cannot be reached.") from exc
    return execution_id


_EXECUTIONS = table_of(FlowExecution)
_LOAD = sa.select(_EXECUTIONS).where(_EXECUTIONS.c.id == sa.bindparam("execution_id"))


def load(execution_id: int) -> FlowExecution | None:
    """The execution's row, unattached to any session: a Core statement prepared once (a
    waiting webhook call reads it at its end; an ORM session took twice the CPU, and on
    SQLite switching the connection to autocommit cost more than it saved), made into an
    execution as the run's own load does (``FlowExecution(**row)`` validated it again)."""
    with get_engine().connect() as connection:
        row = connection.execute(_LOAD, {"execution_id": execution_id}).mappings().first()
    return None if row is None else execution_store.loaded_execution(dict(row))


async def wait_for_finish(execution_id: int, timeout: float) -> FlowExecution | None:
    """The execution once it has finished, or as it is when ``timeout`` runs out; None if
    it cannot be read (deleted, or an outage: the caller answers "accepted, running")."""
    try:
        return await _wait_for_finish(execution_id, timeout)
    except UNREACHABLE + (TimeoutError,):
        log.warning("stopped waiting for execution %s: an outage", execution_id, exc_info=True)
        return None


async def _wait_for_finish(execution_id: int, timeout: float) -> FlowExecution | None:
    """The row once its end is announced (steps wake nobody here), or read every
    POLL_SECONDS in case the announcement was lost. Embedded, the run announces its end in
    this process, which remembers it: the row is read once, at the end. Scaled, the end
    comes through this loop's one subscription to every end (``follow_ends``), and the run
    may have ended before it: the row is read at once too."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(max(timeout, 0.0), MAX_WAIT_SECONDS)
    ended = expect_end(execution_id)
    try:
        embedded = get_settings().is_embedded_broker
        if not embedded:
            await follow_ends(FOLLOW_START_SECONDS)
        read_now = not embedded or ended.done()
        execution: FlowExecution | None = None
        while True:
            if read_now:
                execution = await _read(execution_id)
                if execution is None or execution.status in TERMINAL:
                    return execution
            remaining = deadline - loop.time()
            if remaining <= 0:
                return execution if read_now else await _read(execution_id)
            if ended.done():  # announced, yet the row said otherwise: poll from now on
                forget_end(execution_id, ended)
                ended = expect_end(execution_id, announced_counts=False)
            await asyncio.wait({ended}, timeout=min(POLL_SECONDS, remaining))
            read_now = True
    finally:
        forget_end(execution_id, ended)


async def _read(execution_id: int) -> FlowExecution | None:
    """:func:`load` on the event loop for SQLite (in WAL mode a read by primary key waits for
    no writer, and takes less CPU than the hop to a thread and back), else in a thread."""
    if get_engine().dialect.name == "sqlite":
        return load(execution_id)
    return await asyncio.to_thread(load, execution_id)


def execution_view(execution: FlowExecution, *, steps: bool = False) -> dict[str, Any]:
    """The JSON the API answers with; the steps only when asked. Secrets are redacted
    as stored (engine/redaction.py), and their sealed originals left out."""
    view: dict[str, Any] = {
        "execution_id": execution.id,
        "flow_id": execution.flow_id,
        "version_id": execution.version_id,
        "status": str(execution.status),
        "trigger_type": execution.trigger_type,
        "result": public(execution.result),
        "error": execution.error,
        "started_at": _iso(execution.started_at),
        "finished_at": _iso(execution.finished_at),
        "resume_at": _iso(execution.resume_at),
    }
    if steps:
        view["steps"] = [_step_view(step) for step in load_steps(execution.id)]
    return view


def load_steps(execution_id: int | None) -> list[FlowExecutionStep]:
    with session_scope() as session:
        return list(
            session.exec(
                select(FlowExecutionStep)
                .where(FlowExecutionStep.execution_id == execution_id)
                .order_by(sa.asc(col(FlowExecutionStep.seq)))
            ).all()
        )


def _step_view(step: FlowExecutionStep) -> dict[str, Any]:
    return {
        "seq": step.seq,
        "node_id": step.node_id,
        "node_type": step.node_type,
        "status": str(step.status),
        "input": step.input,
        "output": public(step.output),
        "error": step.error,
        "handle": step.handle,
        "started_at": _iso(step.started_at),
        "duration_ms": step.duration_ms,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --------------------------------------------------------------------------- reading


def get_execution(session: Session, execution_id: int) -> FlowExecution:
    execution = session.get(FlowExecution, execution_id)
    if execution is None:
        raise UnknownExecution(f"Execution {execution_id} does not exist.")
    return execution


def executions_query(
    *,
    flow_id: int | None = None,
    status: ExecutionStatus | None = None,
    trigger_type: str | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
) -> Any:
    """Executions matching every filter given (unordered: the caller pages it by id).

    Times without a zone are UTC. Paged by id, newest first, PostgreSQL walks the
    primary key backwards and filters as it goes: with 100,000 executions a page takes
    under 2 ms for any filter, except ``started_before`` far in the past (it walks past
    every newer row first: ~25 ms).
    """
    query = select(FlowExecution)
    if flow_id is not None:
        query = query.where(FlowExecution.flow_id == flow_id)
    if status is not None:
        query = query.where(FlowExecution.status == status)
    if trigger_type is not None:
        query = query.where(FlowExecution.trigger_type == trigger_type)
    if started_after is not None:
        query = query.where(FlowExecution.started_at >= _utc(started_after))
    if started_before is not None:
        query = query.where(FlowExecution.started_at < _utc(started_before))
    return query


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- cancelling


def cancel(session: Session, actor: AdminUser, execution_id: int) -> FlowExecution:
    """Stop an unfinished execution (editors), and the run_flow children of a root.

    A queued or waiting one is stopped at once (its parked step marked interrupted) and
    never runs again. A running one is recorded stopped now; its worker finishes the
    step in flight and starts no other (engine/runtime.py). A finished one: AlreadyFinished.
    """
    require_role(actor, Role.editor)
    execution = get_execution(session, execution_id)
    reason = f"cancelled by {actor.username}"
    tree = sa.or_(
        col(FlowExecution.id) == execution_id, col(FlowExecution.root_execution_id) == execution_id
    )
    found = session.exec(
        select(primary_key(FlowExecution), FlowExecution.flow_id, FlowExecution.status)
        .where(tree, col(FlowExecution.status).in_(UNFINISHED))
        .with_for_update()
    ).all()
    if execution_id not in {row[0] for row in found}:
        session.refresh(execution)
        raise AlreadyFinished(f"Execution {execution_id} has already {execution.status}.")
    session.exec(
        sa.update(FlowExecution)
        .where(col(FlowExecution.id).in_([row[0] for row in found]))
        .values(status=ExecutionStatus.stopped, error=reason, resume_at=None, finished_at=utcnow())
    )
    for row_id, _, status in found:
        if status != ExecutionStatus.running:  # a running step is its worker's to end
            interrupt_running_steps(session.connection(), row_id, f"interrupted: {reason}")
    audit.record(
        session, actor.username, "execution_cancel", target_type="execution", target_id=execution_id
    )
    stopped = [(row_id, flow_id) for row_id, flow_id, _ in found]

    def announce(_: Session) -> None:
        for row_id, flow_id in stopped:
            execution_store.note_cancelled(row_id)  # a run in this process stops at once
            announce_status(row_id, flow_id, ExecutionStatus.stopped, reason)

    sa.event.listen(session, "after_commit", announce, once=True)  # not before: watchers reload
    session.flush()
    session.refresh(execution)
    return execution

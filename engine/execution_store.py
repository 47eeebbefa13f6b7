"""Persistence of executions and their steps, kept apart from the executor's logic.

Every write is its own short transaction, committed before the executor goes on: a
worker that dies leaves exactly the steps it finished as ``succeeded`` and the one it
was in as ``running``, which is what a re-run needs (see engine/runtime.py). For a step
with external effects that ``running`` row is its claim: inserted (never reused) and
committed before the effect, so a redelivery can tell it was started.

Everything written here goes through one :class:`~engine.redaction.Redactor`: secrets
are masked in what viewers read, and sealed where the engine reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_jsonable_python
from sqlmodel import Session, select

from engine.db import session_scope
from engine.models import (
    ExecutionStatus,
    FlowDefinition,
    FlowExecution,
    FlowExecutionStep,
    FlowVersion,
    StepStatus,
    utcnow,
)
from engine.redaction import Redactor

TERMINAL = frozenset({ExecutionStatus.succeeded, ExecutionStatus.failed, ExecutionStatus.stopped})
OUTCOME_UNKNOWN = (
    "outcome unknown after a worker restart; not repeated (this step acts outside Flowbot "
    "and had already been started)"
)


class ExecutionNotFound(LookupError):
    pass


class ExecutionCancelled(RuntimeError):
    """Someone cancelled the execution (its row is ``stopped``): no further step starts."""


class TreeFull(RuntimeError):
    """The trigger's tree of executions has used its execution budget."""


class ClaimTaken(RuntimeError):
    """Another run of the execution had already started this side-effecting step."""

    def __init__(self, step: StepRecord) -> None:
        super().__init__(step.step_key)
        self.step = step


def jsonable(value: Any) -> Any:
    return to_jsonable_python(value, fallback=str)


@dataclass
class StepRecord:
    """A step as the executor sees it; ``id`` is its row."""

    id: int
    seq: int
    step_key: str
    status: StepStatus
    output: dict[str, Any] | None
    error: str | None
    handle: str | None


def _record(row: FlowExecutionStep) -> StepRecord:
    assert row.id is not None
    return StepRecord(
        row.id, row.seq, row.step_key, StepStatus(row.status), row.output, row.error, row.handle
    )


# --------------------------------------------------------------------------- executions


def create_execution(
    session: Session,
    flow_id: int,
    trigger: dict[str, Any],
    *,
    trigger_type: str,
    idempotency_key: str | None = None,
    parent: FlowExecution | None = None,
    version_id: int | None = None,
    max_tree: int | None = None,
) -> FlowExecution:
    """A queued execution of the flow's published version (or ``version_id``).

    With an idempotency key, a second call (a redelivered event, a racing worker) returns
    the row the first one made: the insert runs in a savepoint and a unique violation
    falls back to reading the winner, on SQLite and PostgreSQL alike. A child joins its
    parent's tree (``root_execution_id``); with ``max_tree``, a tree that already holds
    that many executions gets no new one (TreeFull). The trigger is stored sealed.
    """
    if idempotency_key is not None:
        existing = _by_key(session, idempotency_key)
        if existing is not None:
            return existing
    root_id = (parent.root_execution_id or parent.id) if parent else None
    if root_id is not None and max_tree is not None and tree_size(session, root_id) >= max_tree:
        raise TreeFull(
            f"the execution tree ran out of its budget of {max_tree} executions "
            "(FLOWBOT_MAX_TREE_EXECUTIONS)"
        )
    if version_id is None:
        flow = session.get(FlowDefinition, flow_id)
        if flow is None:
            raise ExecutionNotFound(f"flow {flow_id} does not exist")
        if flow.published_version_id is None:
            raise ExecutionNotFound(f"flow {flow_id} has no published version")
        version_id = flow.published_version_id
    execution = FlowExecution(
        flow_id=flow_id,
        version_id=version_id,
        idempotency_key=idempotency_key,
        trigger_type=trigger_type,
        trigger_data=Redactor().seal(jsonable(trigger)),
        parent_execution_id=parent.id if parent else None,
        root_execution_id=root_id,
        depth=parent.depth + 1 if parent else 0,
    )
    try:
        with session.begin_nested():
            session.add(execution)
    except sa.exc.IntegrityError:
        if idempotency_key is None:
            raise
        existing = _by_key(session, idempotency_key)
        if existing is None:
            raise
        return existing
    return execution


def _by_key(session: Session, key: str) -> FlowExecution | None:
    return session.exec(select(FlowExecution).where(FlowExecution.idempotency_key == key)).first()


def tree_size(session: Session, root_id: int) -> int:
    """How many executions the tree rooted at ``root_id`` holds, the root included."""
    return session.exec(
        select(sa.func.count())
        .select_from(FlowExecution)
        .where(sa.or_(FlowExecution.id == root_id, FlowExecution.root_execution_id == root_id))
    ).one()


@dataclass
class LoadedExecution:
    execution: FlowExecution
    graph: dict[str, Any]
    version_created_at: datetime  # with the id, names a version even if SQLite reuses ids
    steps: dict[str, StepRecord]
    next_seq: int
    flow_stack: list[int]  # the flows of the run_flow chain, outermost first


def load(execution_id: int) -> LoadedExecution:
    with session_scope() as session:
        execution = session.get(FlowExecution, execution_id)
        if execution is None:
            raise ExecutionNotFound(f"execution {execution_id} does not exist")
        version = session.get(FlowVersion, execution.version_id) if execution.version_id else None
        if version is None:
            raise ExecutionNotFound(f"execution {execution_id} has no flow version to run")
        rows = session.exec(
            select(FlowExecutionStep).where(FlowExecutionStep.execution_id == execution_id)
        ).all()
        stack = [execution.flow_id]
        parent_id = execution.parent_execution_id
        while parent_id is not None and len(stack) < 50:
            parent = session.get(FlowExecution, parent_id)
            if parent is None:
                break
            stack.insert(0, parent.flow_id)
            parent_id = parent.parent_execution_id
        return LoadedExecution(
            execution=execution,
            graph=version.graph,
            version_created_at=version.created_at,
            steps={row.step_key: _record(row) for row in rows},
            next_seq=max((row.seq for row in rows), default=0) + 1,
            flow_stack=stack,
        )


def set_running(execution_id: int) -> None:
    """Mark the run started; a cancelled (``stopped``) row stays stopped, and the run's
    first step then finds it so (:func:`start_step`)."""
    with session_scope() as session:
        session.exec(
            sa.update(FlowExecution)
            .where(
                FlowExecution.id == execution_id,
                FlowExecution.status != ExecutionStatus.stopped,
            )
            .values(status=ExecutionStatus.running, resume_at=None, finished_at=None)
        )


def interrupt_running_steps(session: Session, execution_id: int, error: str) -> None:
    """Fail the steps an ended execution left ``running`` (a cut-short branch, a parked
    delay, a cancellation), with the reason."""
    session.exec(
        sa.update(FlowExecutionStep)
        .where(
            FlowExecutionStep.execution_id == execution_id,
            FlowExecutionStep.status == StepStatus.running,
        )
        .values(status=StepStatus.failed, error=error)
    )


def finish(
    execution_id: int,
    status: ExecutionStatus,
    *,
    result: dict[str, Any] | None,
    error: str | None,
    resume_at: datetime | None,
    variables: dict[str, Any],
    redactor: Redactor,
) -> ExecutionStatus:
    """Record how the run ended; returns the status recorded. An execution cancelled
    meanwhile (its row already ``stopped``) stays stopped with the canceller's reason,
    so a run that parked or got past its last step cannot revive it."""
    with session_scope() as session:
        recorded = session.exec(
            select(FlowExecution.status).where(FlowExecution.id == execution_id).with_for_update()
        ).first()
        cancelled = recorded == ExecutionStatus.stopped
        if cancelled:
            status, resume_at = ExecutionStatus.stopped, None
        if status in TERMINAL:  # steps cut short (a failed sibling branch, the time budget)
            interrupt_running_steps(session, execution_id, "interrupted: the execution ended first")
        count = session.exec(
            select(sa.func.count())
            .select_from(FlowExecutionStep)
            .where(FlowExecutionStep.execution_id == execution_id)
        ).one()
        values: dict[str, Any] = {
            "result": redactor.seal(jsonable(result)) if result is not None else None,
            "resume_at": resume_at,
            "context": redactor.redact(jsonable(variables)),
            "step_count": count,
            "finished_at": None if status is ExecutionStatus.waiting else utcnow(),
        }
        if not cancelled:
            values.update(status=status, error=redactor.scrub(error))
        session.exec(
            sa.update(FlowExecution).where(FlowExecution.id == execution_id).values(**values)
        )
    return status


# --------------------------------------------------------------------------- steps


def start_step(
    execution_id: int,
    seq: int,
    step_key: str,
    node_id: str,
    node_type: str,
    params: dict[str, Any],
    existing: StepRecord | None,
    redactor: Redactor,
    *,
    claim: bool = False,
) -> StepRecord:
    """Insert the step as running, or reset a row a crashed run left running; refuse
    (ExecutionCancelled) once the execution is cancelled: the check between steps.

    A unique violation means another run of the same execution wrote this step (or
    took this sequence number) meanwhile: the row found by key is reused, else the
    next free sequence number is tried. A ``claim`` (a step with external effects) is
    never reused: a row found by key raises ClaimTaken, so at most one run acts.
    """
    started = utcnow()
    values = {
        "node_id": node_id,
        "node_type": node_type,
        "status": StepStatus.running,
        "input": redactor.redact(jsonable(params)),
        "output": None,
        "error": None,
        "handle": None,
        "started_at": started,
        "duration_ms": None,
    }
    for _ in range(5):
        with session_scope() as session:
            if _cancelled(session, execution_id):
                raise ExecutionCancelled(f"execution {execution_id} was cancelled")
            if existing is None:
                existing = _step_by_key(session, execution_id, step_key)
            if existing is not None and claim:
                raise ClaimTaken(existing)
            if existing is not None:
                session.exec(
                    sa.update(FlowExecutionStep)
                    .where(FlowExecutionStep.id == existing.id)
                    .values(**values)
                )
                return StepRecord(
                    existing.id, existing.seq, step_key, StepStatus.running, None, None, None
                )
            row = FlowExecutionStep(execution_id=execution_id, seq=seq, step_key=step_key, **values)
            try:
                with session.begin_nested():
                    session.add(row)
                return _record(row)
            except sa.exc.IntegrityError:
                seq = _max_seq(session, execution_id) + 1
    raise RuntimeError(f"could not record step {step_key} of execution {execution_id}")


def finish_step(
    step: StepRecord,
    redactor: Redactor,
    *,
    rendered: dict[str, Any] | None = None,
    duration_ms: float | None = None,
    only_running: bool = False,
) -> None:
    """Write the step's outcome (status, output, error, handle) and, once known, the
    rendered params as its input; ``only_running`` leaves a row another run finished."""
    values: dict[str, Any] = {
        "status": step.status,
        "output": redactor.seal(jsonable(step.output)) if step.output is not None else None,
        "error": redactor.scrub(step.error),
        "handle": step.handle,
    }
    if rendered is not None:
        values["input"] = redactor.redact(jsonable(rendered))
    if duration_ms is not None:
        values["duration_ms"] = duration_ms
    where = [FlowExecutionStep.id == step.id]
    if only_running:
        where.append(FlowExecutionStep.status == StepStatus.running)
    with session_scope() as session:
        session.exec(sa.update(FlowExecutionStep).where(*where).values(**values))


def _cancelled(session: Session, execution_id: int) -> bool:
    """One primary-key read, in the transaction that records the step anyway."""
    status = session.exec(
        select(FlowExecution.status).where(FlowExecution.id == execution_id)
    ).first()
    return status == ExecutionStatus.stopped


def _step_by_key(session: Session, execution_id: int, step_key: str) -> StepRecord | None:
    row = session.exec(
        select(FlowExecutionStep).where(
            FlowExecutionStep.execution_id == execution_id,
            FlowExecutionStep.step_key == step_key,
        )
    ).first()
    return _record(row) if row else None


def _max_seq(session: Session, execution_id: int) -> int:
    return session.exec(
        select(sa.func.coalesce(sa.func.max(FlowExecutionStep.seq), 0)).where(
            FlowExecutionStep.execution_id == execution_id
        )
    ).one()

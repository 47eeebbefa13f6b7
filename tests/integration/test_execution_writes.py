"""What an execution writes, and when (issue 15): the steps of side-effect-free nodes in
one batch with the end, a side-effecting step committed before it acts, cancellations
still seen between steps. On SQLite and PostgreSQL (the ``session`` fixture)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine import db, execution_store, pool_client, runtime
from engine.execution_store import StepBatch, create_execution
from engine.models import ExecutionStatus, FlowExecution, StepStatus
from engine.nodes import REGISTRY
from engine.nodes.base import NodeResult
from engine.redaction import Redactor
from tests.unit import test_runtime
from tests.unit.test_runtime import chain, make_flow, node, send, steps, trigger

pool = test_runtime.pool  # the recording fake pool fixture

PURE = chain(
    node("v", "set_variable", name="n", value="{{trigger.text}}"),
    node("m", "template", text="got {{context.n}}"),
)


@dataclasses.dataclass
class Writes:
    commits: int = 0  # of transactions that wrote something
    step_inserts: int = 0  # INSERT statements into flow_execution_step
    pending: bool = False


@contextmanager
def counted_writes() -> Iterator[Writes]:
    """Count the commits that wrote and the statements inserting steps, on the engine and
    on the execution store's own (PostgreSQL), where each writing statement commits alone."""
    writes, engine = Writes(), db.get_engine()
    store = execution_store._store_engine()

    def writing(text: str) -> bool:
        return any(verb in text.upper() for verb in ("INSERT INTO", "UPDATE ", "DELETE FROM"))

    def statement(conn: sa.Connection, _cursor: Any, text: str, *_: Any) -> None:
        if writing(text):
            writes.pending = True
        writes.step_inserts += text.count("INSERT INTO flow_execution_step")
        if conn.engine is store and store is not engine and writes.pending:  # autocommit
            commit(conn)

    def commit(_conn: Any) -> None:
        writes.commits += writes.pending
        writes.pending = False

    on_driver = execution_store._on_driver

    def counted_on_driver(conn: sa.Connection, clause: Any, *args: Any) -> list[Any]:
        """The store's statements run on psycopg directly, past the engine's events."""
        statement(conn, None, str(clause.compile(dialect=conn.dialect)))
        return on_driver(conn, clause, *args)

    engines = {engine, store}
    for each in engines:
        sa.event.listen(each, "before_cursor_execute", statement)
        sa.event.listen(each, "commit", commit)
    execution_store._on_driver = counted_on_driver  # type: ignore[assignment]
    try:
        yield writes
    finally:
        execution_store._on_driver = on_driver  # type: ignore[assignment]
        for each in engines:
            sa.event.remove(each, "before_cursor_execute", statement)
            sa.event.remove(each, "commit", commit)


def new_execution(flow_id: int, **fields: Any) -> int:
    with db.session_scope() as scope:
        execution = create_execution(scope, flow_id, trigger(**fields), trigger_type="tg_message")
        scope.flush()
        assert execution.id is not None
        return execution.id


def status_of(execution_id: int) -> ExecutionStatus:
    with db.session_scope() as scope:
        found = scope.exec(select(FlowExecution.status).where(FlowExecution.id == execution_id))
        return ExecutionStatus(found.one())


async def test_a_pure_flow_commits_twice_and_writes_its_steps_in_one_statement(
    session: Session,
) -> None:
    flow_id = make_flow(session, *PURE)
    with counted_writes() as writes:
        execution_id = new_execution(flow_id, text="hi")
        outcome = await runtime.run_execution(execution_id)
    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    assert writes.commits == 2  # the execution created, then its end with every step
    assert writes.step_inserts == 1
    recorded = steps(session, execution_id)
    assert [(s.step_key, s.status, s.seq) for s in recorded] == [
        ("t", StepStatus.succeeded, 1),
        ("v", StepStatus.succeeded, 2),
        ("m", StepStatus.succeeded, 3),
    ]
    assert recorded[2].output == recorded[2].input == {"text": "got hi"}  # input: rendered
    assert recorded[2].duration_ms is not None
    execution = session.get(FlowExecution, execution_id)
    assert execution is not None and execution.step_count == 3


async def test_a_side_effecting_step_is_committed_before_it_acts(
    session: Session, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the platform call, the database already holds the steps before it and the
    send itself as ``running`` (its claim), and the execution as running."""
    flow_id = make_flow(
        session, *chain(node("v", "set_variable", name="n", value=1), send("s", "x"))
    )
    execution_id = new_execution(flow_id)
    seen: list[tuple[ExecutionStatus, list[tuple[str, StepStatus]]]] = []
    call = pool_client.execute

    async def looking_first(*args: Any, **kwargs: Any) -> dict[str, Any]:
        rows = [(s.step_key, StepStatus(s.status)) for s in steps(session, execution_id)]
        seen.append((status_of(execution_id), rows))
        return await call(*args, **kwargs)

    monkeypatch.setattr(pool_client, "execute", looking_first)
    with counted_writes() as writes:
        outcome = await runtime.run_execution(execution_id)
    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    assert seen == [
        (
            ExecutionStatus.running,
            [("t", StepStatus.succeeded), ("v", StepStatus.succeeded), ("s", StepStatus.running)],
        )
    ]
    assert writes.commits == 3  # the claim (with the steps before it), its outcome, the end
    assert [s.status for s in steps(session, execution_id)] == [StepStatus.succeeded] * 3


async def test_a_cancel_made_elsewhere_is_read_before_the_next_pure_step(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel committed by another process (here: straight to the row, so this process
    is not told) stops the run before its next step once the row is read again."""
    flow_id = make_flow(
        session,
        *chain(node("m1", "template", text="one"), node("m2", "template", text="two")),
    )
    execution_id = new_execution(flow_id)
    template = REGISTRY.get("template")
    assert template.run is not None
    original = template.run

    async def cancelled_elsewhere(ctx: Any, params: Any) -> NodeResult:
        if ctx.step_key == "m1":
            with db.session_scope() as scope:
                scope.exec(
                    sa.update(FlowExecution)
                    .where(FlowExecution.id == execution_id)
                    .values(status=ExecutionStatus.stopped, error="cancelled elsewhere")
                )
        return await original(ctx, params)

    monkeypatch.setitem(
        REGISTRY._types, "template", dataclasses.replace(template, run=cancelled_elsewhere)
    )
    monkeypatch.setattr(runtime, "CANCEL_READ_SECONDS", 0.0)
    outcome = await runtime.run_execution(execution_id)
    assert outcome.status is ExecutionStatus.stopped
    assert [s.step_key for s in steps(session, execution_id)] == ["t", "m1"]
    execution = session.get(FlowExecution, execution_id)
    assert execution is not None and execution.error == "cancelled elsewhere"


async def test_a_cancel_during_the_last_step_is_kept_by_the_end(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that got past its last step when it was cancelled cannot revive the row: its
    end keeps the canceller's status and reason, and still writes the steps."""
    flow_id = make_flow(session, *chain(node("m1", "template", text="one")))
    execution_id = new_execution(flow_id)
    template = REGISTRY.get("template")
    assert template.run is not None
    original = template.run

    async def cancelled_meanwhile(ctx: Any, params: Any) -> NodeResult:
        with db.session_scope() as scope:
            scope.exec(
                sa.update(FlowExecution)
                .where(FlowExecution.id == execution_id)
                .values(status=ExecutionStatus.stopped, error="cancelled meanwhile")
            )
        return await original(ctx, params)

    monkeypatch.setitem(
        REGISTRY._types, "template", dataclasses.replace(template, run=cancelled_meanwhile)
    )
    outcome = await runtime.run_execution(execution_id)
    assert outcome.status is ExecutionStatus.stopped
    assert [s.step_key for s in steps(session, execution_id)] == ["t", "m1"]
    execution = session.get(FlowExecution, execution_id)
    assert execution is not None
    assert (execution.status, execution.error) == (ExecutionStatus.stopped, "cancelled meanwhile")
    assert execution.step_count == 2


async def test_a_long_run_says_it_is_running_before_its_end(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of pure steps only writes its end, unless it lasts MARK_RUNNING_SECONDS:
    then its row says running meanwhile (the sweep of lost queued executions skips it)."""
    flow_id = make_flow(session, *chain(node("m", "template", text="x")))
    execution_id = new_execution(flow_id)
    template = REGISTRY.get("template")
    assert template.run is not None
    original = template.run
    seen: list[ExecutionStatus] = []

    async def slow(ctx: Any, params: Any) -> NodeResult:
        for _ in range(1000):  # until the timer has fired (it needs a turn of the loop)
            seen.append(status_of(execution_id))
            if seen[-1] is ExecutionStatus.running:
                break
            await asyncio.sleep(0)
        return await original(ctx, params)

    monkeypatch.setitem(REGISTRY._types, "template", dataclasses.replace(template, run=slow))
    monkeypatch.setattr(runtime, "MARK_RUNNING_SECONDS", 0.0)
    outcome = await runtime.run_execution(execution_id)
    assert outcome.status is ExecutionStatus.succeeded
    assert seen[0] is ExecutionStatus.queued and seen[-1] is ExecutionStatus.running


def test_a_batch_meeting_another_runs_rows_updates_them_and_moves_past_their_seq(
    session: Session,
) -> None:
    """Two runs of one execution at once (a redelivery racing a live worker): the rows
    the other wrote first are updated, and the batch's taken sequence numbers move on."""
    flow_id = make_flow(session, *PURE)
    execution_id = new_execution(flow_id)
    redactor = Redactor()

    def written(key: str, seq: int) -> execution_store.StepRecord:
        return execution_store.start_step(execution_id, seq, key, key, "x", {}, None, redactor)

    other_v, _other_w = written("v", 1), written("w", 2)
    batch = StepBatch(execution_id)
    mine_v = batch.start(1, "v", None, execution_store.running_values("v", "x", {}, redactor))
    mine_x = batch.start(2, "x", None, execution_store.running_values("x", "x", {}, redactor))
    mine_v.status, mine_v.output = StepStatus.succeeded, {"mine": True}
    execution_store.finish_step(mine_v, redactor, batch=batch)
    with db.session_scope() as scope:
        batch.write(scope.connection())
    assert mine_v.id == other_v.id and mine_x.id is not None and mine_x.seq == 3
    recorded = {s.step_key: s for s in steps(session, execution_id)}
    assert [(k, s.seq) for k, s in recorded.items()] == [("v", 1), ("w", 2), ("x", 3)]
    assert recorded["v"].status == StepStatus.succeeded and recorded["v"].output == {"mine": True}
    assert recorded["x"].status == StepStatus.running


def _end(execution_id: int, status: ExecutionStatus, batch: StepBatch) -> ExecutionStatus:
    return execution_store.finish(
        execution_id,
        status,
        result={"done": True},
        error=None,
        resume_at=None,
        variables={},
        redactor=Redactor(),
        batch=batch,
        step_count=3,
        left_running=True,
    )


def _running_batch(execution_id: int) -> tuple[StepBatch, execution_store.StepRecord]:
    """An earlier step left running in the database; the batch: a new step still running
    and a new one succeeded."""
    redactor = Redactor()
    execution_store.start_step(execution_id, 1, "old", "old", "x", {}, None, redactor)
    batch = StepBatch(execution_id)
    for seq, key in ((2, "cut"), (3, "done")):
        batch.start(seq, key, None, execution_store.running_values(key, "x", {}, redactor))
    done = batch.new["done"][0]
    done.status = StepStatus.succeeded
    execution_store.finish_step(done, redactor, batch=batch)
    return batch, done


@pytest.mark.parametrize(
    ("ended", "left"),
    [(ExecutionStatus.failed, StepStatus.failed), (ExecutionStatus.waiting, StepStatus.running)],
)
def test_an_end_for_good_interrupts_the_steps_left_running_written_or_in_its_batch(
    session: Session, ended: ExecutionStatus, left: StepStatus
) -> None:
    """The end's batch rows are written with it, and a terminal end fails every step still
    running, the batch's included; a parked run (waiting) leaves them running."""
    execution_id = new_execution(make_flow(session, *PURE))
    batch, done = _running_batch(execution_id)
    assert _end(execution_id, ended, batch) is ended
    assert not batch.new and done.id is not None
    error = execution_store.INTERRUPTED if left is StepStatus.failed else None
    assert {(s.step_key, s.status, s.error) for s in steps(session, execution_id)} == {
        ("old", left, error),
        ("cut", left, error),
        ("done", StepStatus.succeeded, None),
    }
    execution = session.get(FlowExecution, execution_id)
    assert execution is not None and execution.result == {"done": True}
    assert execution.step_count == 3 and ExecutionStatus(execution.status) is ended


def test_a_cancelled_execution_stays_stopped_and_its_running_steps_are_interrupted(
    session: Session,
) -> None:
    """A run that parks (waiting) after someone cancelled it: the row keeps the canceller's
    status and reason, and, the execution being over, its running steps are failed."""
    execution_id = new_execution(make_flow(session, *PURE))
    batch, _done = _running_batch(execution_id)
    with db.session_scope() as scope:
        scope.execute(
            sa.update(FlowExecution)
            .where(col(FlowExecution.id) == execution_id)
            .values(status=ExecutionStatus.stopped, error="cancelled by ann")
        )
    assert _end(execution_id, ExecutionStatus.waiting, batch) is ExecutionStatus.stopped
    execution = session.get(FlowExecution, execution_id)
    assert execution is not None and execution.error == "cancelled by ann"
    assert {s.step_key: s.status for s in steps(session, execution_id)} == {
        "old": StepStatus.failed,
        "cut": StepStatus.failed,
        "done": StepStatus.succeeded,
    }


def test_an_end_meeting_another_runs_rows_updates_them(session: Session) -> None:
    """The batch's step keys another run wrote meanwhile: the end is recorded, and those
    rows are updated instead (after it, on PostgreSQL), the others inserted past them."""
    execution_id = new_execution(make_flow(session, *PURE))
    redactor = Redactor()
    other = execution_store.start_step(execution_id, 1, "v", "v", "x", {}, None, redactor)
    batch = StepBatch(execution_id)
    for seq, key in ((1, "v"), (2, "m")):
        record = batch.start(seq, key, None, execution_store.running_values(key, "x", {}, redactor))
        record.status = StepStatus.succeeded
        execution_store.finish_step(record, redactor, batch=batch)
    assert _end(execution_id, ExecutionStatus.succeeded, batch) is ExecutionStatus.succeeded
    recorded = {s.step_key: (s.id, s.seq, s.status) for s in steps(session, execution_id)}
    assert recorded["v"] == (other.id, 1, StepStatus.succeeded)
    assert recorded["m"][1:] == (2, StepStatus.succeeded)
    assert status_of(execution_id) is ExecutionStatus.succeeded

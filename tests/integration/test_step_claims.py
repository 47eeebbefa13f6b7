"""Steps with external effects are claimed before they act and never repeated after a
redelivery (issue 8, item 10), on SQLite and PostgreSQL (the ``session`` fixture)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from engine import db, execution_store
from engine.execution_store import (
    OUTCOME_UNKNOWN,
    ClaimTaken,
    ExecutionCancelled,
    StepBatch,
    StepRecord,
    create_execution,
    finish_step,
    interrupt_running_steps,
    running_values,
    start_step,
)
from engine.models import ExecutionStatus, FlowExecution, FlowExecutionStep, StepStatus
from engine.nodes import REGISTRY
from engine.redaction import Redactor
from engine.runtime import run_execution
from engine.settings import get_settings
from tests.fakes.recording_http import RecordingHttp
from tests.unit import test_runtime
from tests.unit.test_runtime import chain, make_flow, node, send, steps, trigger

pool = test_runtime.pool  # the recording fake pool fixture


@pytest.fixture
async def target(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RecordingHttp]:
    monkeypatch.setenv("FLOWBOT_HTTP_ALLOWLIST", '["127.0.0.1"]')
    get_settings.cache_clear()
    async with RecordingHttp() as server:
        yield server


def crashed_in(
    session: Session, flow_id: int, done: list[tuple[str, dict[str, Any]]], running: str
) -> int:
    """An execution as a worker that died in ``running`` left it: the steps before it
    succeeded, that one claimed and never finished."""
    execution = create_execution(session, flow_id, trigger(), trigger_type="tg_message")
    session.flush()
    assert execution.id is not None
    rows = [(key, StepStatus.succeeded, output) for key, output in done]
    for seq, (key, status, output) in enumerate([*rows, (running, StepStatus.running, None)], 1):
        session.add(
            FlowExecutionStep(
                execution_id=execution.id,
                seq=seq,
                step_key=key,
                node_id=key,
                node_type="x",
                status=status,
                output=output,
                handle="next" if output is not None else None,
            )  # fmt: skip
        )
    execution.status = ExecutionStatus.running
    session.commit()
    return execution.id


def test_side_effecting_node_types_are_derived_in_one_place() -> None:
    external = {t.id for t in REGISTRY if t.external_effects}
    assert {"http_request", "tg_send_message", "dc_send_message", "broadcast"} <= external
    assert not {"set_variable", "template", "text_contains", "loop", "run_flow"} & external


async def test_a_claimed_platform_action_is_not_repeated_on_redelivery(
    session: Session, pool: Any
) -> None:
    flow_id = make_flow(
        session, *chain(send("send1", "one"), send("send2", "two"), send("send3", "three"))
    )
    eid = crashed_in(session, flow_id, [("t", trigger()), ("send1", {"message_id": "1"})], "send2")

    outcome = await run_execution(eid)  # the redelivered message
    assert outcome.status is ExecutionStatus.failed
    assert outcome.error == f"node 'send2' (Send message): {OUTCOME_UNKNOWN}"
    assert pool.requests.calls == []  # neither send2 again nor anything after it
    recorded = {s.step_key: s for s in steps(session, eid)}
    assert recorded["send2"].status == StepStatus.failed
    assert "outcome unknown after a worker restart; not repeated" in (recorded["send2"].error or "")
    assert "send3" not in recorded

    again = await run_execution(eid)
    assert again.status is ExecutionStatus.failed and pool.requests.calls == []


async def test_a_claimed_http_request_is_not_repeated_on_redelivery(
    session: Session, target: RecordingHttp
) -> None:
    flow_id = make_flow(
        session,
        *chain(
            node("h1", "http_request", url=f"{target.origin}/one"),
            node("h2", "http_request", url=f"{target.origin}/two"),
        ),
    )
    eid = crashed_in(session, flow_id, [("t", trigger())], "h1")
    outcome = await run_execution(eid)
    assert outcome.status is ExecutionStatus.failed
    assert outcome.error == f"node 'h1' (HTTP request): {OUTCOME_UNKNOWN}"
    assert target.calls.calls == []


async def test_a_pure_step_left_running_runs_again(session: Session, pool: Any) -> None:
    flow_id = make_flow(
        session, *chain(node("v", "set_variable", name="n", value=1), send("s", "x"))
    )
    eid = crashed_in(session, flow_id, [("t", trigger())], "v")
    outcome = await run_execution(eid)
    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    assert len(pool.executions.calls) == 1


def test_only_one_run_wins_the_claim(session: Session) -> None:
    """Two runs of one execution reaching a side-effecting step at once (a redelivery
    racing a live worker): the second claim is refused, a pure step's row is shared."""
    flow_id = make_flow(session, *chain(send("s", "x")))
    eid = create_execution(session, flow_id, trigger(), trigger_type="tg_message").id
    session.commit()
    assert eid is not None

    def start(key: str, claim: bool) -> execution_store.StepRecord:
        return execution_store.start_step(eid, 1, key, key, "x", {}, None, Redactor(), claim=claim)

    first = start("s", True)
    with pytest.raises(ClaimTaken) as taken:
        start("s", True)
    assert taken.value.step.id == first.id
    pure = start("v", False)
    assert start("v", False).id == pure.id


# --------------------------------------------------------------------------- the step store
# start_step / finish_step called as the executor calls them, the rows read back.

SECRET_PARAMS = {"url": "https://example.org", "headers": {"token": "hunter2"}}


def _execution(session: Session) -> int:
    flow_id = make_flow(session, *chain(send("s", "x")))
    execution = create_execution(session, flow_id, trigger(), trigger_type="tg_message")
    session.commit()
    assert execution.id is not None
    return execution.id


def _rows(session: Session, execution_id: int) -> dict[str, FlowExecutionStep]:
    return {row.step_key: row for row in steps(session, execution_id)}


def _status(session: Session, execution_id: int) -> ExecutionStatus:
    session.expire_all()
    row = session.get(FlowExecution, execution_id)
    assert row is not None
    return ExecutionStatus(row.status)


def _add_step(session: Session, execution_id: int, seq: int, key: str, **fields: Any) -> int:
    row = FlowExecutionStep(
        execution_id=execution_id, seq=seq, step_key=key, node_id=key, node_type="x", **fields
    )
    session.add(row)
    session.commit()
    assert row.id is not None
    return row.id


def test_a_new_step_is_inserted_running_and_a_left_one_is_reset(session: Session) -> None:
    eid = _execution(session)
    done = _add_step(session, eid, 1, "done", status=StepStatus.succeeded, output={"n": 1})
    redactor = Redactor()
    status_before = _status(session, eid)

    record = start_step(eid, 2, "h[0]", "h", "http_request", SECRET_PARAMS, None, redactor)
    row = _rows(session, eid)["h[0]"]
    assert record == StepRecord(row.id, 2, "h[0]", StepStatus.running, None, None, None)
    assert (row.seq, row.node_id, row.node_type, row.status) == (2, "h", "http_request", "running")
    assert row.input == Redactor().redact(SECRET_PARAMS) and "hunter2" not in json.dumps(row.input)
    assert _status(session, eid) == status_before != ExecutionStatus.running  # not asked to

    finish_step(
        StepRecord(row.id, 2, "h[0]", StepStatus.failed, {"code": 500}, "boom", "error"), redactor
    )
    again = start_step(eid, 9, "h[0]", "h2", "template", {"text": "t"}, record, redactor)
    assert again == StepRecord(row.id, 2, "h[0]", StepStatus.running, None, None, None)
    rows = _rows(session, eid)
    reset = rows["h[0]"]
    assert (reset.status, reset.output, reset.error, reset.handle) == ("running", None, None, None)
    assert (reset.node_id, reset.node_type, reset.input) == ("h2", "template", {"text": "t"})
    assert (rows["done"].id, rows["done"].status, rows["done"].output) == (
        done, StepStatus.succeeded, {"n": 1},
    )  # fmt: skip
    assert len(rows) == 2


def test_a_step_marks_the_run_started_when_asked_and_is_refused_once_cancelled(
    session: Session,
) -> None:
    eid, other = _execution(session), _execution(session)
    start_step(eid, 1, "a", "a", "x", {}, None, Redactor(), mark_running=True)
    assert _status(session, eid) == ExecutionStatus.running
    assert _status(session, other) == ExecutionStatus.queued

    stopped = session.get(FlowExecution, eid)
    assert stopped is not None
    stopped.status = ExecutionStatus.stopped
    session.commit()
    with pytest.raises(ExecutionCancelled) as refused:
        start_step(eid, 2, "b", "b", "x", {}, None, Redactor())
    assert str(refused.value) == f"execution {eid} was cancelled"
    assert set(_rows(session, eid)) == {"a"}
    start_step(other, 1, "b", "b", "x", {}, None, Redactor())  # its own row decides
    assert set(_rows(session, other)) == {"b"}


def test_a_step_commits_the_batch_of_steps_before_it(session: Session) -> None:
    eid = _execution(session)
    batch = StepBatch(eid)
    pure = batch.start(1, "v", None, running_values("v", "set_variable", {}, Redactor()))
    pure.status, pure.output, pure.handle = StepStatus.succeeded, {"value": 1}, "next"
    finish_step(pure, Redactor(), batch=batch)
    assert _rows(session, eid) == {}  # held in the batch until the next durable step
    start_step(eid, 2, "s", "s", "tg_send_message", {}, None, Redactor(), claim=True, batch=batch)
    rows = _rows(session, eid)
    assert (rows["v"].seq, rows["v"].status, rows["v"].output) == (1, "succeeded", {"value": 1})
    assert (rows["s"].seq, rows["s"].status) == (2, "running")


def test_a_taken_sequence_number_moves_past_the_executions_last(session: Session) -> None:
    """Another run took seq 2 meanwhile: the step gets the next free number of THIS
    execution (another execution's larger numbers do not count)."""
    eid, other = _execution(session), _execution(session)
    for seq, key in enumerate(["a", "b", "c"], 1):
        _add_step(session, eid, seq, key)
    _add_step(session, other, 9, "z")
    record = start_step(eid, 2, "d", "d", "x", {}, None, Redactor())
    assert record.seq == 4 and _rows(session, eid)["d"].seq == 4


def test_a_step_written_meanwhile_by_another_run_is_reused_or_its_claim_refused(
    session: Session,
) -> None:
    """The caller did not know the row (``existing`` None): the unique key finds it, in
    this execution only, under this key only."""
    eid, other = _execution(session), _execution(session)
    _add_step(session, other, 1, "s")  # the same key in another execution, written first
    _add_step(session, eid, 1, "t")
    taken = _add_step(session, eid, 2, "s", status=StepStatus.failed, error="old")
    record = start_step(eid, 3, "s", "s", "x", {"n": 2}, None, Redactor())
    assert record == StepRecord(taken, 2, "s", StepStatus.running, None, None, None)
    row = _rows(session, eid)["s"]
    assert (row.status, row.error, row.input) == ("running", None, {"n": 2})

    with pytest.raises(ClaimTaken) as claimed:
        start_step(eid, 3, "s", "s", "x", {}, None, Redactor(), claim=True)
    assert claimed.value.step.id == taken and claimed.value.step.seq == 2
    assert len(_rows(session, eid)) == 2


@pytest.fixture
def step_inserts(migrated_db: str) -> Iterator[list[int]]:
    """The ``seq`` of every INSERT into the steps table, as the database received them."""
    seen: list[int] = []

    def before(_conn: Any, _cursor: Any, statement: str, _p: Any, context: Any, _m: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO FLOW_EXECUTION_STEP"):
            seen.extend(params["seq"] for params in context.compiled_parameters)

    engine = db.get_engine()
    sa.event.listen(engine, "before_cursor_execute", before)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", before)


def test_a_step_that_cannot_be_written_is_tried_five_times_then_refused(
    session: Session, step_inserts: list[int]
) -> None:
    """Every insert violates a constraint (the execution row is gone): a first try with the
    caller's number, four with the execution's next free one (1: it has no steps), then
    an error naming the step, instead of a loop without end."""
    missing = _execution(session) + 1000
    with pytest.raises(RuntimeError) as failed:
        start_step(missing, 7, "k", "k", "x", {}, None, Redactor())
    assert str(failed.value) == f"could not record step k of execution {missing}"
    assert step_inserts == [7, 1, 1, 1, 1]


def test_finishing_a_step_writes_its_outcome_to_its_row_only(session: Session) -> None:
    eid = _execution(session)
    first = start_step(eid, 1, "a", "a", "x", {"p": "{{x}}"}, None, Redactor())
    second = start_step(eid, 2, "b", "b", "x", {}, None, Redactor())
    first.status, first.output, first.handle = StepStatus.succeeded, {"n": 1}, "next"
    finish_step(first, Redactor(), rendered={"p": "1"}, duration_ms=12.5)
    rows = _rows(session, eid)
    done = rows["a"]
    assert (done.status, done.output, done.error, done.handle) == (
        "succeeded",
        {"n": 1},
        None,
        "next",
    )
    assert (done.input, done.duration_ms) == ({"p": "1"}, 12.5)
    assert (rows["b"].id, rows["b"].status, rows["b"].output) == (second.id, "running", None)

    late = StepRecord(first.id, 1, "a", StepStatus.failed, None, "late", None)
    finish_step(late, Redactor(), only_running=True)  # another run finished it: kept
    assert _rows(session, eid)["a"].status == StepStatus.succeeded
    second.status, second.error = StepStatus.failed, "gone"
    finish_step(second, Redactor(), only_running=True)  # still running: written
    assert (_rows(session, eid)["b"].status, _rows(session, eid)["b"].error) == ("failed", "gone")
    finish_step(late, Redactor())  # by default whatever the row's status
    assert (_rows(session, eid)["a"].status, _rows(session, eid)["a"].error) == ("failed", "late")


def test_a_finished_step_given_a_batch_waits_for_it(session: Session) -> None:
    eid = _execution(session)
    step = start_step(eid, 1, "a", "a", "x", {}, None, Redactor())
    batch = StepBatch(eid)
    step.status, step.output = StepStatus.succeeded, {"n": 1}
    finish_step(step, Redactor(), batch=batch)
    assert _rows(session, eid)["a"].status == StepStatus.running  # not written yet
    with db.get_engine().begin() as connection:
        batch.write(connection)
    row = _rows(session, eid)["a"]
    assert (row.status, row.output) == ("succeeded", {"n": 1})


def test_an_ended_execution_fails_only_its_own_running_steps(session: Session) -> None:
    eid, other = _execution(session), _execution(session)
    for seq, (key, status) in enumerate(
        [("a", StepStatus.running), ("b", StepStatus.succeeded), ("c", StepStatus.running)], 1
    ):
        _add_step(session, eid, seq, key, status=status)
    _add_step(session, other, 1, "a", status=StepStatus.running)
    with db.get_engine().begin() as connection:
        interrupt_running_steps(connection, eid, "interrupted: cut short")
    rows = _rows(session, eid)
    assert {k: (r.status, r.error) for k, r in rows.items()} == {
        "a": ("failed", "interrupted: cut short"),
        "b": ("succeeded", None),
        "c": ("failed", "interrupted: cut short"),
    }
    assert [(r.status, r.error) for r in steps(session, other)] == [("running", None)]

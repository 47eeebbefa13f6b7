"""Steps with external effects are claimed before they act and never repeated after a
redelivery (issue 8, item 10), on SQLite and PostgreSQL (the ``session`` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import Session

from engine import execution_store
from engine.execution_store import OUTCOME_UNKNOWN, ClaimTaken, create_execution
from engine.models import ExecutionStatus, FlowExecutionStep, StepStatus
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

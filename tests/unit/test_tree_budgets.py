"""Budgets hold for the whole tree of executions one trigger starts (issue 8, item 9):
loops calling run_flow cannot multiply one request into hundreds of executions."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from engine.models import ExecutionStatus, FlowExecution, StepStatus
from engine.runtime import run_flow_now
from engine.settings import get_settings
from tests.unit import test_runtime
from tests.unit.test_runtime import TRIGGER, edge, make_flow, node, send, steps, trigger

pool = test_runtime.pool  # the recording fake pool fixture


def limit(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(f"FLOWBOT_{name.upper()}", value)
    get_settings.cache_clear()


def fan_out(session: Session, callee: int, name: str) -> int:
    """A flow that calls ``callee`` once per item of ``trigger.data.items``."""
    return make_flow(
        session,
        [
            node("ct", "flow_called"),
            node("loop1", "loop", items="{{trigger.data.items}}"),
            node("call", "run_flow", flow_id=callee, input={"items": "{{trigger.data.items}}"}),
        ],
        [edge("ct", "loop1"), edge("loop1", "call", "item")],
        name=name,
    )


def tree(session: Session) -> list[FlowExecution]:
    session.expire_all()
    return list(session.exec(select(FlowExecution).order_by(FlowExecution.id)).all())


async def test_a_fan_out_stops_at_the_tree_execution_budget(
    sqlite_session: Session, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10 × 10 calls would make 111 executions; the tree gets 20, and the one that
    asked for the 21st fails naming the budget, as do its callers."""
    limit(monkeypatch, max_tree_executions="20")
    leaf = make_flow(sqlite_session, [node("ct", "flow_called")], [], name="leaf")
    middle = fan_out(sqlite_session, leaf, "middle")
    top = make_flow(
        sqlite_session,
        [
            TRIGGER,
            node("loop1", "loop", items="{{trigger.data.items}}"),
            node("call", "run_flow", flow_id=middle, input={"items": "{{trigger.data.items}}"}),
        ],
        [edge("t", "loop1"), edge("loop1", "call", "item")],
        name="top",
    )
    outcome = await run_flow_now(top, trigger(data={"items": list(range(10))}))
    assert outcome.status is ExecutionStatus.failed
    assert "budget of 20 executions" in (outcome.error or "")

    executions = tree(sqlite_session)
    assert len(executions) == 20
    root = executions[0]
    assert root.root_execution_id is None
    assert all(e.root_execution_id == root.id for e in executions[1:])
    assert {e.depth for e in executions} == {0, 1, 2}
    offending = [e for e in executions if e.depth == 1 and e.status == ExecutionStatus.failed]
    assert len(offending) == 1 and "budget of 20 executions" in (offending[0].error or "")
    failed_step = steps(sqlite_session, offending[0].id)[-1]
    assert failed_step.status == StepStatus.failed
    assert "budget of 20 executions" in (failed_step.error or "")


async def test_steps_are_counted_across_the_tree(
    sqlite_session: Session, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each execution alone stays far below 30 steps; together they do not."""
    limit(monkeypatch, max_steps="30")
    child = make_flow(
        sqlite_session,
        [node("ct", "flow_called"), *[node(f"l{i}", "log", message="x") for i in range(4)]],
        [edge("ct", "l0"), edge("l0", "l1"), edge("l1", "l2"), edge("l2", "l3")],
        name="child",
    )
    parent = make_flow(
        sqlite_session,
        [
            TRIGGER,
            node("loop1", "loop", items="{{trigger.data.items}}"),
            node("call", "run_flow", flow_id=child),
        ],
        [edge("t", "loop1"), edge("loop1", "call", "item")],
    )
    outcome = await run_flow_now(parent, trigger(data={"items": list(range(10))}))
    assert outcome.status is ExecutionStatus.failed
    assert "step budget of 30 steps" in (outcome.error or "")
    recorded = sum(len(steps(sqlite_session, e.id)) for e in tree(sqlite_session))  # type: ignore[arg-type]
    assert recorded <= 31  # the step that asked for the 31st is recorded as failed


async def test_the_wall_clock_budget_is_shared_with_called_flows(
    sqlite_session: Session, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit(monkeypatch, max_seconds="0.5")
    pool.delays["send_message"] = 6
    child = make_flow(
        sqlite_session,
        [node("ct", "flow_called"), send("slow", "zzz", chat_id="1")],
        [edge("ct", "slow")],
        name="child",
    )
    parent = make_flow(
        sqlite_session,
        [TRIGGER, node("call", "run_flow", flow_id=child)],
        [edge("t", "call")],
    )
    outcome = await run_flow_now(parent, trigger())
    assert outcome.status is ExecutionStatus.failed
    assert "wall-clock budget of 0.5 s" in (outcome.error or "")
    called = tree(sqlite_session)[1]
    assert called.status == ExecutionStatus.failed  # recorded, not left running
    assert "wall-clock budget of 0.5 s" in (called.error or "")

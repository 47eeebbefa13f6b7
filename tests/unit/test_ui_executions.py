"""The Executions pages' state against a real database: the list and its filters, and the
debugger stepping through a failed run (the cursor starts on the failure), its canvas lit
as of each step, and a re-run from a node (anyone may see which actions it would repeat;
only an editor starts it)."""

from __future__ import annotations

from sqlmodel import col, select

from engine import actors
from engine.db import session_scope
from engine.models import ExecutionStatus, FlowExecution, FlowExecutionStep, StepStatus
from engine.services import flows
from flowbot_ui.pages.executions import DebugState, ExecutionsState
from tests.ui_harness import People, Tab, redirect_target, user

GRAPH = {
    "nodes": [
        {"id": "trigger1", "type": "manual", "params": {}},
        {"id": "send1", "type": "tg_send_message", "params": {"text": "hi", "chat_id": "1"}},
    ],
    "edges": [{"source": "trigger1", "sourceHandle": "next", "target": "send1"}],
}


def _failed_run(people: People) -> tuple[int, int]:
    """Orders, published, ran once: the trigger passed, the send failed. (flow, execution)."""
    with session_scope() as session:
        admin = session.merge(user(people.admin_id))
        flow = flows.create_flow(session, admin, "Orders", graph=GRAPH)
        version = flows.publish(session, admin, flow.id or 0)
        execution = FlowExecution(
            flow_id=flow.id or 0, version_id=version.id, status=ExecutionStatus.failed,
            error="chat not found", trigger_data={"text": "go"},
        )  # fmt: skip
        session.add(execution)
        session.flush()
        for seq, (node, node_type, status) in enumerate(
            [("trigger1", "manual", StepStatus.succeeded),
             ("send1", "tg_send_message", StepStatus.failed)], start=1,
        ):  # fmt: skip
            session.add(FlowExecutionStep(
                execution_id=execution.id or 0, seq=seq, step_key=node, node_id=node,
                node_type=node_type, status=status, output={"ok": seq == 1},
            ))  # fmt: skip
        return flow.id or 0, execution.id or 0


async def test_the_list_filters_by_flow_status_and_period(people: People) -> None:
    flow_id, execution_id = _failed_run(people)
    tab = Tab(people.cookies["viewer"], "/executions", flow=str(flow_id))
    await tab.run(ExecutionsState, "load")
    page = await tab.state(ExecutionsState)
    [row] = page.rows
    assert (row.id, row.flow, row.status, row.error) == (
        execution_id, "Orders", "failed", "chat not found",
    )  # fmt: skip
    assert [o.label for o in page.flow_options] == ["All flows", "Orders"]
    await tab.run(ExecutionsState, "set_status_filter", "succeeded")
    assert page.rows == []
    await tab.run(ExecutionsState, "set_status_filter", "exploded")
    assert page.status_filter == "any" and len(page.rows) == 1
    await tab.run(ExecutionsState, "set_flow_filter", "1; drop table")
    assert page.flow_filter == "any"
    await tab.run(ExecutionsState, "set_period", "24h")
    assert len(page.rows) == 1
    await tab.run(ExecutionsState, "set_period", "forever")
    assert page.period == "all"


async def test_the_debugger_starts_on_the_failure_and_steps(people: People) -> None:
    _, execution_id = _failed_run(people)
    tab = Tab(people.cookies["viewer"], f"/executions/{execution_id}",
              execution_ref=str(execution_id))  # fmt: skip
    assert await tab.run(DebugState, "load") == []  # finished: nothing to follow
    page = await tab.state(DebugState)
    assert (page.flow_name, page.status, page.failure) == ("Orders", "failed", "chat not found")
    assert page.version_label == "version 1"
    assert [s.node_id for s in page.steps] == ["trigger1", "send1"]
    assert (page.cursor, page.highlight) == (1, "send1")
    assert page.statuses == {"trigger1": "succeeded", "send1": "failed"}

    await tab.run(DebugState, "step", -5)
    assert (page.cursor, page.statuses) == (0, {"trigger1": "succeeded"})
    await tab.run(DebugState, "select_node", "send1")
    assert page.current is not None and page.current.node_id == "send1"
    await tab.run(DebugState, "go_to", 0)
    assert page.highlight == "trigger1"

    gone = Tab(people.cookies["viewer"], "/executions/999", execution_ref="999")
    await gone.run(DebugState, "load")
    assert (await gone.state(DebugState)).missing


async def test_a_rerun_is_an_editors_and_lists_what_it_repeats(people: People) -> None:
    _, execution_id = _failed_run(people)
    viewer = Tab(people.cookies["viewer"], "/executions", execution_ref=str(execution_id))
    await viewer.run(DebugState, "load")
    await viewer.run(DebugState, "ask_rerun", "send1")  # looking is allowed
    seen = await viewer.state(DebugState)
    assert seen.rerun_open and seen.rerun_actions
    assert await viewer.run(DebugState, "rerun_from", "send1") == []
    assert "editor role" in seen.message
    with session_scope() as session:
        assert len(session.exec(select(FlowExecution)).all()) == 1

    editor = Tab(people.cookies["editor"], "/executions", execution_ref=str(execution_id))
    await editor.run(DebugState, "load")
    await editor.run(DebugState, "ask_rerun", "send1")
    page = await editor.state(DebugState)
    assert page.rerun_open and page.rerun_node == "send1" and page.rerun_actions
    try:
        events = await editor.run(DebugState, "rerun_from", "send1")
    finally:
        actors.broker.flush_all()  # no worker here: the queued run must not outlive the test
    with session_scope() as session:
        newest = session.exec(select(FlowExecution).order_by(col(FlowExecution.id).desc())).first()
    assert newest is not None and newest.id != execution_id
    assert redirect_target(events) == f"/executions/{newest.id}" and not page.rerun_open

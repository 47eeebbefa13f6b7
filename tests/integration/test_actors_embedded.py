"""The actors on the embedded broker: routing, durable delays, and the safety nets."""

from __future__ import annotations

import time
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import select

from engine import actors
from engine.db import session_scope
from engine.models import ExecutionStatus, FlowExecution, utcnow
from engine.platform_event import EventChat, PlatformEvent
from engine.runtime import create_execution
from tests.flow_helpers import chain, execution_count, make_flow

TERMINAL = {ExecutionStatus.succeeded, ExecutionStatus.failed, ExecutionStatus.stopped}


def event(event_id: str = "tg:1", command: str = "start") -> dict:
    return PlatformEvent(
        event_id=event_id,
        kind="tg_command",
        platform="telegram",
        chat=EventChat(id="-1", type="group"),
        command=command,
    ).as_trigger()


def status(execution_id: int) -> ExecutionStatus:
    with session_scope() as session:
        return ExecutionStatus(session.get(FlowExecution, execution_id).status)


def wait_for(execution_id: int, wanted: set[ExecutionStatus], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while status(execution_id) not in wanted:
        assert time.monotonic() < deadline, f"execution {execution_id}: {status(execution_id)}"
        time.sleep(0.05)


def flow(*middle: tuple) -> int:
    return make_flow(
        chain(
            ("t", "tg_command", {"command": "start"}),
            *middle,
            ("m", "template", {"text": "done"}),
        )
    )


def test_route_event_starts_matching_flows_once(worker: None) -> None:
    first, second = flow(), flow()
    flow_other = make_flow(chain(("t", "tg_command", {"command": "help"})))
    actors.route_event.send(event())
    actors.route_event.send(event())  # redelivered
    actors.route_event.send(event("tg:2", command="nothing"))

    def rows() -> list[tuple[int, str]]:
        with session_scope() as session:
            return sorted(session.exec(select(FlowExecution.flow_id, FlowExecution.status)).all())

    expected = [(first, "succeeded"), (second, "succeeded")]
    deadline = time.monotonic() + 20
    while rows() != expected:
        assert time.monotonic() < deadline, rows()
        time.sleep(0.05)
    actors.broker.join(actors.route_event.queue_name, timeout=20_000)  # all routed, and
    assert rows() == expected  # the redelivered event started nothing more
    assert flow_other not in {flow_id for flow_id, _ in rows()}


def test_durable_delay_resumes(worker: None) -> None:
    flow(("d", "delay", {"seconds": 1}))
    actors.route_event.send(event())
    deadline = time.monotonic() + 10
    while execution_count() == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    wait_for(1, {ExecutionStatus.waiting} | TERMINAL)
    wait_for(1, TERMINAL)
    assert status(1) == ExecutionStatus.succeeded


def test_orphans_and_overdue_executions_are_resumed(worker: None) -> None:
    flow_id = flow()
    with session_scope() as session:
        orphan = create_execution(session, flow_id, event("o"), trigger_type="tg_command")
        overdue = create_execution(session, flow_id, event("w"), trigger_type="tg_command")
        session.flush()
        orphan_id, overdue_id = orphan.id, overdue.id
        session.exec(
            sa.update(FlowExecution)
            .where(FlowExecution.id == overdue_id)
            .values(status=ExecutionStatus.waiting, resume_at=utcnow() - timedelta(minutes=5))
        )
    now = utcnow()
    assert actors.overdue_executions(now, now - timedelta(minutes=5)) == [overdue_id]
    # A queued execution counts as lost only once it is old enough.
    assert actors.overdue_executions(now, now) == [orphan_id, overdue_id]
    actors.resume_waiting()  # called directly: what the periodic sweep sends
    wait_for(overdue_id, TERMINAL)
    assert status(orphan_id) == ExecutionStatus.queued  # too young for the sweep
    assert actors.recover_orphans() == 1  # embedded start-up
    wait_for(orphan_id, TERMINAL)
    assert status(orphan_id) == ExecutionStatus.succeeded

"""Waiting for an execution's end (webhooks' "wait for result") reads its row when the
bus announces the end (on a topic of its own), not on every step's event; a lost
announcement is made up for by reading the row every POLL_SECONDS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from engine import events
from engine.execution_events import announce_status
from engine.models import ExecutionStatus, FlowExecution
from engine.services import executions

RUNNING, DONE = ExecutionStatus.running, ExecutionStatus.succeeded


def reading(monkeypatch: pytest.MonkeyPatch, statuses: Iterator[ExecutionStatus]) -> list[int]:
    """Serve the row with the given statuses in turn; the reads made."""
    reads: list[int] = []

    def load(execution_id: int) -> FlowExecution:
        reads.append(execution_id)
        return FlowExecution(id=execution_id, flow_id=1, status=next(statuses))

    monkeypatch.setattr(executions, "load", load)
    return reads


async def subscribed(topic: str) -> None:
    """Until the waiter's subscription is in place: later publishes reach it."""
    bus = events.get_bus()
    assert isinstance(bus, events.MemoryBus)
    while topic not in bus._by_topic:
        await asyncio.sleep(0)


async def test_step_events_do_not_make_it_read_the_row(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = reading(monkeypatch, iter([DONE]))
    monkeypatch.setattr(executions, "POLL_SECONDS", 60.0)
    waiter = asyncio.create_task(executions.wait_for_finish(7, 30))
    await subscribed("ended.7")
    for seq in range(5):
        events.publish("execution.7", {"type": "step", "seq": seq, "status": "succeeded"})
    announce_status(7, 1, DONE, None)  # as the run announces its end
    execution = await asyncio.wait_for(waiter, 10)
    assert execution is not None and execution.status is DONE
    assert reads == [7]  # embedded: once, at the end


async def test_a_lost_announcement_is_made_up_for_by_reading_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = reading(monkeypatch, iter([RUNNING, RUNNING, DONE]))
    monkeypatch.setattr(executions, "POLL_SECONDS", 0.01)
    execution = await asyncio.wait_for(executions.wait_for_finish(8, 30), 10)
    assert execution is not None and execution.status is DONE and reads == [8, 8, 8]


async def test_an_end_announced_before_the_wait_is_read_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = reading(monkeypatch, iter([DONE]))
    monkeypatch.setattr(executions, "POLL_SECONDS", 60.0)
    announce_status(9, 1, DONE, None)
    execution = await asyncio.wait_for(executions.wait_for_finish(9, 30), 10)
    assert execution is not None and execution.status is DONE and reads == [9]

"""Waiting for the next bus event with a timeout: quiet gives None, an event is never lost
to the timeout, and the waiter's own cancellation always reaches it."""

from __future__ import annotations

import asyncio

import pytest

from engine import events
from engine.events import MemoryBus


async def test_quiet_gives_none_and_the_next_event_still_arrives() -> None:
    bus = MemoryBus()
    async with bus.subscribe("t.*") as subscription:
        assert await events.next_within(subscription, 0.01) is None
        bus.publish("t.1", {"n": 1})
        event = await events.next_within(subscription, 5)
        assert event is not None and event.topic == "t.1" and event.payload == {"n": 1}


@pytest.mark.parametrize("turns", range(6))
async def test_a_cancelled_waiter_stops_even_when_an_event_arrives_at_once(turns: int) -> None:
    """The cancel lands ``turns`` loop turns after the event: one of them is the instant
    the event has reached the waiter but the waiter has not resumed yet."""
    bus = MemoryBus()
    async with bus.subscribe("t") as subscription:

        async def follow() -> None:
            while True:
                await events.next_within(subscription, 5)

        task = asyncio.create_task(follow())
        await asyncio.sleep(0.01)
        bus.publish("t", {})
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        assert done and task.cancelled()

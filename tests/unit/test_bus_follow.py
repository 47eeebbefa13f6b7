"""A live page's batches: a burst on the bus reaches the page as one batch, not one update
per event; a quiet bus gives an empty batch (the page then checks it is still open)."""

from __future__ import annotations

import asyncio

import pytest

from engine import events
from engine.events import MemoryBus
from flowbot_ui.state import bus_follow


async def test_a_burst_is_one_batch_and_later_events_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bus_follow, "POLL_SECONDS", 0.05)
    bus = MemoryBus()
    async with bus.subscribe("execution.*", "moderation.action") as subscription:
        for n in range(200):
            bus.publish(f"execution.{n}", {"type": "step", "n": n})
        bus.publish("moderation.action", {"log_id": 1})
        bus.publish("elsewhere", {})
        burst = await bus_follow._next_batch(subscription, window=0.05)
        assert [e.payload.get("n") for e in burst[:-1]] == list(range(200))
        assert burst[-1].topic == "moderation.action"
        assert await bus_follow._next_batch(subscription, window=0.05) == []
        bus.publish("execution.7", {"type": "execution", "status": "succeeded"})
        [single] = await bus_follow._next_batch(subscription, window=0)
        assert single.payload["status"] == "succeeded"


class OpenPage:
    """The little of a page's state the loop touches: its lock, route, watcher and user."""

    def __init__(self) -> None:
        self._watching, self.current_path = 0, "/"
        self.batches: list[list[str]] = []
        self.quiet = 0

    async def __aenter__(self) -> OpenPage:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def _resolve(self) -> object:
        return object()  # still signed in


async def test_quiet_polls_run_on_quiet_and_events_on_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dashboard draws a chart held back by its rate limit at the next quiet poll."""
    monkeypatch.setattr(bus_follow, "POLL_SECONDS", 0.05)
    page = OpenPage()

    def on_batch(batch: list[events.BusEvent]) -> None:
        page.batches.append([e.topic for e in batch])

    def on_quiet() -> None:
        page.quiet += 1
        if page.quiet == 1:
            events.publish("moderation.action", {"log_id": 1})
        elif page.quiet == 2:
            page.current_path = "/elsewhere"  # the page was left: the loop ends

    await asyncio.wait_for(
        bus_follow.follow_batches(
            page, ("moderation.action",), on_batch, window=0.01, on_quiet=on_quiet
        ),
        5,
    )
    assert page.batches == [["moderation.action"]]
    assert page.quiet == 2

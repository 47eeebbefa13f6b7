"""A live page's batches: a burst on the bus reaches the page as one batch, not one update
per event; a quiet bus gives an empty batch (the page then checks it is still open)."""

from __future__ import annotations

import pytest

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

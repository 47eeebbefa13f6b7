"""The in-memory bus finds exact subscribers by topic and matches only glob patterns."""

from __future__ import annotations

import asyncio

from engine.events import BusEvent, MemoryBus, replay_logs


async def drained(subscription: object) -> list[tuple[str, int]]:
    """What the subscription holds once the loop has handed it every delivery."""
    await asyncio.sleep(0)  # deliveries are scheduled on the loop: let them land
    got: list[BusEvent] = []
    queue = subscription._queue  # type: ignore[attr-defined]
    while not queue.empty():
        got.append(queue.get_nowait())
    return [(event.topic, event.payload["n"]) for event in got]


async def test_each_subscription_gets_each_matching_event_once() -> None:
    bus = MemoryBus()
    exact = bus.subscribe("execution.1")
    both = bus.subscribe("execution.1", "execution.*")
    ranged = bus.subscribe("flow.[12]")
    for n, topic in enumerate(["execution.1", "execution.2", "flow.1", "flow.3", "flow.2"]):
        bus.publish(topic, {"n": n})
    assert await drained(exact) == [("execution.1", 0)]
    assert await drained(both) == [("execution.1", 0), ("execution.2", 1)]
    assert await drained(ranged) == [("flow.1", 2), ("flow.2", 4)]


async def test_a_closed_subscription_leaves_no_trace() -> None:
    bus = MemoryBus()
    first, second = bus.subscribe("execution.1"), bus.subscribe("execution.1", "flow.*")
    await first.close()
    bus.publish("execution.1", {"n": 1})
    assert await drained(first) == []
    assert await drained(second) == [("execution.1", 1)]
    await second.close()
    assert bus._by_topic == {} and bus._globbing == []


async def test_one_publish_on_several_topics_is_an_event_on_each_in_order() -> None:
    bus = MemoryBus()
    watcher = bus.subscribe("execution.3", "flow.*")
    bus.publish("execution.3", {"n": 1}, "flow.9", "execution.4")
    assert await drained(watcher) == [("execution.3", 1), ("flow.9", 1)]
    kept = bus.replay(["execution.*", "flow.9"], 0)
    assert [(e.topic, e.payload) for e in kept] == [
        ("execution.3", {"n": 1}), ("flow.9", {"n": 1}), ("execution.4", {"n": 1})
    ]  # fmt: skip
    assert len({e.id for e in kept}) == 3


def test_replay_logs_are_found_by_the_topic_head() -> None:
    assert replay_logs("execution.12") == ["execution.*"]
    assert replay_logs("connection.3") == ["connection.*"]
    assert replay_logs("flow.7") == ["flow.7"]
    for topic in ("executions.changed", "flows.changed", "execution", "ended.5", "flow"):
        assert replay_logs(topic) == [], topic

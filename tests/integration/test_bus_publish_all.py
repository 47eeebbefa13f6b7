"""A run's held step events and its end go to Redis together (issue 15): one hand-over,
one call of the publishing script, in order, with growing ids and kept for replay."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from engine import events
from tests.services import redis_url_or_skip


@pytest.fixture
def redis_bus() -> Iterator[events.RedisBus]:
    url = redis_url_or_skip()
    namespace = f"flowbot_t_{uuid.uuid4().hex[:10]}"
    bus = events.RedisBus(url, namespace)
    yield bus
    bus.flush()
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{namespace}:*"))
    if keys:
        client.delete(*keys)
    client.close()


async def test_publish_all_is_one_round_trip_in_order(redis_bus: events.RedisBus) -> None:
    calls: list[int] = []
    script = redis_bus._script

    def counted(*, keys: list[str], args: list[Any]) -> Any:
        calls.append(len(json.loads(args[2])))  # events in this call
        return script(keys=keys, args=args)

    redis_bus._script = counted  # type: ignore[assignment]
    async with redis_bus.subscribe("execution.*", "flow.*") as subscription:
        redis_bus.publish_all(
            [
                ("execution.1", {"n": 1}, ("flow.7",)),
                ("execution.1", {"n": 2}, ("flow.7",)),
                ("ended.1", {"n": 3}, ()),
                ("execution.1", {"n": 4, "text": "é"}, ()),
            ]
        )
        got = [await asyncio.wait_for(anext(subscription), 5) for _ in range(5)]
    redis_bus.flush()
    assert calls == [6]
    assert [(e.topic, e.payload["n"]) for e in got] == [
        ("execution.1", 1), ("flow.7", 1), ("execution.1", 2), ("flow.7", 2), ("execution.1", 4)
    ]  # fmt: skip
    assert got[-1].payload["text"] == "é"
    ids = [e.id or 0 for e in got]
    assert ids == sorted(set(ids))
    kept = redis_bus.replay(["execution.*", "flow.7"], 0)
    assert [e.payload["n"] for e in kept] == [1, 1, 2, 2, 4]

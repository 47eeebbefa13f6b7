"""The idempotency cache, the reconciler and the event forwarder of the connector kit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.kit.dedupe import IdempotencyCache
from connectors.kit.forwarder import EventForwarder
from connectors.kit.reconciler import Reconciler
from engine.action_errors import ActionError, ErrorKind
from engine.platform_event import PlatformEvent


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_dedupe_answers_a_repeated_key_from_the_cache() -> None:
    cache, calls = IdempotencyCache(ttl=60), []

    async def act() -> dict[str, Any]:
        calls.append(1)
        return {"message_id": str(len(calls))}

    first = await cache.run("k1", act)
    assert await cache.run("k1", act) == first == {"ok": True, "result": {"message_id": "1"}}
    assert len(calls) == 1


async def test_dedupe_concurrent_twins_share_one_call() -> None:
    cache, started = IdempotencyCache(), asyncio.Event()
    calls = 0

    async def slow() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.sleep(0.05)
        return {"n": calls}

    results = await asyncio.gather(cache.run("k", slow), cache.run("k", slow))
    assert results[0] == results[1] and calls == 1


async def test_dedupe_forgets_retryable_errors_and_expired_keys() -> None:
    clock = Clock()
    cache = IdempotencyCache(ttl=10, max_size=2, clock=clock)

    async def limited() -> dict[str, Any]:
        raise ActionError(ErrorKind.rate_limited, "later", retry_after=3)

    async def refused() -> dict[str, Any]:
        raise ActionError(ErrorKind.platform, "chat not found")

    outcome = await cache.run("a", limited)
    assert outcome["error"]["kind"] == "rate_limited" and cache.get("a") is None
    await cache.run("b", refused)
    assert cache.get("b") is not None
    clock.now = 11
    assert cache.get("b") is None


async def test_dedupe_is_bounded() -> None:
    cache = IdempotencyCache(max_size=2)

    async def ok() -> dict[str, Any]:
        return {}

    for key in "abc":
        await cache.run(key, ok)
    assert len(cache) == 2 and cache.get("a") is None


async def test_reconciler_starts_stops_and_restarts_changed() -> None:
    log: list[tuple[str, int]] = []

    async def start(item: tuple[int, str]) -> None:
        log.append(("start", item[0]))

    async def stop(key: int) -> None:
        log.append(("stop", key))

    rec: Reconciler[tuple[int, str], int] = Reconciler(start, stop, lambda i: i[0], lambda i: i[1])
    await rec.reconcile([(1, "a"), (2, "a")])
    result = await rec.reconcile([(2, "b"), (3, "a")])
    assert result.started == [3] and result.stopped == [1] and result.restarted == [2]
    assert rec.running == {2, 3}
    assert log[2:] == [("stop", 1), ("stop", 2), ("start", 2), ("start", 3)]
    assert not (await rec.reconcile([(2, "b"), (3, "a")])).changed


async def test_reconciler_retries_a_failed_start_next_time() -> None:
    attempts = 0

    async def start(item: int) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("boom")

    async def stop(key: int) -> None:
        return None

    rec: Reconciler[int, int] = Reconciler(start, stop, lambda i: i, lambda i: i)
    assert (await rec.reconcile([1])).failed == [1]
    assert (await rec.reconcile([1])).started == [1]


@pytest.mark.parametrize("async_sink", [False, True])
async def test_forwarder_hands_the_trigger_json_to_the_sink(async_sink: bool) -> None:
    received: list[dict[str, Any]] = []

    def sink(payload: dict[str, Any]) -> None:
        received.append(payload)

    async def async_sink_fn(payload: dict[str, Any]) -> None:
        received.append(payload)

    forward = EventForwarder(async_sink_fn if async_sink else sink)
    event = PlatformEvent(event_id="x:1", kind="tg_message", platform="telegram", text="hi")
    await forward(event)
    assert received == [event.as_trigger()] and forward.stats() == {"forwarded": 1, "failed": 0}


async def test_forwarder_survives_a_failing_sink() -> None:
    def broken(payload: dict[str, Any]) -> None:
        raise ConnectionError("broker down")

    forward = EventForwarder(broken)
    await forward(PlatformEvent(event_id="x:2", kind="tg_message", platform="telegram"))
    assert forward.stats() == {"forwarded": 0, "failed": 1}

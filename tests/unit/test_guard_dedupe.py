"""The idempotency cache at its edges: the exact expiry moment, the default bounds, a first
call interrupted while a twin waits, and a waiting twin cancelled (the first call goes on)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.kit.dedupe import IdempotencyCache
from engine.action_errors import ActionError, ErrorKind


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def ok() -> dict[str, Any]:
    return {"done": True}


async def test_a_key_expires_exactly_at_its_ttl() -> None:
    clock = Clock()
    cache = IdempotencyCache(ttl=10, clock=clock)
    await cache.run("k", ok)
    clock.now = 9.999
    assert cache.get("k") == {"ok": True, "result": {"done": True}}
    clock.now = 10.0
    assert cache.get("k") is None and len(cache) == 0


async def test_default_bounds_are_ten_minutes_and_ten_thousand_keys() -> None:
    clock = Clock()
    cache = IdempotencyCache(clock=clock)
    for number in range(10_001):
        await cache.run(str(number), ok)
    assert len(cache) == 10_000 and cache.get("0") is None and cache.get("1") is not None
    clock.now = 599.0
    assert cache.get("10000") is not None
    clock.now = 600.0
    assert cache.get("10000") is None


async def test_expiry_keeps_the_younger_keys() -> None:
    clock = Clock()
    cache = IdempotencyCache(ttl=10, clock=clock)
    await cache.run("old", ok)
    clock.now = 5
    await cache.run("young", ok)
    clock.now = 12
    assert cache.get("old") is None and cache.get("young") is not None


async def test_without_a_key_every_call_acts() -> None:
    cache, calls = IdempotencyCache(), []

    async def act() -> dict[str, Any]:
        calls.append(1)
        return {}

    for key in (None, ""):
        await cache.run(key, act)
        await cache.run(key, act)
    assert len(calls) == 4 and len(cache) == 0


async def test_a_twin_of_an_interrupted_call_is_told_to_retry() -> None:
    cache, started = IdempotencyCache(), asyncio.Event()

    async def hangs() -> dict[str, Any]:
        started.set()
        await asyncio.Event().wait()
        return {}

    first = asyncio.create_task(cache.run("k", hangs))
    await started.wait()
    twin = asyncio.create_task(cache.run("k", ok))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    answer = await twin
    assert answer == {
        "ok": False,
        "error": ActionError(
            ErrorKind.unavailable, "the first call with this idempotency key was interrupted"
        ).to_dict(),
    }
    assert cache.get("k") is None  # the next try acts
    assert await cache.run("k", ok) == {"ok": True, "result": {"done": True}}


async def test_cancelling_a_waiting_twin_leaves_the_first_call_alone() -> None:
    cache, release = IdempotencyCache(), asyncio.Event()

    async def slow() -> dict[str, Any]:
        await release.wait()
        return {"n": 1}

    first = asyncio.create_task(cache.run("k", slow))
    await asyncio.sleep(0)
    twin = asyncio.create_task(cache.run("k", slow))
    await asyncio.sleep(0)
    twin.cancel()
    with pytest.raises(asyncio.CancelledError):
        await twin
    release.set()
    assert await first == {"ok": True, "result": {"n": 1}}
    assert cache.get("k") == {"ok": True, "result": {"n": 1}}

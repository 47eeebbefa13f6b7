"""Stopping a child task: the caller's own cancellation, arriving while the child is still
stopping, must reach the caller (a supervisor swallowed it and never stopped)."""

from __future__ import annotations

import asyncio

from engine.child_tasks import cancel_and_wait


async def lingering_child(released: asyncio.Event, stopped: list[str]) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        await released.wait()  # still cleaning up when the parent is cancelled
        stopped.append("child")


async def test_the_callers_cancellation_is_not_taken_for_the_childs() -> None:
    released, stopped = asyncio.Event(), []
    after_stop: list[str] = []

    async def parent() -> None:
        child = asyncio.create_task(lingering_child(released, stopped))
        await asyncio.sleep(0)
        await cancel_and_wait(child, timeout=10)
        after_stop.append("the parent ran on")
        await asyncio.Event().wait()

    task = asyncio.create_task(parent())
    await asyncio.sleep(0.01)  # the parent is now waiting for the child to stop
    task.cancel()
    released.set()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done and task.cancelled()
    assert after_stop == []


async def test_a_child_that_stops_returns_true_and_one_that_hangs_false() -> None:
    released, stopped = asyncio.Event(), []
    released.set()
    child = asyncio.create_task(lingering_child(released, stopped))
    await asyncio.sleep(0)
    assert await cancel_and_wait(child, timeout=5) is True
    assert stopped == ["child"] and child.cancelled()

    stuck = asyncio.Event()
    hanging = asyncio.create_task(lingering_child(stuck, stopped))
    await asyncio.sleep(0)
    assert await cancel_and_wait(hanging, timeout=0.05) is False
    stuck.set()
    await asyncio.wait({hanging})


async def test_a_child_failing_while_it_stops_is_reported_not_raised() -> None:
    async def failing() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            raise RuntimeError("broke while stopping")

    child = asyncio.create_task(failing())
    await asyncio.sleep(0)
    assert await cancel_and_wait(child, timeout=5) is True
    assert isinstance(child.exception(), RuntimeError)

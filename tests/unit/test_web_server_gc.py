"""The web server's garbage collector tuning after start-up (flowbot/web_server.py)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from flowbot import web_server


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """The test process's collector as it was: the tuning is for the server's process."""
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


async def test_start_up_objects_are_frozen_and_young_collections_rarer(
    restored_gc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept_from_start: object = type("StartUp", (), {})()
    gc.unfreeze()
    generations: list[int] = []  # of the collections the tuning itself runs
    tune = web_server.tune_gc

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    def watched_tune() -> None:
        gc.callbacks.append(seen)
        try:
            tune()
        finally:
            gc.callbacks.remove(seen)

    monkeypatch.setattr(web_server, "tune_gc", watched_tune)
    web_server.tune_gc_after_start(0.01)
    assert gc.get_freeze_count() == 0  # not yet: start-up is not over
    tuned = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.05, tuned.set_result, None)  # after the tuning
    await asyncio.wait_for(tuned, 5)
    assert generations  # it collected the young generations first
    assert gc.get_freeze_count() > 0
    assert 2 not in generations  # no full collection: a pause of the whole server
    assert gc.get_threshold()[0] == web_server.GC_GEN0_THRESHOLD
    assert not any(o is kept_from_start for o in gc.get_objects())  # walked no more

"""Timing service reads the way a page makes them: each call in its own transaction, off
the event loop, as a viewer (the shared loop of the analytics, dashboard and moderation
benches)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bench.engine import measure

Read = Callable[[Any, Any], object]  # read(session, viewer)


def viewer_call(read: Read) -> Callable[[int], Awaitable[None]]:
    """``read(session, viewer)`` in its own transaction off the event loop, once a call."""
    from engine.db import session_scope  # after the bench has pointed the settings at its database
    from engine.models import AdminUser, Role

    viewer = AdminUser(username="bench", role=Role.viewer, password_hash="")

    def once() -> None:
        with session_scope() as session:
            read(session, viewer)

    async def run_one(_: int) -> None:
        await asyncio.to_thread(once)

    return run_one


async def measure_reads(
    cases: list[tuple[str, Read]], n: int, warmup: int
) -> list[tuple[str, dict[str, Any]]]:
    """Each case warmed up, then measured (bench.engine.measure); rows for print_figures."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for title, read in cases:
        run_one = viewer_call(read)
        for i in range(warmup):
            await run_one(i)
        rows.append((title, await measure(run_one, n)))
    return rows

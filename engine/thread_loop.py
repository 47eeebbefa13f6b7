"""One event loop per worker thread, for Dramatiq actors (synchronous) that run coroutines.

The loop is kept across messages so per-loop clients (HTTP to the connector pool) are reused
rather than reopened for each message.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_local = threading.local()


def run_on_thread_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end on this thread's loop (created on first use)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coro)


def drop_thread_loop() -> None:
    """Close this thread's loop after an interrupt; the next message gets a fresh one."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    _local.loop = None
    if loop is not None and not loop.is_closed():
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.close()

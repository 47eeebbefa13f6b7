"""Stopping a child task without swallowing the caller's own cancellation.

The usual ``task.cancel()`` then ``with suppress(CancelledError): await task`` cannot tell the
child's CancelledError from one aimed at the caller: a supervisor stopped while it was
stopping a connector swallowed its own stop and ran on (seen in CI). ``asyncio.wait``
neither raises the child's outcome nor cancels anything on its timeout."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[Any], timeout: float | None = None) -> bool:
    """Cancel ``task`` and wait until it ends (at most ``timeout`` seconds); True if it
    ended. A cancellation of the caller meanwhile propagates as it should."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        log.warning("task %s did not stop within %s s", task.get_name(), timeout)
        return False
    if not task.cancelled() and task.exception() is not None:
        log.warning("task %s ended with an error while stopping", task.get_name(),
                    exc_info=task.exception())  # fmt: skip
    return True

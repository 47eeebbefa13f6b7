"""A page that follows the event bus while it is open: one loop for every such page.

The bus only says "look again" (engine/events.py); what is shown is read from the
database. The loop runs as a Reflex background task and hands each event to the page's
state under its lock, for as long as that page is still open on the route it started
on, its viewer still signed in, and no newer watcher (the page was loaded again) took
over; after ``WATCH_SECONDS`` it stops (loading the page again follows again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engine import events

WATCH_SECONDS = 3600
POLL_SECONDS = 15
"""How often a quiet watcher checks that its page is still open."""


async def follow(
    state: Any,
    pattern: str,
    on_event: Callable[[events.BusEvent], None],
    *,
    on_start: Callable[[], None] | None = None,
) -> None:
    """Call ``on_event`` for each event on topics matching ``pattern`` while the page is
    open; ``on_start`` once subscribed (to catch up on what happened before that).

    ``state`` is the page's state (an AuthState with an int ``_watching`` backend var)."""
    async with state:
        state._watching += 1
        mine, path = state._watching, state.current_path
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WATCH_SECONDS
    async with events.subscribe(pattern) as subscription:
        await subscription.started()
        if on_start is not None:
            async with state:
                on_start()
        while loop.time() < deadline:
            try:
                event = await asyncio.wait_for(anext(subscription), POLL_SECONDS)
            except TimeoutError:
                event = None
            async with state:
                if state._watching != mine or state.current_path != path:
                    return
                if event is not None:
                    if state._resolve() is None:  # signed out (or revoked) meanwhile
                        return
                    on_event(event)

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

    def each(batch: list[events.BusEvent]) -> None:
        for event in batch:
            on_event(event)

    await follow_batches(state, (pattern,), each, on_start=on_start)


async def follow_batches(
    state: Any,
    patterns: tuple[str, ...],
    on_batch: Callable[[list[events.BusEvent]], None],
    *,
    on_start: Callable[[], None] | None = None,
    window: float = 0.0,
    on_quiet: Callable[[], None] | None = None,
) -> None:
    """As :func:`follow`, on several (disjoint) patterns, with the events that arrive
    within ``window`` seconds of a first one handed over together: a burst (a flow's
    hundred steps) costs the page one reload and the browser one update, not a hundred.
    ``on_quiet`` runs after each ``POLL_SECONDS`` without events (to draw late what a
    page held back)."""
    async with state:
        state._watching += 1
        mine, path = state._watching, state.current_path
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WATCH_SECONDS
    async with events.subscribe(*patterns) as subscription:
        await subscription.started()
        if on_start is not None:
            async with state:
                on_start()
        while loop.time() < deadline:
            batch = await _next_batch(subscription, window)
            async with state:
                if state._watching != mine or state.current_path != path:
                    return
                if batch or on_quiet is not None:
                    if state._resolve() is None:  # signed out (or revoked) meanwhile
                        return
                    if batch:
                        on_batch(batch)
                    elif on_quiet is not None:
                        on_quiet()


async def _next_batch(subscription: events.Subscription, window: float) -> list[events.BusEvent]:
    """The next event and those that follow it within ``window`` seconds; none after
    ``POLL_SECONDS`` of quiet (the caller then checks that its page is still open)."""
    first = await events.next_within(subscription, POLL_SECONDS)
    if first is None:
        return []
    batch = [first]
    loop = asyncio.get_running_loop()
    until = loop.time() + window
    while (left := until - loop.time()) > 0:
        event = await events.next_within(subscription, left)
        if event is None:
            break
        batch.append(event)
    return batch

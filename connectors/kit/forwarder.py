"""EventForwarder: hands each PlatformEvent to the engine's ``route_event`` actor.

The connector process keeps nothing: routing, matching and storing happen in the
engine. The actor is imported on first use (the engine module is optional at import
time, and tests inject a sink instead).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from engine.models.base import utcnow
from engine.platform_event import PlatformEvent

log = logging.getLogger(__name__)

# Receives the event's trigger JSON; may be sync (Dramatiq's ``send``) or async.
Sink = Callable[[dict[str, Any]], Awaitable[None] | None]


def route_event_sink(payload: dict[str, Any]) -> None:
    """Enqueue the event for ``engine.actors.route_event`` (blocking: run it in a thread)."""
    from engine.actors import route_event

    route_event.send(payload)


class EventForwarder:
    """Callable as a connector's ``emit``; counts what it forwarded and what failed."""

    def __init__(self, sink: Sink | None = None) -> None:
        self._sink = sink
        self.forwarded = 0
        self.failed = 0
        # Per bot instance, when its last event went through (ISO): the status page's
        # "last event", carried by the supervisor's heartbeat (engine/heartbeats.py).
        self.last_event_at: dict[int, str] = {}

    async def __call__(self, event: PlatformEvent) -> None:
        await self.forward(event)

    async def forward(self, event: PlatformEvent) -> bool:
        """Send the event to the broker; whether it went through (a failure is logged)."""
        payload = event.as_trigger()
        try:
            if self._sink is None:
                await asyncio.to_thread(route_event_sink, payload)
            else:
                result = self._sink(payload)
                if inspect.isawaitable(result):
                    await result
        except Exception:
            # A broker hiccup must not kill the platform client; the update is lost,
            # which is logged (without its content) and counted for /health.
            self.failed += 1
            log.exception("could not forward %s event %s", event.kind, event.event_id)
            return False
        self.forwarded += 1
        if event.instance_id is not None:
            self.last_event_at[event.instance_id] = utcnow().isoformat()
        return True

    def stats(self) -> dict[str, int]:
        return {"forwarded": self.forwarded, "failed": self.failed}

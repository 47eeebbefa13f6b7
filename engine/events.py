"""The event bus: executions' steps and statuses, connection status, live UI updates.

Two backends with one API. In embedded mode everything runs in one process, so an
in-memory pub/sub is enough; scaled mode has web, worker and connector processes on
several machines, so the bus is Redis pub/sub. ``publish`` never blocks the caller and
may be called from any thread (Dramatiq worker threads, event loops); ``subscribe``
gives an async iterator of :class:`BusEvent` for topics matching a glob pattern
(``execution.42``, ``flow.*``).

Delivery is best effort, as pub/sub is: a subscriber that falls behind loses the oldest
events, and nothing is replayed. Durable state is in the database; the bus only says
"look again".
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import queue
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from pydantic_core import to_jsonable_python

from engine.settings import get_settings

log = logging.getLogger("flowbot.events")

SUBSCRIBER_BUFFER = 1000
"""Events a slow subscriber may lag behind before the oldest are dropped."""


@dataclass(frozen=True)
class BusEvent:
    topic: str
    payload: dict[str, Any]


class Subscription(Protocol):
    """An async iterator of events; also an async context manager that unsubscribes."""

    async def started(self) -> None: ...
    async def close(self) -> None: ...
    def __aiter__(self) -> AsyncIterator[BusEvent]: ...
    async def __anext__(self) -> BusEvent: ...
    async def __aenter__(self) -> Subscription: ...
    async def __aexit__(self, *exc: object) -> None: ...


class EventBus(Protocol):
    def publish(self, topic: str, payload: dict[str, Any]) -> None: ...
    def subscribe(self, topic_pattern: str) -> Subscription: ...


class _QueueSubscription:
    """A subscriber's buffer, fed from any thread through its event loop."""

    def __init__(self, bus: MemoryBus, pattern: str) -> None:
        self.pattern = pattern
        self._bus = bus
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[BusEvent] = asyncio.Queue(SUBSCRIBER_BUFFER)

    def deliver(self, event: BusEvent) -> None:
        """Called from any thread: hand the event to the subscriber's loop."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: the subscriber is gone
            self._loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: BusEvent) -> None:
        if self._queue.full():
            self._queue.get_nowait()  # drop the oldest: a slow reader must not stall publishers
        self._queue.put_nowait(event)

    async def started(self) -> None:
        """Subscribed from construction on; here for the API shared with Redis."""

    async def close(self) -> None:
        self._bus._remove(self)

    def __aiter__(self) -> _QueueSubscription:
        return self

    async def __anext__(self) -> BusEvent:
        return await self._queue.get()

    async def __aenter__(self) -> _QueueSubscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class MemoryBus:
    """Pub/sub within one process (embedded mode and tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[_QueueSubscription] = []

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        event = BusEvent(topic, to_jsonable_python(payload))
        with self._lock:
            targets = [s for s in self._subscribers if fnmatch.fnmatchcase(topic, s.pattern)]
        for subscription in targets:
            subscription.deliver(event)

    def subscribe(self, topic_pattern: str) -> _QueueSubscription:
        subscription = _QueueSubscription(self, topic_pattern)
        with self._lock:
            self._subscribers.append(subscription)
        return subscription

    def _remove(self, subscription: _QueueSubscription) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)


class _RedisSubscription:
    def __init__(self, url: str, prefix: str, pattern: str) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.Redis.from_url(url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._pattern = prefix + pattern
        self._subscribed = False

    async def started(self) -> None:
        """Wait until Redis confirmed the subscription: later publishes are then seen."""
        if not self._subscribed:
            await self._pubsub.psubscribe(self._pattern)
            self._subscribed = True

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        await self._client.aclose()

    def __aiter__(self) -> _RedisSubscription:
        return self

    async def __anext__(self) -> BusEvent:
        await self.started()
        while True:
            message = await self._pubsub.get_message(timeout=None)
            if message is None or message.get("type") != "pmessage":
                continue
            try:
                body = json.loads(message["data"])
                return BusEvent(body["topic"], body["payload"])
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed bus message on %s", message.get("channel"))

    async def __aenter__(self) -> _RedisSubscription:
        await self.started()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class RedisBus:
    """Pub/sub across processes; publishing goes through one background thread so the
    caller (often an event loop) never waits on the network."""

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self.url = url
        # Channels share the namespace of Flowbot's other Redis keys: installs can share Redis.
        self.prefix = f"{namespace}:bus:"
        self._client = redis.Redis.from_url(url)
        self._outbox: queue.SimpleQueue[tuple[str, str] | threading.Event] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._send, name="flowbot-bus", daemon=True)
        self._thread.start()

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        body = json.dumps({"topic": topic, "payload": payload}, default=to_jsonable_python)
        self._outbox.put((self.prefix + topic, body))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything published so far was handed to Redis (tests, shutdown)."""
        done = threading.Event()
        self._outbox.put(done)  # a marker: when the thread reaches it, all before are sent
        done.wait(timeout)

    def subscribe(self, topic_pattern: str) -> _RedisSubscription:
        return _RedisSubscription(self.url, self.prefix, topic_pattern)

    def _send(self) -> None:
        while True:
            item = self._outbox.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            channel, body = item
            try:
                self._client.publish(channel, body)
            except Exception:  # the bus is best effort: never kill the publisher thread
                log.warning("could not publish on %s", channel, exc_info=True)


@lru_cache(maxsize=4)
def _bus_for(redis_url: str | None, namespace: str) -> EventBus:
    return RedisBus(redis_url, namespace) if redis_url else MemoryBus()


def get_bus() -> EventBus:
    """The process's bus, following the settings (Redis when ``redis_url`` is set)."""
    settings = get_settings()
    return _bus_for(settings.redis_url, settings.redis_namespace)


def publish(topic: str, payload: dict[str, Any]) -> None:
    """Publish on the configured bus; never raises (the bus is best effort)."""
    try:
        get_bus().publish(topic, payload)
    except Exception:
        log.warning("could not publish on %s", topic, exc_info=True)


def subscribe(topic_pattern: str) -> Subscription:
    return get_bus().subscribe(topic_pattern)

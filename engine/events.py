"""The event bus: executions' steps and statuses, connection status, live UI updates.

Two backends with one API. In embedded mode everything runs in one process, so an
in-memory pub/sub is enough; scaled mode has web, worker and connector processes on
several machines, so the bus is Redis pub/sub. ``publish`` never blocks the caller and
may be called from any thread (Dramatiq worker threads, event loops); ``subscribe``
gives an async iterator of :class:`BusEvent` for topics matching a glob pattern
(``execution.42``, ``flow.*``).

Delivery is best effort, as pub/sub is: a subscriber that falls behind loses the oldest
events. Durable state is in the database; the bus only says "look again".

Each event gets an ``id`` that grows with every publish, and the executions', the
connections' and each flow's events are also kept in a bounded replay log (the last
``REPLAY_SIZE``; in Redis when scaled, so any process can read them), so a client that
lost its connection (the SSE stream of ``/api/v1/events``) can ask for what came after
the last id it saw: :func:`replay`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import itertools
import json
import logging
import queue
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from pydantic_core import to_json, to_jsonable_python

from engine.settings import get_settings

log = logging.getLogger("flowbot.events")

SUBSCRIBER_BUFFER = 1000
"""Events a slow subscriber may lag behind before the oldest are dropped."""
REPLAY_SIZE = 1000
"""Events each replay log keeps."""
REPLAY_TTL_SECONDS = 24 * 3600
"""A replay log nobody wrote to for this long is forgotten (Redis)."""
MEMORY_REPLAY_LOGS = 10_000
"""Replay logs kept in memory (one per flow that ran); the least recently written go."""
_REPLAYED_WHOLE = ("execution.*", "connection.*")  # one log for all these topics
_REPLAYED_EACH = ("flow.*",)  # one log per topic


@dataclass(frozen=True)
class BusEvent:
    topic: str
    payload: dict[str, Any]
    id: int | None = None  # grows with each publish; None from a bus that predates ids


@lru_cache(maxsize=1024)
def _matcher(pattern: str) -> Callable[[str], re.Match[str] | None]:
    """The compiled test of a glob pattern (what ``fnmatch.fnmatchcase`` does each call)."""
    return re.compile(fnmatch.translate(pattern)).match


def _is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def _heads(patterns: tuple[str, ...]) -> dict[str, str]:
    """``{"execution": "execution.*"}``: the replayed patterns are all ``<head>.*``, which
    match the topics under ``<head>.``, so a topic's logs are found by its head alone."""
    if not all(p.endswith(".*") and not _is_glob(p[:-2]) for p in patterns):
        raise ValueError(f"replayed patterns must be '<head>.*': {patterns}")
    return {p[:-2]: p for p in patterns}


_WHOLE_BY_HEAD = _heads(_REPLAYED_WHOLE)
_EACH_BY_HEAD = _heads(_REPLAYED_EACH)


def replay_logs(topic: str) -> list[str]:
    """The replay logs an event on ``topic`` is kept in, each named by the subscription
    pattern that reads it back (``execution.*``, ``flow.7``). Every step publishes twice:
    a dict lookup, not a glob match per pattern."""
    head, dot, _ = topic.partition(".")
    if not dot:
        return []
    whole = _WHOLE_BY_HEAD.get(head)
    logs = [whole] if whole is not None else []
    if head in _EACH_BY_HEAD:
        logs.append(topic)
    return logs


def _after(events: Iterable[BusEvent], after: int) -> list[BusEvent]:
    return sorted((e for e in events if (e.id or 0) > after), key=lambda e: e.id or 0)


class Subscription(Protocol):
    """An async iterator of events; also an async context manager that unsubscribes."""

    async def started(self) -> None: ...
    async def close(self) -> None: ...
    def __aiter__(self) -> AsyncIterator[BusEvent]: ...
    async def __anext__(self) -> BusEvent: ...
    async def __aenter__(self) -> Subscription: ...
    async def __aexit__(self, *exc: object) -> None: ...


Outgoing = tuple[str, dict[str, Any], tuple[str, ...]]
"""An event to publish: its topic, payload and more topics (as :func:`publish` takes them)."""


class EventBus(Protocol):
    def publish(self, topic: str, payload: dict[str, Any], *more: str) -> None: ...
    def publish_all(self, outgoing: list[Outgoing]) -> None: ...
    def subscribe(self, topic_pattern: str, *more: str) -> Subscription: ...
    def replay(self, patterns: Iterable[str], after: int) -> list[BusEvent]: ...


class _QueueSubscription:
    """A subscriber's buffer, fed from any thread through its event loop."""

    def __init__(self, bus: MemoryBus, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self.exact = frozenset(p for p in patterns if not _is_glob(p))
        self.globs = tuple(_matcher(p) for p in patterns if _is_glob(p))
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
    """Pub/sub within one process (embedded mode and tests). Subscribers are found by
    topic in a dict; only those with glob patterns are matched against each topic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_topic: dict[str, list[_QueueSubscription]] = {}
        self._globbing: list[_QueueSubscription] = []
        # Ids start at the clock (µs), so those of a restarted process are above the last run's.
        self._ids = itertools.count(time.time_ns() // 1000)
        self._last_id = 0
        self._logs: OrderedDict[str, deque[BusEvent]] = OrderedDict()

    def publish(self, topic: str, payload: dict[str, Any], *more: str) -> None:
        """An event on ``topic``, then one on each of ``more`` (the payload is converted
        once: a step's events go to its execution's and its flow's topics)."""
        payload = to_jsonable_python(payload)
        with self._lock:  # ids, logs and deliveries in one order, whatever the thread
            for name in (topic, *more):
                self._last_id = next(self._ids)
                self._publish(BusEvent(name, payload, self._last_id))

    def _publish(self, event: BusEvent) -> None:
        topic = event.topic
        for name in replay_logs(topic):
            log_ = self._logs.pop(name, None) or deque(maxlen=REPLAY_SIZE)
            log_.append(event)
            self._logs[name] = log_  # now the most recently written
            if len(self._logs) > MEMORY_REPLAY_LOGS:
                self._logs.popitem(last=False)
        exact = self._by_topic.get(topic, ())
        for subscription in exact:
            subscription.deliver(event)
        for subscription in self._globbing:
            if subscription not in exact and any(m(topic) for m in subscription.globs):
                subscription.deliver(event)

    def publish_all(self, outgoing: list[Outgoing]) -> None:
        """Each event in turn (:meth:`RedisBus.publish_all` is what saves there)."""
        for topic, payload, more in outgoing:
            self.publish(topic, payload, *more)

    def subscribe(self, topic_pattern: str, *more: str) -> _QueueSubscription:
        """Events on topics matching any of the patterns, each once, in publishing order."""
        subscription = _QueueSubscription(self, (topic_pattern, *more))
        with self._lock:
            for topic in subscription.exact:
                self._by_topic.setdefault(topic, []).append(subscription)
            if subscription.globs:
                self._globbing.append(subscription)
        return subscription

    def replay(self, patterns: Iterable[str], after: int) -> list[BusEvent]:
        """The kept events of these logs with an id above ``after``, oldest first (all of
        them when ``after`` is from another run: above any id given out)."""
        with self._lock:
            kept = [e for p in set(patterns) for e in self._logs.get(p, ())]
            last = self._last_id
        return _after(kept, 0 if after > last else after)

    def _remove(self, subscription: _QueueSubscription) -> None:
        with self._lock:
            for topic in subscription.exact:
                listeners = self._by_topic.get(topic, [])
                if subscription in listeners:
                    listeners.remove(subscription)
                if not listeners:
                    self._by_topic.pop(topic, None)
            if subscription in self._globbing:
                self._globbing.remove(subscription)


class _RedisSubscription:
    """Redis sends a message once per pattern it matches: give disjoint patterns."""

    def __init__(self, url: str, prefix: str, patterns: tuple[str, ...]) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.Redis.from_url(url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._patterns = [prefix + pattern for pattern in patterns]
        self._subscribed = False

    async def started(self) -> None:
        """Wait until Redis confirmed the subscription: later publishes are then seen."""
        if not self._subscribed:
            await self._pubsub.psubscribe(*self._patterns)
            self._subscribed = True

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # redis leaves it unannotated
        await self._client.aclose()

    def __aiter__(self) -> _RedisSubscription:
        return self

    async def __anext__(self) -> BusEvent:
        await self.started()
        while True:
            message = await self._pubsub.get_message(timeout=None)
            if message is None or message.get("type") != "pmessage":
                continue
            event = _decoded(message["data"])
            if event is not None:
                return event
            log.warning("ignoring a malformed bus message on %s", message.get("channel"))

    async def __aenter__(self) -> _RedisSubscription:
        await self.started()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _decoded(data: bytes | str) -> BusEvent | None:
    try:
        body = json.loads(data)
        return BusEvent(body["topic"], body["payload"], body.get("id"))
    except (ValueError, KeyError, TypeError):
        return None


# One step per batch, so ids, logs and deliveries keep one order across every publishing
# process, and a batch of events costs one round trip. Each key and each text is sent
# once however many events name it (redis-py packs every argument in Python: a run's end,
# 13 events on 6 keys, was 70 arguments). KEYS: the id counter, then the channels and
# replay logs; ARGV: log size, log ttl, the events as a JSON list of [channel, topic,
# payload, logs...] (indices into KEYS and ARGV; the topic and payload as JSON text), then
# the texts. Each replay log is trimmed and given its ttl once per batch.
_PUBLISH_SCRIPT = """
local size, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local events = cjson.decode(ARGV[3])
local id = redis.call('incrby', KEYS[1], #events) - #events
local touched = {}
for _, e in ipairs(events) do
    id = id + 1
    local body = '{"id":' .. id .. ',"topic":' .. ARGV[e[2]] .. ',"payload":' .. ARGV[e[3]] .. '}'
    for i = 4, #e do
        redis.call('rpush', KEYS[e[i]], body)
        touched[e[i]] = true
    end
    redis.call('publish', KEYS[e[1]], body)
end
for k in pairs(touched) do
    redis.call('ltrim', KEYS[k], -size, -1)
    redis.call('expire', KEYS[k], ttl)
end
return id
"""
PUBLISH_BATCH = 200
"""About the most events one script call publishes (the rest wait for the next round trip)."""


class RedisBus:
    """Pub/sub across processes; publishing goes through one background thread so the
    caller (often an event loop) never waits on the network."""

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self.url = url
        # Channels share the namespace of Flowbot's other Redis keys: installs can share Redis.
        self.prefix = f"{namespace}:bus:"
        self._ids_key = f"{namespace}:bus-id"
        self._log_prefix = f"{namespace}:bus-log:"
        self._client = redis.Redis.from_url(url)
        self._script = self._client.register_script(_PUBLISH_SCRIPT)
        self._outbox: queue.SimpleQueue[list[tuple[str, str]] | threading.Event] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._send, name="flowbot-bus", daemon=True)
        self._thread.start()

    def publish(self, topic: str, payload: dict[str, Any], *more: str) -> None:
        """As :meth:`MemoryBus.publish`; the payload is encoded once."""
        self._outbox.put(_encoded(topic, payload, more))

    def publish_all(self, outgoing: list[Outgoing]) -> None:
        """The events in one hand-over to the publishing thread, so they leave in one
        round trip (a call of the script costs ~100 µs of CPU, each event in it ~4 µs)."""
        items = [item for event in outgoing for item in _encoded(*event)]
        for start in range(0, len(items), PUBLISH_BATCH):
            self._outbox.put(items[start : start + PUBLISH_BATCH])

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything published so far was handed to Redis (tests, shutdown)."""
        done = threading.Event()
        self._outbox.put(done)  # a marker: when the thread reaches it, all before are sent
        done.wait(timeout)

    def subscribe(self, topic_pattern: str, *more: str) -> _RedisSubscription:
        return _RedisSubscription(self.url, self.prefix, (topic_pattern, *more))

    def replay(self, patterns: Iterable[str], after: int) -> list[BusEvent]:
        """As :meth:`MemoryBus.replay`, from the logs every process writes to."""
        names = sorted(set(patterns))
        with self._client.pipeline(transaction=True) as pipe:
            pipe.get(self._ids_key)
            for name in names:
                pipe.lrange(self._log_prefix + name, 0, -1)
            last, *logs = pipe.execute()
        kept = [e for entries in logs for e in map(_decoded, entries) if e is not None]
        return _after(kept, 0 if after > int(last or 0) else after)

    def _send(self) -> None:
        """Publish what the outbox holds, everything waiting at once: under load a round
        trip carries many events instead of one each."""
        while True:
            batch = [self._outbox.get()]
            size = _size(batch[0])
            while size < PUBLISH_BATCH:
                try:
                    batch.append(self._outbox.get_nowait())
                except queue.Empty:
                    break
                size += _size(batch[-1])
            published = [item for items in batch if isinstance(items, list) for item in items]
            if published:
                self._publish_batch(published)
            for marker in batch:
                if isinstance(marker, threading.Event):
                    marker.set()

    def _publish_batch(self, batch: list[tuple[str, str]]) -> None:
        keys: list[str] = [self._ids_key]
        args: list[str | int] = [REPLAY_SIZE, REPLAY_TTL_SECONDS, ""]
        key_at: dict[str, int] = {}
        arg_at: dict[str, int] = {}

        def key(name: str) -> int:
            if name not in key_at:
                keys.append(name)
                key_at[name] = len(keys)  # Lua counts from 1
            return key_at[name]

        def arg(text: str) -> int:
            if text not in arg_at:
                args.append(text)
                arg_at[text] = len(args)
            return arg_at[text]

        events = [
            [
                key(self.prefix + topic),
                arg(json.dumps(topic)),
                arg(payload),
                *(key(self._log_prefix + name) for name in replay_logs(topic)),
            ]
            for topic, payload in batch
        ]
        args[2] = json.dumps(events)
        try:
            self._script(keys=keys, args=args)
        except Exception:  # the bus is best effort: never kill the publisher thread
            log.warning("could not publish %d events", len(batch), exc_info=True)


def _size(outgoing: list[tuple[str, str]] | threading.Event) -> int:
    return len(outgoing) if isinstance(outgoing, list) else 0


def _encoded(topic: str, payload: dict[str, Any], more: tuple[str, ...]) -> list[tuple[str, str]]:
    """The event on each of its topics, its payload encoded once (pydantic's encoder: a
    fifth of ``json.dumps``'s CPU for a step's event)."""
    body = to_json(payload).decode()
    return [(name, body) for name in (topic, *more)]


@lru_cache(maxsize=4)
def _bus_for(redis_url: str | None, namespace: str) -> EventBus:
    return RedisBus(redis_url, namespace) if redis_url else MemoryBus()


def get_bus() -> EventBus:
    """The process's bus, following the settings (Redis when ``redis_url`` is set)."""
    settings = get_settings()
    return _bus_for(settings.redis_url, settings.redis_namespace)


def publish(topic: str, payload: dict[str, Any], *more: str) -> None:
    """Publish on the configured bus, on ``topic`` and then on each of ``more`` topics;
    never raises (the bus is best effort)."""
    try:
        get_bus().publish(topic, payload, *more)
    except Exception:
        log.warning("could not publish on %s", topic, exc_info=True)


def publish_all(outgoing: list[Outgoing]) -> None:
    """Publish these events in order, handed over at once; never raises."""
    if not outgoing:
        return
    try:
        get_bus().publish_all(outgoing)
    except Exception:
        log.warning("could not publish %d events", len(outgoing), exc_info=True)


def subscribe(topic_pattern: str, *more: str) -> Subscription:
    """Events on topics matching any of the patterns (glob), in publishing order."""
    return get_bus().subscribe(topic_pattern, *more)


def replay(patterns: Iterable[str], after: int) -> list[BusEvent]:
    """Kept events after the id ``after`` in the replay logs of these patterns (see
    :func:`replay_logs`), oldest first; may raise when Redis is unreachable."""
    return get_bus().replay(patterns, after)


async def next_within(subscription: Subscription, seconds: float) -> BusEvent | None:
    """The next event, or None after ``seconds`` of quiet. Not ``wait_for``: on Python 3.11
    it returns an event that arrives as the caller is cancelled and drops the cancellation,
    so a closed page's or stream's loop would run on."""
    getter = asyncio.ensure_future(anext(subscription))
    try:
        done, _ = await asyncio.wait({getter}, timeout=seconds)
    finally:
        if not getter.done():
            getter.cancel()
    if done:
        return getter.result()
    await asyncio.wait({getter})  # cancelled just now, unless an event came meanwhile
    return None if getter.cancelled() else getter.result()

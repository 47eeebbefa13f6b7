"""The Dramatiq broker, chosen from the settings, and a cross-process "do this once" claim.

Scaled (``REDIS_URL`` set): :class:`RedisBroker`. A worker acknowledges a message only
after the actor returns, so a message whose worker dies (even ``kill -9``) stays in that
worker's unacknowledged set. Redis brokers send a heartbeat with every command; once a
worker has been silent for ``worker_heartbeat_timeout_ms``, the next broker command that
also runs queue maintenance (``worker_maintenance_chance`` per million commands) puts its
unacknowledged messages back on their queue. Delayed messages live in Redis too, so a
durable delay survives restarts of every process.

Embedded (no Redis): Dramatiq's own :class:`StubBroker` with a :class:`dramatiq.Worker`
running threads inside the web process. It is the in-memory broker Dramatiq ships, with
delay queues, and the same Worker and middleware run it as in the scaled set-up, so
retries, time limits and delays behave alike. Only durability differs: its messages
vanish with the process, so at start the execution rows are the truth and
``engine.actors.recover_orphans`` sends their messages again (one process owns
everything in embedded mode, so every unfinished execution is an orphan then).
"""

from __future__ import annotations

import contextlib
import threading
import time
from functools import lru_cache
from typing import Any

import dramatiq
import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import compute_backoff, current_millis, dq_name, q_name
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import AgeLimit, Middleware, Retries, ShutdownNotifications, TimeLimit

from engine.settings import Settings, get_settings

QUEUE = "flows"
# engine/actors.py's actor that runs an execution, named here so the executor can start one
# (a Run flow step that does not wait) without importing the actors, which import it.
EXECUTE_FLOW = "execute_flow"
# A message that keeps crashing its actor is retried this often, backing off up to 5 min.
MAX_RETRIES = 5
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 300_000
# An idle consumer of a delay queue polls Redis this often (the work queue's poll is
# engine/worker.py's POLL_MS): each process's delay consumer polled as often as its work
# queue's, half of an idle worker's Redis traffic, though a delay then ends at most this late.
DELAY_POLL_MS = 250
# An empty fetch is followed by a pause of 1-2 times this, doubling up to the poll interval.
MISS_BACKOFF_MS = 10
# Default time limit of an actor; execute_flow sets its own (the execution's budget).
TIME_LIMIT_MS = 10 * 60_000


def _middleware() -> list[Middleware]:
    return [
        AgeLimit(),  # limits are set per actor (max_age): stale events are dropped
        TimeLimit(time_limit=TIME_LIMIT_MS, interval=1000),
        ShutdownNotifications(),
        Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
    ]


class FetchedMessage(MessageProxy):
    """A message with the moment (``time.monotonic``) its consumer fetched it from Redis:
    at that moment Redis held it (engine.worker.SkipForgotten)."""

    def __init__(self, message: dramatiq.Message[Any], fetched_at: float) -> None:
        super().__init__(message)
        self.fetched_at = fetched_at


class _Consumer(_RedisConsumer):
    """Dramatiq's Redis consumer, one round trip per message cheaper: an acknowledgement
    waits for the consumer's next fetch (at most its idle poll, ``worker_timeout``) and
    goes to Redis in that fetch's pipeline instead of on a round trip of its own.

    A process that dies with acknowledgements unsent has its messages delivered again,
    as for one that dies mid-message: every actor is safe to run twice (engine/actors.py).
    Messages come as :class:`FetchedMessage`.
    """

    def __init__(self, broker: RedisBroker, queue_name: str, prefetch: int, timeout: int):
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self._acks: list[str] = []
        self._acks_lock = threading.Lock()
        self._fetched_at = 0.0

    def ack(self, message: MessageProxy) -> None:
        with self._acks_lock:
            self._acks.append(message.options["redis_message_id"])
        self.queued_message_ids.discard(message.message_id)

    def __next__(self) -> FetchedMessage | None:
        """As dramatiq's, with the fetch made by :meth:`_fetch`, the fetch time kept, and
        the first pause after a miss MISS_BACKOFF_MS (dramatiq's 5 ms polled two or three
        times between two messages a few tens of ms apart)."""
        try:
            while True:
                if self.message_cache:
                    data = self.message_cache.pop(0)
                    if data is None:
                        continue
                    self.misses = 0
                    message = dramatiq.Message.decode(data)
                    self.queued_message_ids.add(message.message_id)
                    return FetchedMessage(message, self._fetched_at)
                self.message_cache = self._fetch()
                if not self.message_cache:
                    self.misses, backoff_ms = compute_backoff(
                        self.misses, factor=MISS_BACKOFF_MS, max_backoff=self.timeout
                    )
                    time.sleep(backoff_ms / 1000)
                    return None
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """Send the acknowledgements still waiting (a stopping worker)."""
        # Unsent, their messages are delivered again, which every actor allows.
        with contextlib.suppress(redis.RedisError, ConnectionClosed):
            self._flush(fetch=0)
        super().close()

    def _fetch(self) -> list[bytes]:
        """Up to the prefetch allowance of new messages, with the waiting acknowledgements."""
        wanted = self.prefetch - self.outstanding_message_count
        fetched = self._flush(fetch=max(wanted, 0))
        self._fetched_at = time.monotonic()
        return fetched

    def _flush(self, fetch: int) -> list[bytes]:
        with self._acks_lock:
            acks, self._acks = self._acks, []
        if not acks:
            return list(self.broker.do_fetch(self.queue_name, fetch)) if fetch else []
        try:
            with self.broker.client.pipeline(transaction=False) as pipe:
                for redis_message_id in acks:
                    self._dispatch(pipe, "ack", redis_message_id)
                if fetch:
                    self._dispatch(pipe, "fetch", fetch)
                replies = pipe.execute()
        except redis.exceptions.NoScriptError:  # a restarted Redis: the script loads again
            for redis_message_id in acks:
                self.broker.do_ack(self.queue_name, redis_message_id)
            return list(self.broker.do_fetch(self.queue_name, fetch)) if fetch else []
        except redis.ConnectionError:
            with self._acks_lock:
                self._acks[:0] = acks  # sent with the next fetch, on a new connection
            raise
        return list(replies[-1]) if fetch else []

    def _dispatch(self, pipe: Any, command: str, *args: Any) -> None:
        """Queue dramatiq's dispatch script on ``pipe`` with the arguments its broker's own
        ``do_<command>`` passes (its pipeline would ask Redis for the script first)."""
        broker = self.broker
        pipe.evalsha(
            broker.scripts["dispatch"].sha,
            1,
            broker.namespace,
            command,
            current_millis(),
            self.queue_name,
            broker.broker_id,
            broker.heartbeat_timeout,
            broker.dead_message_ttl,
            broker._should_do_maintenance(command),
            broker._max_unpack_size(),
            *args,
        )


class _Broker(RedisBroker):
    """The Redis broker whose consumers batch their acknowledgements (:class:`_Consumer`),
    and whose delay queues are polled at most every DELAY_POLL_MS when idle."""

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> _Consumer:
        if queue_name == dq_name(q_name(queue_name)):
            timeout = max(timeout, DELAY_POLL_MS)
        return _Consumer(self, queue_name, prefetch, timeout)


def build_broker(settings: Settings) -> dramatiq.Broker:
    """A new broker for these settings (tests use it to reach a worker's Redis)."""
    if settings.is_embedded_broker:
        return StubBroker(middleware=_middleware())
    return _Broker(  # type: ignore[no-untyped-call]  # dramatiq leaves it unannotated
        url=settings.redis_url,
        middleware=_middleware(),
        namespace=f"{settings.redis_namespace}:dramatiq",
        heartbeat_timeout=settings.worker_heartbeat_timeout_ms,
        maintenance_chance=settings.worker_maintenance_chance,
    )


@lru_cache
def get_broker() -> dramatiq.Broker:
    """The process's broker, installed as Dramatiq's global one before actors are declared."""
    broker = build_broker(get_settings())
    dramatiq.set_broker(broker)
    return broker


def pending_messages(queue_name: str = QUEUE) -> list[dramatiq.Message[Any]] | None:
    """Every message Redis holds for ``queue_name``: waiting, delayed, or fetched by a
    worker and not yet acknowledged; None when the broker cannot tell (in-process).

    Read in one MULTI so a message moving between the delay queue and the queue is seen
    in one of them: the sweep of lost executions must never miss a live message, or it
    would send a second one and two workers would run the same execution.
    """
    broker = get_broker()
    if not isinstance(broker, RedisBroker):
        return None
    with broker.client.pipeline(transaction=True) as pipe:
        for name in (queue_name, dq_name(queue_name)):
            pipe.hvals(f"{broker.namespace}:{name}.msgs")
        ready, delayed = pipe.execute()
    return [dramatiq.Message.decode(data) for data in (*ready, *delayed)]


# --- once across processes ------------------------------------------------------------------

_claims: dict[str, float] = {}
_claims_lock = threading.Lock()
# Expired claims are swept at most this often: a sweep on every call costs as much as
# there are live claims, and member ingest claims every routed message for an hour.
_SWEEP_SECONDS = 1.0
_next_sweep = 0.0


def claim_once(key: str, ttl_ms: int) -> bool:
    """True for the first caller of ``key`` within ``ttl_ms``, in every process sharing Redis.

    Lets each worker run a timer while only one of them acts per tick, and lets one
    execution be scheduled to resume only once however many messages woke it.
    """
    settings = get_settings()
    broker = get_broker()
    if isinstance(broker, RedisBroker):
        name = f"{settings.redis_namespace}:once:{key}"
        return bool(broker.client.set(name, b"1", nx=True, px=max(ttl_ms, 1)))
    global _next_sweep
    now = time.monotonic()
    with _claims_lock:
        if now >= _next_sweep:
            for stale in [k for k, until in _claims.items() if until <= now]:
                del _claims[stale]
            _next_sweep = now + _SWEEP_SECONDS
        if _claims.get(key, now) > now:
            return False
        _claims[key] = now + ttl_ms / 1000
        return True


def send_execution(execution_id: int) -> None:
    """Queue an execution for the workers, as ``actors.execute_flow.send`` does."""
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=QUEUE, actor_name=EXECUTE_FLOW, args=(execution_id,), kwargs={}, options={}
    )
    get_broker().enqueue(message)

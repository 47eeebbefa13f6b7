"""The Dramatiq broker, chosen from the settings, and a cross-process "do this once" claim.

Scaled (``REDIS_URL`` set): :class:`~engine.redis_broker.DoorbellBroker`, Dramatiq's
RedisBroker whose idle consumers wait on Redis instead of polling it. A worker
acknowledges a message only after the actor returns, so a message whose worker dies (even
``kill -9``) stays in that worker's unacknowledged set. Redis brokers send a heartbeat with
every command; once a worker has been silent for ``worker_heartbeat_timeout_ms``, queue
maintenance puts its unacknowledged messages back on their queue: a broker command runs it
by chance (``worker_maintenance_chance`` per million commands), and one worker process runs
it every few seconds (engine/worker.py's sweep timer). Delayed messages live in Redis too,
so a durable delay survives restarts of every process.

Embedded (no Redis): Dramatiq's own :class:`StubBroker` with a :class:`dramatiq.Worker`
running threads inside the web process. It is the in-memory broker Dramatiq ships, with
delay queues, and the same Worker and middleware run it as in the scaled set-up, so
retries, time limits and delays behave alike. Only durability differs: its messages
vanish with the process, so at start the execution rows are the truth and
``engine.actors.recover_orphans`` sends their messages again (one process owns
everything in embedded mode, so every unfinished execution is an orphan then).
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name
from dramatiq.middleware import AgeLimit, Middleware, Retries, ShutdownNotifications, TimeLimit

from engine.redis_broker import DoorbellBroker
from engine.settings import Settings, get_settings

QUEUE = "flows"
# engine/actors.py's actor that runs an execution, named here so the executor can start one
# (a Run flow step that does not wait) without importing the actors, which import it.
EXECUTE_FLOW = "execute_flow"
# A message that keeps crashing its actor is retried this often, backing off up to 5 min.
MAX_RETRIES = 5
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 300_000
# Default time limit of an actor; execute_flow sets its own (the execution's budget).
TIME_LIMIT_MS = 10 * 60_000


def _middleware() -> list[Middleware]:
    return [
        AgeLimit(),  # limits are set per actor (max_age): stale events are dropped
        TimeLimit(time_limit=TIME_LIMIT_MS, interval=1000),
        ShutdownNotifications(),
        Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
    ]


def build_broker(settings: Settings) -> dramatiq.Broker:
    """A new broker for these settings (tests use it to reach a worker's Redis)."""
    if settings.is_embedded_broker:
        return StubBroker(middleware=_middleware())
    return DoorbellBroker(
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

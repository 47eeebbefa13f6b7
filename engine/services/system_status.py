"""What the running system looks like: database, Redis, workers, the flow queue, and the
connector supervisors with the instances they hold.

Gathered for ``GET /api/v1/system/status`` and any page that shows the same. Each part is
read on its own and a part that cannot be read says why, so one outage does not hide the
rest. Worker heartbeats are the ones Dramatiq's Redis broker keeps (every process that
talks to the broker, web processes included, beats with each command); supervisors are
known from their leases in ``platform_connection`` (connectors/store.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import dramatiq
import sqlalchemy as sa
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name
from redis.exceptions import RedisError
from sqlmodel import Session, col, select

from engine.broker import QUEUE, get_broker, pending_messages
from engine.models import AdminUser, BotInstance, PlatformConnection, Role, utcnow
from engine.nodes.utility import as_utc
from engine.services.auth import require_role


@dataclass(frozen=True)
class Reachability:
    ok: bool
    latency_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class WorkerBeat:
    """One process consuming (or sending to) the broker, by its last heartbeat."""

    id: str
    last_heartbeat_at: datetime
    alive: bool
    this_process: bool = False
    threads: int | None = None  # known for embedded workers only


@dataclass(frozen=True)
class QueueStatus:
    name: str
    depth: int  # waiting or being worked on (delayed ones apart)
    waiting: int  # not yet fetched by any worker
    delayed: int
    dead_lettered: int
    oldest_age_seconds: float | None  # of the oldest message counted in ``depth``


@dataclass(frozen=True)
class HeldInstance:
    connection_id: int
    instance_id: int
    name: str
    kind: str
    status: str
    active: bool
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None


@dataclass(frozen=True)
class SupervisorStatus:
    owner: str
    alive: bool  # holds at least one unexpired lease
    last_heartbeat_at: datetime | None
    pool_url: str | None
    instances: list[HeldInstance] = field(default_factory=list)


@dataclass(frozen=True)
class SystemStatus:
    mode: str  # "embedded" or "scaled"
    database: Reachability
    redis: Reachability | None  # None: embedded mode uses no Redis
    workers: list[WorkerBeat] | None  # None: could not be read (see redis)
    queue: QueueStatus | None
    supervisors: list[SupervisorStatus]
    unheld: list[HeldInstance]  # active instances no live supervisor holds


def gather(session: Session, viewer: AdminUser) -> SystemStatus:
    """Everything at once, for anyone who may read (viewers included)."""
    require_role(viewer, Role.viewer)
    broker = get_broker()
    scaled = isinstance(broker, RedisBroker)
    redis = _timed(broker.client.ping) if isinstance(broker, RedisBroker) else None
    reachable = redis is None or redis.ok
    supervisors, unheld = _supervisors(session)
    return SystemStatus(
        mode="scaled" if scaled else "embedded",
        database=_timed(lambda: session.execute(sa.text("SELECT 1"))),
        redis=redis,
        workers=_workers(broker) if reachable else None,
        queue=_queue(broker) if reachable else None,
        supervisors=supervisors,
        unheld=unheld,
    )


def _timed(probe: Any) -> Reachability:
    started = time.perf_counter()
    try:
        probe()
    except (RedisError, sa.exc.SQLAlchemyError, OSError) as exc:
        return Reachability(ok=False, error=type(exc).__name__)
    return Reachability(ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2))


def _workers(broker: dramatiq.Broker) -> list[WorkerBeat]:
    if isinstance(broker, RedisBroker):
        now_ms = time.time() * 1000
        key = f"{broker.namespace}:__heartbeats__"
        # The synchronous client answers a list; redis types it for the async one too.
        beats = cast("list[tuple[bytes, float]]", broker.client.zrange(key, 0, -1, withscores=True))
        return [
            WorkerBeat(
                id=member.decode(),
                last_heartbeat_at=datetime.fromtimestamp(score / 1000, UTC),
                alive=now_ms - score < broker.heartbeat_timeout,
                this_process=member.decode() == broker.broker_id,
            )
            for member, score in sorted(beats, key=lambda b: -b[1])
        ]
    # Embedded: the worker threads of this process (Dramatiq hooks each Worker in as middleware).
    running = [
        worker
        for m in broker.middleware
        if isinstance(worker := getattr(m, "worker", None), dramatiq.Worker)
    ]
    return [
        WorkerBeat(
            id=f"embedded-{n}",
            last_heartbeat_at=utcnow(),
            alive=any(thread.is_alive() for thread in worker.workers),
            this_process=True,
            threads=sum(thread.is_alive() for thread in worker.workers),
        )
        for n, worker in enumerate(running, 1)
    ]


def _queue(broker: dramatiq.Broker) -> QueueStatus:
    now_ms = time.time() * 1000
    ready: list[Any]  # messages or placeholders: only counted
    if isinstance(broker, RedisBroker):
        held = pending_messages(QUEUE) or []
        ready = [m for m in held if m.queue_name == QUEUE]
        with broker.client.pipeline(transaction=False) as pipe:
            pipe.llen(f"{broker.namespace}:{QUEUE}")
            pipe.zcard(f"{broker.namespace}:{xq_name(QUEUE)}")
            waiting, dead = pipe.execute()
        stamps = [m.message_timestamp for m in ready]
        delayed = len(held) - len(ready)
    elif isinstance(broker, StubBroker) and QUEUE in broker.queues:
        queue, later = broker.queues[QUEUE], broker.queues[dq_name(QUEUE)]
        with queue.mutex:
            stamps = [dramatiq.Message.decode(data).message_timestamp for data in queue.queue]
        ready, waiting = [None] * queue.unfinished_tasks, queue.qsize()
        delayed, dead = later.unfinished_tasks, len(broker.dead_letters_by_queue[QUEUE])
    else:  # nothing was ever sent in this process
        return QueueStatus(QUEUE, 0, 0, 0, 0, None)
    oldest = round((now_ms - min(stamps)) / 1000, 3) if stamps else None
    return QueueStatus(QUEUE, len(ready), waiting, delayed, dead, oldest)


def _supervisors(session: Session) -> tuple[list[SupervisorStatus], list[HeldInstance]]:
    """Supervisors by their leases; active instances whose lease is free or expired apart."""
    now = utcnow()
    rows = session.exec(
        select(PlatformConnection, BotInstance)
        .join(BotInstance, col(BotInstance.id) == col(PlatformConnection.bot_instance_id))
        .order_by(col(PlatformConnection.id))
    ).all()
    by_owner: dict[str, list[tuple[PlatformConnection, HeldInstance]]] = {}
    unheld: list[HeldInstance] = []
    for connection, instance in rows:
        held = HeldInstance(
            connection_id=connection.id or 0,
            instance_id=instance.id or 0,
            name=instance.name,
            kind=str(instance.kind),
            status=str(connection.status),
            active=connection.is_active,
            lease_expires_at=connection.lease_expires_at,
            heartbeat_at=connection.heartbeat_at,
        )
        live = connection.lease_expires_at is not None and as_utc(connection.lease_expires_at) > now
        if connection.lease_owner:
            by_owner.setdefault(connection.lease_owner, []).append((connection, held))
        if connection.is_active and not (connection.lease_owner and live):
            unheld.append(held)
    return [_supervisor(owner, held, now) for owner, held in sorted(by_owner.items())], unheld


def _supervisor(
    owner: str, held: list[tuple[PlatformConnection, HeldInstance]], now: datetime
) -> SupervisorStatus:
    expiries = [as_utc(c.lease_expires_at) for c, _ in held if c.lease_expires_at]
    beats = [as_utc(c.heartbeat_at) for c, _ in held if c.heartbeat_at]
    pool_urls = [str(c.details["pool_url"]) for c, _ in held if (c.details or {}).get("pool_url")]
    return SupervisorStatus(
        owner=owner,
        alive=any(expiry > now for expiry in expiries),
        last_heartbeat_at=max(beats, default=None),
        pool_url=pool_urls[0] if pool_urls else None,
        instances=[instance for _, instance in held],
    )

"""What the running system looks like: database, Redis, workers, every Dramatiq queue the
app declares, the connector supervisors with the instances they hold, every process's own
heartbeat (engine/heartbeats.py), each active connection's state, the health checks'
history with their incidents (engine/health_check.py), and what is down now, in words.

Gathered for ``GET /api/v1/system/status`` and any page that shows the same. Each part is
read on its own and a part that cannot be read says why, so one outage does not hide the
rest. Worker heartbeats are the ones Dramatiq's Redis broker keeps (every process that
talks to the broker, web processes included, beats with each command); supervisors are
known from their leases in ``platform_connection`` (connectors/store.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import dramatiq
import sqlalchemy as sa
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, q_name, xq_name
from redis.exceptions import RedisError
from sqlmodel import Session, col, select

from engine import heartbeats
from engine.broker import QUEUE, get_broker, pending_messages
from engine.models import AdminUser, BotInstance, PlatformConnection, Role, utcnow
from engine.models.health import HealthCheck, HealthIncident, ProcessHeartbeat
from engine.nodes.utility import as_utc
from engine.services.auth import require_role
from engine.services.connections import explain_error
from engine.services.outages import explain_outage, raw_detail


@dataclass(frozen=True)
class Reachability:
    ok: bool
    latency_ms: float | None = None
    error: str | None = None  # the cause in words
    detail: str | None = None  # the client's own words


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
class ProcessStatus:
    """A web process, worker process or supervisor by its own heartbeat row."""

    kind: str
    key: str
    host: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    alive: bool
    details: dict[str, Any]


@dataclass(frozen=True)
class ConnectionState:
    connection_id: int
    name: str
    kind: str
    status: str
    last_event_at: str | None  # ISO, from the holding supervisor's heartbeat
    last_error: str | None  # the client's own words
    cause: str = ""  # last_error in words ("" without one)


@dataclass(frozen=True)
class CheckRecord:
    checked_at: datetime
    ok: bool
    down: list[str]  # labels of the components down at that check


@dataclass(frozen=True)
class IncidentRecord:
    component: str
    label: str
    error: str
    started_at: datetime
    resolved_at: datetime | None
    notified_down_at: datetime | None
    notified_up_at: datetime | None
    notify_error: str | None
    cause: str = ""  # error in words


@dataclass(frozen=True)
class Problem:
    """Something down now: what, since when (its open incident; None before a health
    check saw it), the cause in words, and the raw text behind it."""

    component: str
    label: str
    since: datetime | None
    cause: str
    detail: str


HISTORY = 50  # checks and incidents shown
# How the health check records a connection down without an error of its client's.
STATUS_ONLY = "status "


@dataclass(frozen=True)
class SystemStatus:
    mode: str  # "embedded" or "scaled"
    database: Reachability
    redis: Reachability | None  # None: embedded mode uses no Redis
    workers: list[WorkerBeat] | None  # None: could not be read (see redis)
    queues: list[QueueStatus] | None  # every queue the app declares; None: see redis
    supervisors: list[SupervisorStatus]
    unheld: list[HeldInstance]  # active instances no live supervisor holds
    processes: list[ProcessStatus] = field(default_factory=list)
    connections: list[ConnectionState] = field(default_factory=list)
    checks: list[CheckRecord] = field(default_factory=list)
    incidents: list[IncidentRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # what is down now


def gather(session: Session, viewer: AdminUser) -> SystemStatus:
    """Everything at once, for anyone who may read (viewers included)."""
    require_role(viewer, Role.viewer)
    broker = get_broker()
    scaled = isinstance(broker, RedisBroker)
    redis = _timed("redis", broker.client.ping) if isinstance(broker, RedisBroker) else None
    reachable = redis is None or redis.ok
    supervisors, unheld = _supervisors(session)
    beats = session.exec(
        select(ProcessHeartbeat).order_by(col(ProcessHeartbeat.kind), col(ProcessHeartbeat.key))
    ).all()
    database = _timed("database", lambda: session.execute(sa.text("SELECT 1")))
    connections = connection_states(session, last_event_times(beats))
    return SystemStatus(
        mode="scaled" if scaled else "embedded",
        database=database,
        redis=redis,
        workers=_workers(broker) if reachable else None,
        queues=[_queue(broker, name) for name in app_queues(broker)] if reachable else None,
        supervisors=supervisors,
        unheld=unheld,
        processes=[_process(beat) for beat in beats],
        connections=connections,
        checks=_checks(session),
        incidents=_incidents(session),
        problems=_problems(session, {"database": database, "redis": redis}, connections),
    )


def _problems(
    session: Session, probes: dict[str, Reachability | None], connections: list[ConnectionState]
) -> list[Problem]:
    """What is down now: the probes that failed just now, then each open incident of the
    health check (with its start; a connection's error explained for its platform)."""
    open_since = {
        row.component: row
        for row in session.exec(
            select(HealthIncident)
            .where(col(HealthIncident.resolved_at).is_(None))
            .order_by(col(HealthIncident.started_at))
        ).all()
    }
    kinds = _connection_kinds(session)
    found: list[Problem] = []
    for component, probe in probes.items():
        if probe is not None and not probe.ok:
            incident = open_since.pop(component, None)
            found.append(
                Problem(
                    component,
                    component.capitalize(),
                    incident.started_at if incident else None,
                    probe.error or "",
                    probe.detail or "",
                )
            )
    # A connection's error now says more than the one its incident opened with.
    errors_now = {f"connection:{c.connection_id}": c.last_error for c in connections}
    for component, incident in open_since.items():
        raw = errors_now.get(component) or incident.error
        cause = _cause(component, raw, kinds)
        found.append(Problem(component, incident.label, incident.started_at, cause, raw))
    return found


def _connection_kinds(session: Session) -> dict[str, str]:
    """Each connection's kind by its health-check component ("connection:<id>")."""
    rows = session.exec(
        select(PlatformConnection.id, BotInstance.kind).join(
            BotInstance, col(BotInstance.id) == col(PlatformConnection.bot_instance_id)
        )
    ).all()
    return {f"connection:{cid}": str(kind) for cid, kind in rows}


def incident_cause(session: Session, component: str, raw: str) -> str:
    """An incident's error in words, as the System status page says it (health notices too)."""
    kinds = _connection_kinds(session) if component.startswith("connection:") else {}
    return _cause(component, raw, kinds)


def _cause(component: str, raw: str, kinds: dict[str, str]) -> str:
    """An incident's error in words: a connection's for its platform, else the outage's."""
    kind = kinds.get(component)
    if kind is None:
        return explain_outage(component, raw)
    if raw.startswith(STATUS_ONLY) or not raw:
        status = raw.removeprefix(STATUS_ONLY) or "not connected"
        return f"Its client was {status}, without an error of its own; the supervisor starts it."
    return explain_error(kind, raw)


def app_queues(broker: dramatiq.Broker) -> list[str]:
    """The queues the app's actors declared in this process (their delay and dead-letter
    queues are counted with them), ``flows`` always."""
    declared = {name for name in broker.get_declared_queues() if name == q_name(name)}
    return sorted(declared | {QUEUE})


def unheld_instances(session: Session) -> list[HeldInstance]:
    """Active instances no live supervisor holds (the health check's "supervisors")."""
    return _supervisors(session)[1]


def last_event_times(beats: Sequence[ProcessHeartbeat]) -> dict[int, str]:
    """Each bot instance's last forwarded event (ISO), from the supervisors' heartbeats."""
    found: dict[int, str] = {}
    for beat in beats:
        for instance_id, at in ((beat.details or {}).get("last_event_at") or {}).items():
            if str(instance_id).isdigit():
                found[int(instance_id)] = max(found.get(int(instance_id), ""), str(at))
    return found


def _process(beat: ProcessHeartbeat) -> ProcessStatus:
    return ProcessStatus(
        kind=beat.kind,
        key=beat.key,
        host=beat.host,
        pid=beat.pid,
        version=beat.version,
        started_at=beat.started_at,
        heartbeat_at=beat.heartbeat_at,
        alive=utcnow() - as_utc(beat.heartbeat_at) <= heartbeats.ALIVE_WITHIN,
        details=beat.details or {},
    )


def connection_states(session: Session, last_events: dict[int, str]) -> list[ConnectionState]:
    """Each active connection: status, last event, last error."""
    rows = session.exec(
        select(PlatformConnection, BotInstance)
        .join(BotInstance, col(BotInstance.id) == col(PlatformConnection.bot_instance_id))
        .where(col(PlatformConnection.is_active))
        .order_by(col(PlatformConnection.id))
    ).all()
    return [
        ConnectionState(
            connection_id=connection.id or 0,
            name=instance.name,
            kind=str(instance.kind),
            status=str(connection.status),
            last_event_at=last_events.get(instance.id or 0),
            last_error=connection.last_error,
            cause=explain_error(instance.kind, connection.last_error or ""),
        )
        for connection, instance in rows
    ]


def _checks(session: Session) -> list[CheckRecord]:
    rows = session.exec(
        select(HealthCheck).order_by(col(HealthCheck.checked_at).desc()).limit(HISTORY)
    ).all()
    return [
        CheckRecord(
            checked_at=row.checked_at,
            ok=row.ok,
            down=[str(r.get("label", "")) for r in row.results if not r.get("ok", True)],
        )
        for row in rows
    ]


def _incidents(session: Session) -> list[IncidentRecord]:
    rows = session.exec(
        select(HealthIncident).order_by(col(HealthIncident.started_at).desc()).limit(HISTORY)
    ).all()
    kinds = _connection_kinds(session)
    return [
        IncidentRecord(
            component=row.component,
            label=row.label,
            error=row.error,
            started_at=row.started_at,
            resolved_at=row.resolved_at,
            notified_down_at=row.notified_down_at,
            notified_up_at=row.notified_up_at,
            notify_error=row.notify_error,
            cause=_cause(row.component, row.error, kinds),
        )
        for row in rows
    ]


def _timed(component: str, probe: Any) -> Reachability:
    started = time.perf_counter()
    try:
        probe()
    except (RedisError, sa.exc.SQLAlchemyError, OSError) as exc:
        detail = raw_detail(exc)
        return Reachability(ok=False, error=explain_outage(component, detail), detail=detail)
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


def _queue(broker: dramatiq.Broker, name: str) -> QueueStatus:
    now_ms = time.time() * 1000
    ready: list[Any]  # messages or placeholders: only counted
    if isinstance(broker, RedisBroker):
        held = pending_messages(name) or []
        ready = [m for m in held if m.queue_name == name]
        with broker.client.pipeline(transaction=False) as pipe:
            pipe.llen(f"{broker.namespace}:{name}")
            pipe.zcard(f"{broker.namespace}:{xq_name(name)}")
            waiting, dead = pipe.execute()
        stamps = [m.message_timestamp for m in ready]
        delayed = len(held) - len(ready)
    elif isinstance(broker, StubBroker) and name in broker.queues:
        queue, later = broker.queues[name], broker.queues[dq_name(name)]
        with queue.mutex:
            stamps = [dramatiq.Message.decode(data).message_timestamp for data in queue.queue]
        ready, waiting = [None] * queue.unfinished_tasks, queue.qsize()
        delayed, dead = later.unfinished_tasks, len(broker.dead_letters_by_queue[name])
    else:  # nothing was ever sent in this process
        return QueueStatus(name, 0, 0, 0, 0, None)
    oldest = round((now_ms - min(stamps)) / 1000, 3) if stamps else None
    return QueueStatus(name, len(ready), waiting, delayed, dead, oldest)


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

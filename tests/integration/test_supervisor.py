"""The connector supervisor on a real database: leases, Telegram client, restarts, pool API.

Every wait is bounded; supervisors use short leases and backoffs so a test takes seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors import store
from connectors.kit.connector import Connector, EmitEvent, InstanceConfig, ReportStatus
from connectors.kit.forwarder import EventForwarder
from connectors.pool_api import start_api
from connectors.registry import connector_factory
from connectors.supervisor import Supervisor
from engine import db, events
from engine.models.base import utcnow
from engine.models.botconfig import BotConfigVersion
from engine.models.connections import (
    BotInstance,
    ConnectionStatus,
    ConnectorKind,
    PlatformConnection,
    PlatformConnectionLog,
)
from engine.models.health import ProcessHeartbeat
from engine.settings import get_settings
from tests.fakes import TELEGRAM_CHAT_ID, FakeTelegramBotAPI
from tests.services import fresh_postgres_database

TOKEN = "pool-test-token"


class Sink:
    """Collects forwarded trigger payloads instead of enqueueing route_event."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def __call__(self, payload: dict[str, Any]) -> None:
        self.events.append(payload)
        self._changed.set()

    async def wait_for(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        async def _wait() -> dict[str, Any]:
            while True:
                self._changed.clear()
                for event in self.events:
                    if event["kind"] == kind:
                        return event
                await self._changed.wait()

        return await asyncio.wait_for(_wait(), timeout)


def make_supervisor(sink: Sink | None = None, **overrides: Any) -> Supervisor:
    options: dict[str, Any] = {
        "forwarder": EventForwarder(sink or Sink()),
        "reconcile_seconds": 0.5,
        # Ten times the heartbeat (a third of the lease, at most reconcile_seconds): a
        # renewal that a loaded machine delays by seconds still comes within the lease.
        "lease_seconds": 5.0,
        "backoff_base": 0.1,
        "backoff_max": 0.5,
        "breaker_failures": 2,
        "breaker_reset_seconds": 0.5,
        "listen_bus": False,
        "pool_url": "http://127.0.0.1:1",
    }
    return Supervisor(**{**options, **overrides})


@contextlib.asynccontextmanager
async def running(supervisor: Supervisor) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(supervisor.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)


def add_bot(
    session: Session,
    fake: FakeTelegramBotAPI | None = None,
    *,
    active: bool = True,
    **settings: Any,
) -> PlatformConnection:
    instance = BotInstance(
        name="Test bot",
        kind=ConnectorKind.telegram_bot,
        credential=fake.token if fake else "1:x",
        settings={"api_base_url": fake.base_url, "poll_timeout": 1, **settings} if fake else {},
    )
    session.add(instance)
    session.commit()
    connection = PlatformConnection(bot_instance_id=instance.id, is_active=active)
    session.add(connection)
    session.commit()
    return connection


def read(connection_id: int) -> PlatformConnection:
    with Session(db.get_engine()) as s:
        found = s.get(PlatformConnection, connection_id)
        assert found is not None
        return found


async def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what or check}")
        await asyncio.sleep(0.05)


def status_is(connection_id: int, status: ConnectionStatus) -> Callable[[], bool]:
    return lambda: read(connection_id).status == status


# -- the Telegram client under the supervisor ---------------------------------------------


async def test_active_connection_runs_the_telegram_client(session: Session) -> None:
    sink = Sink()
    async with FakeTelegramBotAPI() as fake:
        connection = add_bot(session, fake)
        command = {"name": "ping", "description": {"en": "Answers pong"}}
        session.add(BotConfigVersion(bot_instance_id=connection.bot_instance_id, version=1,
                                     document={"commands": [command]}))  # fmt: skip
        session.commit()
        supervisor = make_supervisor(sink)
        async with running(supervisor):
            await fake.wait_for_call("getMe", timeout=10)
            await fake.wait_for_call("getUpdates", timeout=10)
            await eventually(status_is(connection.id, ConnectionStatus.connected), what="connected")
            stored = read(connection.id)
            assert stored.lease_owner == supervisor.owner and stored.connected_at is not None
            assert stored.lease_expires_at is not None and stored.lease_expires_at > utcnow()
            commands = await fake.wait_for_call("setMyCommands")
            assert commands.params["commands"] == [
                {"command": "ping", "description": "Answers pong"}
            ]
            assert "chat_member" in fake.allowed_updates

            fake.push_command("ping", "now")
            event = await sink.wait_for("tg_command")
            assert event["command"] == "ping" and event["args"] == ["now"]
            assert event["instance_id"] == connection.bot_instance_id

        stopped = read(connection.id)
        assert stopped.status == ConnectionStatus.stopped and stopped.lease_owner is None
        with Session(db.get_engine()) as s:
            events = s.exec(
                select(PlatformConnectionLog.event).where(
                    PlatformConnectionLog.connection_id == connection.id
                )
            ).all()
            instance = s.get(BotInstance, connection.bot_instance_id)
        assert events[:2] == ["status.connecting", "status.connected"]
        assert events[-1] == "status.stopped"
        assert instance is not None and instance.platform_username == "flowbot_test_bot"


async def test_outage_opens_the_breaker_and_the_client_comes_back(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeTelegramBotAPI() as fake:
        connection = add_bot(session, fake)
        supervisor = make_supervisor()
        async with running(supervisor):
            await eventually(status_is(connection.id, ConnectionStatus.connected))
            await fake.stop()
            await eventually(status_is(connection.id, ConnectionStatus.error), what="error")
            failed = read(connection.id)
            assert failed.last_error and fake.token not in failed.last_error
            managed = supervisor.instances[connection.bot_instance_id]
            await eventually(lambda: managed.breaker.snapshot()["state"] != "closed")
            with pytest.raises(Exception) as refused:
                await supervisor.execute(
                    connection.bot_instance_id, "telegram_bot", "send_message",
                    {"chat_id": str(TELEGRAM_CHAT_ID), "text": "hi"},
                )  # fmt: skip
            assert refused.value.kind in ("breaker_open", "unavailable")  # type: ignore[attr-defined]

            await fake.start()
            await eventually(status_is(connection.id, ConnectionStatus.connected), what="back")
            back = read(connection.id)
            assert back.restart_count >= 1 and back.last_error is None
            assert managed.breaker.snapshot()["state"] == "closed"
    assert "failed" in caplog.text and fake.token not in caplog.text


async def test_refused_token_asks_for_a_new_one(session: Session) -> None:
    async with FakeTelegramBotAPI() as fake:
        connection = add_bot(session, fake)
        fake.tokens.clear()  # every token is now unknown: 401
        async with running(make_supervisor()):
            await eventually(status_is(connection.id, ConnectionStatus.auth_required))
        assert "refused" in (read(connection.id).last_error or "")


async def test_deactivated_connection_is_stopped_at_once_on_the_bus_signal(
    session: Session,
) -> None:
    async with FakeTelegramBotAPI() as fake:
        connection = add_bot(session, fake)
        # Slow timers: only the "connections.changed" event can make it react in time.
        supervisor = make_supervisor(listen_bus=True, reconcile_seconds=60, lease_seconds=60)
        async with running(supervisor):
            await eventually(status_is(connection.id, ConnectionStatus.connected))
            with Session(db.get_engine()) as s:
                s.execute(sa.update(PlatformConnection).values(is_active=False))
                s.commit()
            events.publish("connections.changed", {"connection_id": connection.id})
            await eventually(
                lambda: (
                    (row := read(connection.id)).status == ConnectionStatus.stopped
                    and row.lease_owner is None
                ),
                timeout=5,
            )
            assert supervisor.instances == {}


# -- leases between supervisors (PostgreSQL) -------------------------------------------------


class IdleConnector(Connector):
    """Connects at once and idles: the lease test is about who runs what, not Telegram."""

    kind = "telegram_bot"
    runs: dict[int, set[str]] = {}

    def __init__(self, config: InstanceConfig, emit: EmitEvent, report: ReportStatus) -> None:
        super().__init__(config, emit, report)
        self.owner = config.settings["owner"]

    @property
    def client(self) -> None:
        return None

    async def run(self) -> None:
        holders = self.runs.setdefault(self.config.instance_id, set())
        holders.add(self.owner)
        try:
            await self.report("connected", "", {})
            await asyncio.Event().wait()
        finally:
            holders.discard(self.owner)


def idle_factories(owner: str) -> Callable[[str], Any]:
    def factory(config: InstanceConfig, emit: EmitEvent, report: ReportStatus) -> Connector:
        config.settings["owner"] = owner
        return IdleConnector(config, emit, report)

    return lambda kind: factory


@pytest.fixture
def pg_session(
    migrated_postgres_template: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Session]:
    with fresh_postgres_database(migrated_postgres_template) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        db.get_engine.cache_clear()
        with Session(db.get_engine(), expire_on_commit=False) as s:
            yield s
        db.get_engine().dispose()


@dataclass(frozen=True)
class Lease:
    """One claim's result: the rows an UPDATE ... RETURNING gave ``owner``, from ``start``
    (the ``now`` that claim wrote) to ``start`` + the lease."""

    owner: str
    start: datetime
    end: datetime
    instance_ids: frozenset[int]


@pytest.fixture
def leases(monkeypatch: pytest.MonkeyPatch) -> list[Lease]:
    """Every lease the supervisors are granted, as the database granted it."""
    granted: list[Lease] = []
    claim = store.claim
    stamps: dict[int, datetime] = {}  # by thread: claims run in worker threads

    def stamping_clock() -> datetime:
        stamps[threading.get_ident()] = now = utcnow()
        return now

    def recording_claim(owner: str, lease_seconds: float) -> list[store.Claimed]:
        claimed = claim(owner, lease_seconds)
        start = stamps[threading.get_ident()]
        ids = frozenset(c.instance_id for c in claimed)
        granted.append(Lease(owner, start, start + timedelta(seconds=lease_seconds), ids))
        return claimed

    monkeypatch.setattr(store, "utcnow", stamping_clock)
    monkeypatch.setattr(store, "claim", recording_claim)
    return granted


def overlapping(granted: list[Lease]) -> list[tuple[int, Lease, Lease]]:
    """Leases of one instance held by two owners at once (renewals only extend an owner's
    lease, so comparing each lease with the one granted next suffices)."""
    found = []
    for instance_id in {i for lease in granted for i in lease.instance_ids}:
        held = sorted((x for x in granted if instance_id in x.instance_ids), key=lambda x: x.start)
        found += [
            (instance_id, before, after)
            for before, after in zip(held, held[1:], strict=False)
            if before.owner != after.owner and after.start <= before.end
        ]
    return found


async def test_two_supervisors_never_hold_an_instance_at_once_and_one_takes_over(
    pg_session: Session, leases: list[Lease]
) -> None:
    IdleConnector.runs.clear()
    connections = [add_bot(pg_session) for _ in range(6)]
    ids = {c.bot_instance_id for c in connections}
    a = make_supervisor(owner="sup-a", factories=idle_factories("sup-a"))
    b = make_supervisor(owner="sup-b", factories=idle_factories("sup-b"))
    assert a.lease_seconds >= 10 * a.heartbeat_seconds  # a late renewal is not a lost lease
    task_a = asyncio.create_task(a.run(release_on_exit=False))
    await eventually(lambda: set(a.instances) == ids, what="the first supervisor runs all")
    async with running(b):
        # b asks three times while a renews: each time the database gives it nothing.
        await eventually(lambda: sum(x.owner == "sup-b" for x in leases) >= 3, what="b claims")
        assert not any(x.instance_ids for x in leases if x.owner == "sup-b")
        rows = pg_session.exec(select(PlatformConnection)).all()
        for row in rows:
            pg_session.refresh(row)
        assert {row.lease_owner for row in rows} == {"sup-a"} and b.instances == {}

        task_a.cancel()  # a crash: leases are not released
        with contextlib.suppress(asyncio.CancelledError):
            await task_a
        await eventually(lambda: set(b.instances) == ids, timeout=a.lease_seconds * 3)
        assert all(owners == {"sup-b"} for owners in IdleConnector.runs.values())
    taken_over = [x for x in leases if x.owner == "sup-b" and x.instance_ids]
    assert taken_over and taken_over[0].instance_ids == ids
    assert overlapping(leases) == []


# -- the pool API ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def pool(supervisor: Supervisor) -> AsyncIterator[httpx.AsyncClient]:
    runner = await start_api(supervisor, TOKEN, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=15,
        ) as client:
            yield client
    finally:
        await runner.cleanup()


def execute_body(instance_id: int | None, key: str, **params: Any) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "kind": "telegram_bot",
        "action": "send_message",
        "params": {"chat_id": str(TELEGRAM_CHAT_ID), **params},
        "idempotency_key": key,
    }


async def test_pool_api(sqlite_session: Session) -> None:
    async with FakeTelegramBotAPI() as fake:
        connection = add_bot(sqlite_session, fake)
        elsewhere = add_bot(sqlite_session, fake)
        sqlite_session.execute(
            sa.update(PlatformConnection)
            .where(PlatformConnection.id == elsewhere.id)
            .values(
                lease_owner="other-supervisor",
                lease_expires_at=utcnow() + timedelta(hours=1),
                details={"pool_url": "http://10.0.0.2:3010"},
            )
        )
        sqlite_session.commit()
        supervisor = make_supervisor()
        instance_id = connection.bot_instance_id
        async with running(supervisor), pool(supervisor) as client:
            await eventually(status_is(connection.id, ConnectionStatus.connected))

            sent = await client.post("/execute", json=execute_body(instance_id, "k1", text="hi"))
            assert sent.status_code == 200
            answer = sent.json()
            assert answer["ok"] is True and answer["result"]["message_id"]
            call = await fake.wait_for_call("sendMessage")
            assert call.params["text"] == "hi"

            again = await client.post("/execute", json=execute_body(instance_id, "k1", text="hi"))
            assert again.json() == answer
            assert len(fake.calls_to("sendMessage")) == 1

            invalid = (await client.post("/execute", json=execute_body(instance_id, "k2"))).json()
            assert invalid["ok"] is False and invalid["error"]["kind"] == "validation"
            assert "text" in invalid["error"]["message"]

            unknown = execute_body(instance_id, "k3", text="x") | {"action": "fly"}
            assert (await client.post("/execute", json=unknown)).json()["error"]["kind"] == (
                "unknown_action"
            )

            other = (
                await client.post(
                    "/execute", json=execute_body(elsewhere.bot_instance_id, "k4", text="x")
                )
            ).json()
            assert other["error"]["kind"] == "not_held"
            assert other["error"]["details"]["pool_url"] == "http://10.0.0.2:3010"

            refused = await client.post(
                "/execute",
                json=execute_body(instance_id, "k5", text="x"),
                headers={"Authorization": "Bearer wrong"},
            )
            assert refused.status_code == 401
            assert (
                await client.get("/instances", headers={"Authorization": ""})
            ).status_code == 401
            assert len(fake.calls_to("sendMessage")) == 1

            # Unauthenticated callers learn only that it is alive, not the host or process.
            public = (await client.get("/health", headers={"Authorization": ""})).json()
            assert public == {"status": "ok"}
            health = (await client.get("/health")).json()
            assert health["status"] == "ok" and health["instances"] == 1
            assert health["owner"] == supervisor.owner
            pools = (await client.get("/pools")).json()["pools"]
            assert pools == {"telegram_bot": {"running": 1, "connected": 1, "failed": 0}}
            (listed,) = (await client.get("/instances")).json()["instances"]
            assert listed["id"] == instance_id and listed["status"] == "connected"
            assert listed["breaker"]["state"] == "closed"

            getme_before = len(fake.calls_to("getMe"))
            restarted = (await client.post(f"/instances/{instance_id}/restart")).json()
            assert restarted == {"ok": True, "result": {"restarted": instance_id}}
            await fake.wait_for_call("getMe", count=getme_before + 1)
            missing = (await client.post("/instances/999/restart")).json()
            assert missing["ok"] is False


def test_registry_knows_telegram() -> None:
    from connectors.telegram_bot.client import TelegramBotConnector

    assert connector_factory("telegram_bot") is TelegramBotConnector


# -- leases, claim by claim (both databases) --------------------------------------------------

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands stored times back without their zone (they are UTC)."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def _lease_row(
    session: Session,
    *,
    active: bool = True,
    owner: str | None = None,
    expires: datetime | None = None,
) -> PlatformConnection:
    connection = add_bot(session, active=active)
    connection.lease_owner, connection.lease_expires_at = owner, expires
    session.add(connection)
    session.commit()
    return connection


def test_a_claim_takes_free_own_and_expired_leases_and_nothing_else(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "utcnow", lambda: NOW)
    session.add_all([BotInstance(name="spare", kind=ConnectorKind.telegram_bot) for _ in range(3)])
    session.commit()  # instance ids differ from connection ids
    minute = timedelta(minutes=1)
    rows = {
        "free": _lease_row(session),
        "released, expiry left": _lease_row(session, expires=NOW + minute),
        "ours": _lease_row(session, owner="me", expires=NOW + minute),
        "no expiry": _lease_row(session, owner="other"),
        "expired": _lease_row(session, owner="other", expires=NOW - minute),
        "someone else's": _lease_row(session, owner="other", expires=NOW + minute),
        "expiring now": _lease_row(session, owner="other", expires=NOW),  # valid to its end
        "inactive": _lease_row(session, active=False),
    }
    taken = ["free", "released, expiry left", "ours", "no expiry", "expired"]
    claimed = store.claim("me", 90.0)
    assert claimed == sorted(
        store.Claimed(rows[name].id, rows[name].bot_instance_id)
        for name in taken  # type: ignore[arg-type]
    )
    for row in rows.values():
        session.refresh(row)
    leases = {
        name: (row.lease_owner, _aware(row.lease_expires_at), _aware(row.heartbeat_at))
        for name, row in rows.items()
    }
    granted = ("me", NOW + timedelta(seconds=90), NOW)
    assert leases == {
        **{name: granted for name in taken},
        "someone else's": ("other", NOW + minute, None),
        "expiring now": ("other", NOW, None),
        "inactive": (None, None, None),
    }


def test_release_gives_back_the_named_leases_of_this_owner_only(session: Session) -> None:
    later = utcnow() + timedelta(hours=1)
    mine = [_lease_row(session, owner="me", expires=later) for _ in range(3)]
    theirs = _lease_row(session, owner="other", expires=later)

    def owners() -> list[tuple[str | None, bool]]:
        session.expire_all()
        return [
            (row.lease_owner, row.lease_expires_at is not None)
            for row in (*mine, theirs)
            if session.refresh(row) is None
        ]

    store.release("me", [mine[0].id, theirs.id])  # type: ignore[list-item]
    assert owners() == [(None, False), ("me", True), ("me", True), ("other", True)]
    store.release("me")
    assert owners() == [(None, False), (None, False), (None, False), ("other", True)]


# -- the supervisor's decisions, tick by tick -------------------------------------------------


def _reconciled(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("reconciled")]


def _said(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, bool]]:
    """What the supervisor itself logged: level, message, whether with a traceback."""
    return [
        (r.levelname, r.getMessage(), r.exc_info is not None)
        for r in caplog.records
        if r.name == "connectors.supervisor"
    ]


def _heartbeat(key: str) -> ProcessHeartbeat | None:
    with Session(db.get_engine()) as s:
        return s.exec(select(ProcessHeartbeat).where(ProcessHeartbeat.key == key)).first()


def _last_log(connection_id: int) -> tuple[str, str]:
    with Session(db.get_engine()) as s:
        row = s.exec(
            select(PlatformConnectionLog)
            .where(PlatformConnectionLog.connection_id == connection_id)
            .order_by(sa.desc(PlatformConnectionLog.id))  # type: ignore[arg-type]
        ).first()
    assert row is not None
    return row.event, row.message


async def test_a_tick_reconciles_what_changed_and_reloads_configs_only_when_due(
    sqlite_session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.supervisor")
    first = add_bot(sqlite_session)
    a = first.bot_instance_id
    supervisor = make_supervisor(owner="sup-t", factories=idle_factories("sup-t"))
    await supervisor.tick()
    running_a = supervisor.instances[a]
    assert read(first.id).lease_owner == "sup-t"
    assert _heartbeat(supervisor.heartbeat_key) is not None

    second = add_bot(sqlite_session)
    b = second.bot_instance_id
    await supervisor.tick()  # a new lease: reconciled although no reload is due
    assert set(supervisor.instances) == {a, b} and supervisor.instances[a] is running_a
    await eventually(status_is(second.id, ConnectionStatus.connected))

    instance = sqlite_session.get(BotInstance, a)
    assert instance is not None
    instance.settings = {"poll_timeout": 2}
    sqlite_session.add(instance)
    sqlite_session.commit()
    await supervisor.tick()  # same leases, no reload due: the configs are not read
    assert supervisor.instances[a] is running_a
    supervisor.poke()
    await supervisor.tick()
    restarted = supervisor.instances[a]
    assert restarted is not running_a and restarted.restarts == running_a.restarts + 1
    # The restarted connector's status write has landed, with its restart count.
    await eventually(lambda: (r := read(first.id)).restart_count == 1 and r.status == "connected")

    first.is_active = False
    sqlite_session.add(first)
    sqlite_session.commit()
    await supervisor.tick()  # deactivated: stopped, its lease given back, b's kept
    assert set(supervisor.instances) == {b}
    row = read(first.id)
    assert (row.status, row.lease_owner, row.lease_expires_at) == ("stopped", None, None)
    assert _last_log(first.id) == ("status.stopped", "")
    assert read(second.id).lease_owner == "sup-t"
    assert _reconciled(caplog) == [
        f"reconciled: started [{a}], stopped [], restarted []",
        f"reconciled: started [{b}], stopped [], restarted []",
        f"reconciled: started [], stopped [], restarted [{a}]",
        f"reconciled: started [], stopped [{a}], restarted []",
    ]

    await supervisor.shutdown()
    row = read(second.id)
    assert (row.status, row.lease_owner, row.lease_expires_at) == ("stopped", None, None)
    assert supervisor.instances == {} and _heartbeat(supervisor.heartbeat_key) is None


async def test_a_shutdown_without_release_keeps_leases_statuses_and_heartbeat(
    sqlite_session: Session,
) -> None:
    connection = add_bot(sqlite_session)
    supervisor = make_supervisor(owner="sup-k", factories=idle_factories("sup-k"))
    await supervisor.tick()
    await eventually(status_is(connection.id, ConnectionStatus.connected))
    await supervisor.shutdown(release=False)  # another process takes over after the lease
    assert supervisor.instances == {}
    row = read(connection.id)
    assert (row.status, row.lease_owner) == ("connected", "sup-k")
    assert _heartbeat(supervisor.heartbeat_key) is not None


def _database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db.get_engine().dispose()
    db.get_engine.cache_clear()


GONE = "postgresql+psycopg://flowbot@127.0.0.1:1/gone"  # connection refused


async def test_a_supervisor_cut_off_stops_its_connectors_at_nine_tenths_of_the_lease(
    sqlite_session: Session,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The renewal clock is moved by hand (``_last_renewal``): 85 % of a lease since the
    last renewal keeps the connectors, 95 % stops them, without writing (the database is
    the thing that is gone); back online, the next tick starts them again."""
    caplog.set_level(logging.INFO, logger="connectors.supervisor")
    connection = add_bot(sqlite_session)
    a = connection.bot_instance_id
    # A long lease: the real time the test takes (seconds under load) is a sliver of it.
    supervisor = make_supervisor(
        owner="sup-c", factories=idle_factories("sup-c"), lease_seconds=600.0
    )
    lease = supervisor.lease_seconds

    _database(monkeypatch, GONE)
    await supervisor.tick()  # never renewed yet: nothing to stop, no error out of tick
    assert _said(caplog) == [("ERROR", "could not renew leases", True)]
    _database(monkeypatch, sqlite_url)
    await supervisor.tick()
    await eventually(status_is(connection.id, ConnectionStatus.connected))
    running_a = supervisor.instances[a]

    _database(monkeypatch, GONE)
    caplog.clear()
    assert supervisor._last_renewal is not None
    supervisor._last_renewal -= 0.85 * lease
    await supervisor.tick()
    assert supervisor.instances == {a: running_a} and running_a.running
    supervisor._last_renewal -= 0.1 * lease
    await supervisor.tick()
    assert supervisor.instances == {} and not running_a.running
    assert _said(caplog) == [
        ("ERROR", "could not renew leases", True),
        ("ERROR", "could not renew leases", True),
        ("ERROR", "leases about to expire: stopping all connectors", False),
    ]  # nothing about a status it could not record: it did not try

    _database(monkeypatch, sqlite_url)
    await supervisor.tick()
    assert set(supervisor.instances) == {a} and supervisor.instances[a] is not running_a
    _database(monkeypatch, GONE)
    await supervisor.shutdown()  # releasing and forgetting fail quietly
    assert supervisor.instances == {}


class CuttingConnector(IdleConnector):
    """Takes the database away as it stops (the database failing mid-reconcile)."""

    cut: Callable[[], None] = staticmethod(lambda: None)

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            type(self).cut()


async def test_a_stop_whose_status_and_release_fail_does_not_break_the_tick(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    connection = add_bot(sqlite_session)

    def factory(config: InstanceConfig, emit: EmitEvent, report: ReportStatus) -> Connector:
        config.settings["owner"] = "sup-x"
        return CuttingConnector(config, emit, report)

    supervisor = make_supervisor(owner="sup-x", factories=lambda kind: factory)
    await supervisor.tick()
    await eventually(status_is(connection.id, ConnectionStatus.connected))
    connection.is_active = False
    sqlite_session.add(connection)
    sqlite_session.commit()
    monkeypatch.setattr(CuttingConnector, "cut", staticmethod(lambda: _database(monkeypatch, GONE)))
    await supervisor.tick()  # the stop's status row and lease release both fail
    assert supervisor.instances == {}
    assert f"could not record status of connection {connection.id}" in caplog.text


# -- status writes land in the order they were made --------------------------------------------


class HeldClock:
    """``store.utcnow``, which ``record_status`` reads after its lease check and before its
    UPDATE. Armed, it holds the next caller's thread there until ``go`` is set: a status
    write slowed at its worst place (a thread descheduled on a loaded machine)."""

    def __init__(self) -> None:
        self.armed = False
        self.holding = threading.Event()
        self.go = threading.Event()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            hold, self.armed = self.armed, False
        if hold:
            self.holding.set()
            self.go.wait(30)
        return utcnow()


def _log_events(connection_id: int) -> list[str]:
    with Session(db.get_engine()) as s:
        return list(
            s.exec(
                select(PlatformConnectionLog.event)
                .where(PlatformConnectionLog.connection_id == connection_id)
                .order_by(col(PlatformConnectionLog.id))
            ).all()
        )


async def test_a_status_write_in_flight_when_its_connector_stops_lands_before_the_stopped_row(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection deactivated while its connector's "connected" write is still in its
    thread ends "stopped" with no lease: that write lands first, not after the stop."""
    connection = add_bot(session)
    connection_id = connection.id
    assert connection_id is not None
    clock = HeldClock()
    monkeypatch.setattr(store, "utcnow", clock)
    supervisor = make_supervisor(owner="sup-w", factories=idle_factories("sup-w"))
    await supervisor.tick()
    clock.armed = True  # the next clock read is the connector's "connected" write
    await eventually(clock.holding.is_set, what="the connected write is held")

    connection.is_active = False
    session.add(connection)
    session.commit()
    stopping = asyncio.create_task(supervisor.tick())
    # Time for a stop that does not wait for the held write to record "stopped" and give
    # the lease back (what it did before); one that waits is still waiting.
    await asyncio.wait({stopping}, timeout=1.0)
    clock.go.set()
    await asyncio.wait_for(stopping, 15)
    await eventually(lambda: "status.connected" in _log_events(connection_id), what="landed")

    row = read(connection_id)
    assert (row.status, row.lease_owner, row.lease_expires_at) == ("stopped", None, None)
    assert _log_events(connection_id)[-2:] == ["status.connected", "status.stopped"]
    assert supervisor.instances == {}


class ReportingConnector(IdleConnector):
    """Says "connecting" and idles; the test reports for it afterwards, as a platform
    library's callback does (WhatsApp's ``on_connected`` runs in a task of its own)."""

    made: list[Connector] = []

    async def run(self) -> None:
        type(self).made.append(self)
        await self.report("connecting", "", {})
        await asyncio.Event().wait()


async def test_a_report_from_a_stopped_connector_is_not_recorded(session: Session) -> None:
    """A restart keeps the lease: the old connector's late "connected" must not overwrite
    what its successor reported."""
    connection = add_bot(session)
    connection_id = connection.id
    assert connection_id is not None
    ReportingConnector.made.clear()

    def factory(config: InstanceConfig, emit: EmitEvent, report: ReportStatus) -> Connector:
        config.settings["owner"] = "sup-r"
        return ReportingConnector(config, emit, report)

    supervisor = make_supervisor(owner="sup-r", factories=lambda kind: factory)
    await supervisor.tick()
    await eventually(status_is(connection_id, ConnectionStatus.connecting))
    instance = session.get(BotInstance, connection.bot_instance_id)
    assert instance is not None
    instance.settings = {"poll_timeout": 2}
    session.add(instance)
    session.commit()
    supervisor.poke()
    await supervisor.tick()  # a new configuration: the connector is restarted
    await eventually(lambda: len(ReportingConnector.made) == 2, what="restarted")
    await eventually(lambda: _log_events(connection_id)[-2:] == ["status.stopped",
                                                                  "status.connecting"])  # fmt: skip

    old = ReportingConnector.made[0]
    await old.report("connected", "", {"username": "late"})
    row = read(connection_id)
    assert (row.status, row.lease_owner) == ("connecting", "sup-r")
    assert _log_events(connection_id)[-1] == "status.connecting"
    await supervisor.shutdown()

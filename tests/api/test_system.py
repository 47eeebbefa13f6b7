"""/api/v1/system/status: database, Redis, workers, the queues, supervisors, and what is
down now in words."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import dramatiq
import httpx
import pytest
import redis

from engine import actors, broker, heartbeats
from engine.broker import QUEUE
from engine.db import session_scope
from engine.models import BotInstance, ConnectionStatus, PlatformConnection, utcnow
from engine.models.health import HealthCheck, HealthIncident
from engine.services import system_status
from engine.settings import get_settings
from engine.worker import start_embedded_worker, stop_embedded_worker
from tests.api.conftest import Tokens
from tests.fakes.pool import FakePool
from tests.services import redis_url_or_skip

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/system/status"): "viewer",
    ("GET", "/api/v1/system/notifications"): "admin",
    ("PUT", "/api/v1/system/notifications"): "admin",
    ("DELETE", "/api/v1/system/notifications"): "admin",
    ("POST", "/api/v1/system/notifications/test"): "admin",
}


def _message(actor: str = "no_such_actor") -> dramatiq.Message:
    return dramatiq.Message(queue_name=QUEUE, actor_name=actor, args=(), kwargs={}, options={})


def _leases() -> None:
    """Supervisor "a" holds two instances, "b" one whose lease ran out; one is unheld."""
    now = utcnow()
    with session_scope() as session:
        for n, (owner, expires) in enumerate(
            [("a", now + timedelta(seconds=60)), ("a", now + timedelta(seconds=60)),
             ("b", now - timedelta(seconds=5)), (None, None)]
        ):  # fmt: skip
            instance = BotInstance(name=f"bot{n}", kind="telegram_bot")
            session.add(instance)
            session.flush()
            session.add(
                PlatformConnection(
                    bot_instance_id=instance.id or 0,
                    is_active=True,
                    status=ConnectionStatus.connected if owner == "a" else ConnectionStatus.stopped,
                    lease_owner=owner,
                    lease_expires_at=expires,
                    heartbeat_at=expires and expires - timedelta(seconds=60),
                    details={"pool_url": "http://10.0.0.1:3010"} if owner == "a" else {},
                )
            )


async def test_embedded_status(api: httpx.AsyncClient, tokens: Tokens) -> None:
    _leases()
    actors.broker.flush_all()
    worker = start_embedded_worker(threads=2)
    try:
        answer = await api.get("/api/v1/system/status", headers=tokens.viewer)
    finally:
        stop_embedded_worker(worker)
    assert answer.status_code == 200, answer.text
    status = answer.json()
    assert status["mode"] == "embedded" and status["redis"] is None
    assert status["database"]["ok"] and status["database"]["latency_ms"] >= 0
    assert [(w["threads"], w["alive"]) for w in status["workers"]] == [(2, True)]
    a, b = status["supervisors"]
    assert (a["owner"], a["alive"], a["pool_url"], len(a["instances"])) == (
        "a",
        True,
        "http://10.0.0.1:3010",
        2,
    )
    assert a["instances"][0]["status"] == "connected" and a["last_heartbeat_at"]
    assert (b["owner"], b["alive"]) == ("b", False)
    assert sorted(i["name"] for i in status["unheld"]) == ["bot2", "bot3"]

    try:  # no worker now: what is sent waits
        actors.broker.enqueue(_message())
        actors.broker.enqueue(_message())
        actors.broker.enqueue(_message(), delay=60_000)
        queues = (await api.get("/api/v1/system/status", headers=tokens.read_only)).json()["queues"]
    finally:
        actors.broker.flush_all()
    [queue] = queues  # every actor of the app is on the one queue
    assert (queue["name"], queue["depth"], queue["waiting"], queue["delayed"]) == (QUEUE, 2, 2, 1)
    assert 0 <= queue["oldest_age_seconds"] < 30


async def test_every_declared_queue_is_shown(api: httpx.AsyncClient, tokens: Tokens) -> None:
    """A queue an actor declares tomorrow is on the page without anyone listing it."""
    actors.broker.declare_queue("reports")
    try:
        actors.broker.enqueue(
            dramatiq.Message(
                queue_name="reports", actor_name="no_such_actor", args=(), kwargs={}, options={}
            )
        )
        status = (await api.get("/api/v1/system/status", headers=tokens.viewer)).json()
    finally:
        actors.broker.flush_all()
    by_name = {q["name"]: q for q in status["queues"]}
    assert sorted(by_name) == ["flows", "reports"]
    assert (by_name["reports"]["depth"], by_name["flows"]["depth"]) == (1, 0)


@pytest.fixture
def redis_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[dramatiq.Broker]:
    """The Redis broker of a scaled install (own namespace), as get_broker() gives it."""
    monkeypatch.setenv("REDIS_URL", redis_url_or_skip())
    monkeypatch.setenv("FLOWBOT_REDIS_NAMESPACE", f"flowbot_t_{uuid.uuid4().hex[:10]}")
    get_settings.cache_clear()
    scaled = broker.build_broker(get_settings())
    scaled.declare_queue(QUEUE)
    monkeypatch.setattr(broker, "get_broker", lambda: scaled)
    monkeypatch.setattr(system_status, "get_broker", lambda: scaled)
    yield scaled
    client = redis.Redis.from_url(get_settings().redis_url or "")
    keys = list(client.scan_iter(match=f"{get_settings().redis_namespace}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    scaled.close()


async def test_scaled_status(
    api: httpx.AsyncClient, tokens: Tokens, redis_broker: dramatiq.Broker
) -> None:
    redis_broker.enqueue(_message())
    redis_broker.enqueue(_message(), delay=60_000)
    heartbeats = f"{redis_broker.namespace}:__heartbeats__"  # type: ignore[attr-defined]
    redis_broker.client.zadd(heartbeats, {"gone-worker": 1_000})  # type: ignore[attr-defined]
    answer = await api.get("/api/v1/system/status", headers=tokens.viewer)
    assert answer.status_code == 200, answer.text
    status = answer.json()
    assert status["mode"] == "scaled" and status["redis"]["ok"]
    beats = {w["id"]: w for w in status["workers"]}
    me = beats[redis_broker.broker_id]  # type: ignore[attr-defined]
    assert me["alive"] and me["this_process"]
    assert not beats["gone-worker"]["alive"]
    [queue] = status["queues"]
    assert (queue["depth"], queue["waiting"], queue["delayed"], queue["dead_lettered"]) == (
        1,
        1,
        1,
        0,
    )
    assert queue["oldest_age_seconds"] >= 0


async def test_redis_down_is_reported_not_fatal(
    api: httpx.AsyncClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    unreachable = broker.build_broker(get_settings())
    monkeypatch.setattr(system_status, "get_broker", lambda: unreachable)
    status = (await api.get("/api/v1/system/status", headers=tokens.viewer)).json()
    redis_probe = status["redis"]
    assert (redis_probe["ok"], redis_probe["latency_ms"]) == (False, None)
    assert (
        redis_probe["error"]
        == "Redis refuses connections: is it running, at the address in its URL?"
    )
    assert redis_probe["detail"].startswith("ConnectionError: Error 111 connecting to 127.0.0.1:1")
    assert status["workers"] is None and status["queues"] is None and status["database"]["ok"]
    [problem] = status["problems"]  # no health check has seen it yet: no start known
    assert (problem["component"], problem["since"]) == ("redis", None)
    assert problem["cause"] == redis_probe["error"]


async def test_open_incidents_are_problems_in_words(api: httpx.AsyncClient, tokens: Tokens) -> None:
    """What is down, since when, the cause in words, and the raw text behind it."""
    raw = (
        "TelegramNetworkError: HTTP Client says - ClientConnectorError: Cannot connect to "
        "host 127.0.0.1:90 ssl:default [Connect call failed ('127.0.0.1', 90)]"
    )
    started = utcnow() - timedelta(minutes=12)
    with session_scope() as session:
        instance = BotInstance(name="Support bot", kind="telegram_bot")
        session.add(instance)
        session.flush()
        connection = PlatformConnection(
            bot_instance_id=instance.id or 0,
            is_active=True,
            status=ConnectionStatus.error,
            last_error=raw,
        )
        session.add(connection)
        session.flush()
        session.add_all(
            [
                HealthIncident(  # opened before the client had said why: its error now tells
                    component=f"connection:{connection.id}",
                    label="Support bot",
                    error="status stopped",
                    started_at=started,
                ),
                HealthIncident(
                    component="workers",
                    label="Workers",
                    error="no worker process is beating",
                    started_at=started,
                ),
                HealthIncident(  # down without an error of its client's
                    component=f"connection:{connection.id}",
                    label="Support bot",
                    error="status stopped",
                    started_at=started - timedelta(days=1),
                    resolved_at=started,
                ),
                HealthIncident(  # over: not a problem now
                    component="redis",
                    label="Redis",
                    error="x",
                    started_at=started,
                    resolved_at=utcnow(),
                ),
            ]
        )
    status = (await api.get("/api/v1/system/status", headers=tokens.viewer)).json()
    connection_problem, workers = status["problems"]
    assert connection_problem["label"] == "Support bot"
    assert connection_problem["cause"].startswith("Can't reach Telegram")
    assert connection_problem["detail"] == raw
    assert connection_problem["since"].startswith(started.isoformat()[:19])
    assert workers["cause"] == "The workers: no worker process is beating."
    [state] = status["connections"]
    assert state["cause"].startswith("Can't reach Telegram") and state["last_error"] == raw
    of_the_bot = {
        i["resolved_at"] is None: i["cause"]
        for i in status["incidents"]
        if i["component"].startswith("connection:")
    }
    assert of_the_bot[True].startswith("Its client was stopped")  # open: as it opened
    assert of_the_bot[False] == (  # over
        "Its client was stopped, without an error of its own; the supervisor starts it."
    )


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    anonymous = await api.get("/api/v1/system/status")
    assert anonymous.status_code == 401
    bad = await api.get("/api/v1/system/status", headers={"Authorization": "Bearer fbt_nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthenticated"


async def test_health_history_processes_and_connections(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    _leases()
    heartbeats.beat("web")
    with session_scope() as session:
        session.add(
            HealthCheck(ok=False, results=[{"component": "redis", "label": "Redis", "ok": False}])
        )
        session.add(HealthIncident(component="redis", label="Redis", error="ConnectionError"))
    status = (await api.get("/api/v1/system/status", headers=tokens.viewer)).json()
    (web,) = status["processes"]
    assert (web["kind"], web["alive"], web["version"]) == ("web", True, heartbeats.version())
    assert [c["name"] for c in status["connections"]] == ["bot0", "bot1", "bot2", "bot3"]
    assert status["connections"][0]["status"] == "connected"
    assert status["checks"][0]["down"] == ["Redis"] and not status["checks"][0]["ok"]
    (incident,) = status["incidents"]
    assert (incident["component"], incident["resolved_at"]) == ("redis", None)


async def test_notification_channel(
    api: httpx.AsyncClient, tokens: Tokens, fake_pool: FakePool
) -> None:
    url = "/api/v1/system/notifications"
    assert (await api.get(url, headers=tokens.admin)).json() is None
    untested = await api.post(f"{url}/test", headers=tokens.admin)
    assert untested.status_code == 422
    with session_scope() as session:
        instance = BotInstance(name="Alerts", kind="telegram_bot")
        session.add(instance)
        session.flush()
        instance_id = instance.id
    missing_chat = {"kind": "chat", "instance_id": instance_id, "chat_id": " "}
    assert (await api.put(url, json=missing_chat, headers=tokens.admin)).status_code == 422
    bad_url = {"kind": "webhook", "url": "ftp://example.com"}
    assert (await api.put(url, json=bad_url, headers=tokens.admin)).status_code == 422
    chat = {"kind": "chat", "instance_id": instance_id, "chat_id": "-100200", "url": ""}
    saved = await api.put(url, json=chat, headers=tokens.admin)
    assert saved.status_code == 200 and saved.json() == chat
    assert (await api.get(url, headers=tokens.admin)).json() == chat

    answer = (await api.post(f"{url}/test", headers=tokens.admin)).json()
    assert answer == {"sent": True, "error": None}
    (call,) = fake_pool.executions.calls
    assert (call.instance_id, call.action, call.params["chat_id"]) == (
        instance_id,
        "send_message",
        "-100200",
    )
    fake_pool.fail("send_message", kind="platform", message="chat not found")
    failed = (await api.post(f"{url}/test", headers=tokens.admin)).json()
    assert failed == {"sent": False, "error": "chat not found"}

    assert (await api.delete(url, headers=tokens.admin)).status_code == 204
    assert (await api.get(url, headers=tokens.admin)).json() is None

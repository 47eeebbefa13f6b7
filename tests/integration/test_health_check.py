"""The health check on real databases: a stopped fake Telegram marks its connection down
and admins hear of it once through the chosen chat (a second fake Telegram, through the
real supervisor and pool API), then once when it is back; the webhook channel against a
local HTTP server, retried after a failure; two checks at once count as one."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from connectors.pool_api import start_api
from connectors.supervisor import Supervisor
from engine import actors, heartbeats, pool_client
from engine.health_check import connection_up, run_check
from engine.models import BotInstance, ConnectionStatus, PlatformConnection, utcnow
from engine.models.health import HealthCheck, HealthIncident
from engine.services import health_settings
from engine.services.health_settings import Channel
from engine.settings import get_settings
from tests.fakes import TELEGRAM_CHAT_ID, FakeTelegramBotAPI
from tests.fakes.recording_http import RecordingHttp
from tests.flow_helpers import make_admin
from tests.integration.test_supervisor import (
    TOKEN,
    add_bot,
    eventually,
    make_supervisor,
    running,
    status_is,
)


@contextlib.asynccontextmanager
async def pool_for_engine(
    supervisor: Supervisor, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    """The supervisor's pool API, where engine.pool_client sends (as in a real install)."""
    runner = await start_api(supervisor, TOKEN, "127.0.0.1", 0)
    monkeypatch.setenv("FLOWBOT_POOL_URL", f"http://127.0.0.1:{runner.addresses[0][1]}")
    monkeypatch.setenv("FLOWBOT_POOL_TOKEN", TOKEN)
    get_settings.cache_clear()
    try:
        yield
    finally:
        await pool_client.aclose()
        await runner.cleanup()


def incidents(session: Session) -> list[HealthIncident]:
    session.expire_all()
    return list(session.exec(select(HealthIncident).order_by(col(HealthIncident.id))).all())


async def test_stopped_telegram_is_reported_once_and_its_recovery_once(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeTelegramBotAPI() as watched, FakeTelegramBotAPI() as notices:
        bot = add_bot(session, watched)
        sender = add_bot(session, notices)
        instance = session.get(BotInstance, bot.bot_instance_id)
        assert instance is not None
        instance.name = "Support bot"
        session.add(instance)
        session.commit()
        health_settings.set_channel(
            session,
            make_admin(),
            Channel("chat", instance_id=sender.bot_instance_id, chat_id=str(TELEGRAM_CHAT_ID)),
        )
        heartbeats.beat("worker")  # the check runs in a worker, which beats
        supervisor = make_supervisor()
        async with running(supervisor), pool_for_engine(supervisor, monkeypatch):
            for connection in (bot, sender):
                await eventually(status_is(connection.id, ConnectionStatus.connected))
            assert (await run_check(utcnow())).ok
            assert incidents(session) == [] and notices.calls_to("sendMessage") == []

            await watched.stop()
            await eventually(status_is(bot.id, ConnectionStatus.error), what="error")
            check = await run_check(utcnow())
            (down,) = [r for r in check.results if not r["ok"]]
            assert down["component"] == f"connection:{bot.id}" and down["label"] == "Support bot"
            (sent,) = notices.calls_to("sendMessage")
            assert sent.params["chat_id"] == TELEGRAM_CHAT_ID
            assert "Support bot" in sent.params["text"] and "DOWN" in sent.params["text"]
            (incident,) = incidents(session)
            assert incident.notified_down_at is not None and incident.resolved_at is None

            await run_check(utcnow())  # still down: nothing new to say
            assert len(notices.calls_to("sendMessage")) == 1 and len(incidents(session)) == 1

            await watched.start()
            await eventually(status_is(bot.id, ConnectionStatus.connected), what="back")
            assert (await run_check(utcnow())).ok
            await run_check(utcnow())
            first, back = notices.calls_to("sendMessage")
            assert "Support bot" in back.params["text"] and "back up" in back.params["text"]
            (incident,) = incidents(session)
            assert incident.resolved_at is not None and incident.notified_up_at is not None
            assert incident.notify_error is None


def broken_connection(session: Session) -> PlatformConnection:
    """An active connection in error, still held by a live supervisor."""
    instance = BotInstance(name="Shop <bot>", kind="telegram_bot")
    session.add(instance)
    session.flush()
    connection = PlatformConnection(
        bot_instance_id=instance.id or 0,
        is_active=True,
        status=ConnectionStatus.error,
        last_error="Unauthorized",
        lease_owner="elsewhere",
        lease_expires_at=utcnow() + timedelta(minutes=5),
    )
    session.add(connection)
    session.commit()
    return connection


async def test_webhook_channel_is_retried_after_a_failure(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with RecordingHttp() as hook:
        monkeypatch.setenv("FLOWBOT_HTTP_ALLOWLIST", '["127.0.0.1"]')
        get_settings.cache_clear()
        health_settings.set_channel(
            sqlite_session, make_admin(), Channel("webhook", url=f"{hook.origin}/alerts")
        )
        heartbeats.beat("worker")
        connection = broken_connection(sqlite_session)
        await hook.stop()
        await run_check(utcnow())
        (incident,) = incidents(sqlite_session)
        assert incident.notified_down_at is None and "could not be reached" in (
            incident.notify_error or ""
        )

        await hook.start()
        await run_check(utcnow())
        (call,) = hook.calls.calls
        assert (call.method, call.path) == ("POST", "/alerts")
        text = json.loads(call.body)["text"]
        assert text.splitlines()[1:] == [
            "Telegram refused the token: paste a fresh one (More actions → Replace token).",
            "Detail: Unauthorized",
        ]
        assert text.startswith(f"Flowbot: Shop <bot> (connection:{connection.id}) is DOWN since ")
        (incident,) = incidents(sqlite_session)
        assert incident.notified_down_at is not None and incident.notify_error is None


async def test_webhook_to_a_private_address_is_refused(sqlite_session: Session) -> None:
    health_settings.set_channel(
        sqlite_session, make_admin(), Channel("webhook", url="http://127.0.0.1:9/x")
    )
    heartbeats.beat("worker")
    broken_connection(sqlite_session)
    await run_check(utcnow())
    (incident,) = incidents(sqlite_session)
    assert incident.notified_down_at is None and "private" in (incident.notify_error or "")


def test_two_checks_at_once_record_one(sqlite_session: Session) -> None:
    start = threading.Barrier(2)

    def check() -> None:
        start.wait()
        actors.check_health.fn()

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(sqlite_session.exec(select(HealthCheck)).all()) == 1


def test_a_first_connect_is_not_an_incident_but_a_reconnect_after_a_failure_is() -> None:
    assert connection_up("connected", None) and connection_up("connecting", None)
    assert not connection_up("connecting", "TelegramNetworkError: refused")
    assert not connection_up("error", None) and not connection_up("auth_required", None)

"""Telegram webhook mode: the connector registers the webhook, the web route takes updates."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from connectors.kit import forwarder
from connectors.kit.forwarder import EventForwarder
from connectors.pool_api import start_api
from connectors.supervisor import Supervisor
from engine.db import session_scope
from engine.models.connections import BotInstance, ConnectorKind, PlatformConnection
from engine.settings import get_settings
from tests.api_client import api_client
from tests.fakes import TELEGRAM_USER_ID, FakeTelegramBotAPI
from tests.fakes import telegram_objects as tg
from tests.integration.supervised import POOL_TOKEN

SECRET = "webhook-secret-for-tests"


def add_webhook_bot(fake: FakeTelegramBotAPI) -> int:
    with session_scope() as session:
        bot = BotInstance(
            name="hooked",
            kind=ConnectorKind.telegram_bot,
            credential=fake.token,
            webhook_secret=SECRET,
            platform_username="flowbot_test_bot",
            settings={
                "api_base_url": fake.base_url,
                "mode": "webhook",
                "webhook_base_url": "https://flowbot.example.org",
            },
        )
        session.add(bot)
        session.flush()
        session.add(PlatformConnection(bot_instance_id=bot.id, is_active=True))
        assert bot.id is not None
        return bot.id


def command_update(text: str) -> dict[str, Any]:
    chat = tg.chat(-100555, title="Hooked group")
    message = tg.message(77, chat, from_user=tg.user(TELEGRAM_USER_ID, first_name="Ada"), text=text)
    return {"update_id": 9001, "message": message}


@contextlib.asynccontextmanager
async def webhook_pool(
    monkeypatch: pytest.MonkeyPatch, fake: FakeTelegramBotAPI
) -> AsyncIterator[int]:
    """A webhook bot run by a supervisor behind its pool API, the engine pointed at that
    pool; the bot's id, once its webhook is registered."""
    instance_id = add_webhook_bot(fake)
    supervisor = Supervisor(forwarder=EventForwarder(), listen_bus=False)
    runner = await start_api(supervisor, POOL_TOKEN, "127.0.0.1", 0)
    monkeypatch.setenv("FLOWBOT_POOL_URL", f"http://127.0.0.1:{runner.addresses[0][1]}")
    monkeypatch.setenv("FLOWBOT_POOL_TOKEN", POOL_TOKEN)
    get_settings.cache_clear()
    task = asyncio.create_task(supervisor.run())
    try:
        await fake.wait_for_call("setWebhook", timeout=10)
        yield instance_id
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)
        await runner.cleanup()


async def test_webhook_mode_registers_and_receives(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[dict[str, Any]] = []
    monkeypatch.setattr(forwarder, "route_event_sink", received.append)
    async with FakeTelegramBotAPI() as fake, webhook_pool(monkeypatch, fake) as instance_id:
        url = f"/api/telegram/{instance_id}/webhook"
        call = fake.calls_to("setWebhook")[0]
        assert call.params["url"] == f"https://flowbot.example.org{url}"
        assert call.params["secret_token"] == SECRET
        assert "chat_member" in call.params["allowed_updates"]
        assert not fake.calls_to("getUpdates")

        body = command_update("/ping@flowbot_test_bot hello")
        async with api_client() as api:
            refused = await api.post(url, json=body)
            wrong = await api.post(
                url, json=body, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
            )
            assert refused.status_code == wrong.status_code == 401
            assert (await api.post("/api/telegram/999/webhook", json=body)).status_code == 404
            # The pool's update route takes only the engine's pool token.
            async with httpx.AsyncClient(base_url=get_settings().pool_url) as pool:
                stranger = await pool.post(
                    f"/instances/{instance_id}/update",
                    json=body,
                    headers={"Authorization": "Bearer not-the-pool-token"},
                )
            assert stranger.status_code == 401
            assert received == []
            good = await api.post(
                url, json=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            assert good.status_code == 200
    kinds = [event["kind"] for event in received]
    assert kinds == ["tg_message", "tg_command"]
    assert received[1]["command"] == "ping" and received[1]["args"] == ["hello"]
    assert received[1]["instance_id"] == instance_id


async def test_webhook_without_a_running_connector_is_refused_so_telegram_retries(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[dict[str, Any]] = []
    monkeypatch.setattr(forwarder, "route_event_sink", received.append)
    monkeypatch.setenv("FLOWBOT_POOL_URL", "http://127.0.0.1:1")  # no supervisor answers
    get_settings.cache_clear()
    async with FakeTelegramBotAPI() as fake:
        instance_id = add_webhook_bot(fake)
    async with api_client() as api:
        answer = await api.post(
            f"/api/telegram/{instance_id}/webhook",
            json=command_update("/ping@flowbot_test_bot"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert received == []


async def test_an_update_that_cannot_be_forwarded_is_refused_so_telegram_retries(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broker_down(_payload: dict[str, Any]) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(forwarder, "route_event_sink", broker_down)
    async with (
        FakeTelegramBotAPI() as fake,
        webhook_pool(monkeypatch, fake) as instance_id,
        api_client() as api,
    ):
        answer = await api.post(
            f"/api/telegram/{instance_id}/webhook",
            json=command_update("/ping@flowbot_test_bot"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"


async def test_an_update_aiogram_cannot_read_is_skipped_not_refused(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram re-sends a refused update before any later one: refusing it stalls the bot."""
    received: list[dict[str, Any]] = []
    monkeypatch.setattr(forwarder, "route_event_sink", received.append)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with FakeTelegramBotAPI() as fake, webhook_pool(monkeypatch, fake) as instance_id:
        url = f"/api/telegram/{instance_id}/webhook"
        async with api_client() as api:
            unreadable = await api.post(
                url, json={"update_id": 9000, "message": {"message_id": "x"}}, headers=headers
            )
            not_an_update = await api.post(url, json=["update_id", 9000], headers=headers)
            good = await api.post(
                url, json=command_update("/ping@flowbot_test_bot"), headers=headers
            )
    assert unreadable.status_code == good.status_code == 200
    assert not_an_update.status_code == 400
    assert [event["kind"] for event in received] == ["tg_message", "tg_command"]

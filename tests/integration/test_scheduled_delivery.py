"""End to end on the fake Telegram Bot API: a repeating message scheduled over the REST API
fires at its cron times, and pausing and cancelling it over the API stop it.

Everything real but Telegram and the clock: aiogram under the supervisor, the pool API over
HTTP, the worker's sweep (``deliver_due_messages``) called with chosen times instead of
waiting for them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from engine.db import session_scope
from engine.models import Chat, Role
from engine.models.connections import ConnectorKind
from engine.scheduled_messages import deliver_due_messages
from engine.services import auth
from tests.api_client import api_client
from tests.fakes import TELEGRAM_CHAT_ID, FakeTelegramBotAPI
from tests.flow_helpers import make_admin
from tests.integration.supervised import supervised_instances

BASE = "/api/v1/scheduled-messages"
CHAT = str(TELEGRAM_CHAT_ID)
BERLIN = ZoneInfo("Europe/Berlin")


@asynccontextmanager
async def bot_in_group(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Any, int]]:
    """The fake Telegram with one group, the bot polling under the supervisor, and the
    group as a discovered chat (its id)."""
    async with FakeTelegramBotAPI() as fake:
        fake.add_chat(TELEGRAM_CHAT_ID, "supergroup", "Ada's group")
        settings = {"api_base_url": fake.base_url, "poll_timeout": 1}
        instances = [(ConnectorKind.telegram_bot, fake.token, settings)]
        async with supervised_instances(monkeypatch, instances) as (_, [bot_id]):
            await fake.wait_for_call("getUpdates", timeout=10)
            with session_scope() as session:
                chat = Chat(platform="telegram", platform_chat_id=CHAT, title="Ada's group",
                            bot_instance_id=bot_id)  # fmt: skip
                session.add(chat)
                session.flush()
                chat_id = chat.id or 0
            yield fake, chat_id


def editor_headers() -> dict[str, str]:
    admin = make_admin()
    with session_scope() as session:
        editor = auth.create_user(session, "eddie", "a-long-password", Role.editor, actor=admin)
        token = auth.create_api_token(session, editor, "scheduler", Role.editor).plaintext
    return {"Authorization": f"Bearer {token}"}


async def next_at(api: httpx.AsyncClient, path: str, headers: dict[str, str]) -> datetime:
    answer = await api.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    return datetime.fromisoformat(answer.json()["next_at"])


async def test_a_cron_message_fires_at_its_times_until_paused_and_cancelled(
    monkeypatch: pytest.MonkeyPatch, migrated_db: str
) -> None:
    headers = editor_headers()
    async with bot_in_group(monkeypatch) as (fake, chat_id), api_client() as api:
        made = await api.post(
            BASE,
            json={"chat_id": chat_id, "text": "**Stand-up** in the _usual_ room",
                  "repeat_cron": "30 9 * * *", "timezone": str(BERLIN)},
            headers=headers,
        )  # fmt: skip
        assert made.status_code == 201, made.text
        path = f"{BASE}/{made.json()['id']}"
        first = await next_at(api, path, headers)

        # Not before its time; at its time once, however often the worker sweeps.
        assert await deliver_due_messages(first - timedelta(seconds=1)) == {}
        assert await deliver_due_messages(first) == {made.json()["id"]: None}
        assert await deliver_due_messages(first + timedelta(seconds=15)) == {}
        sent = await fake.wait_for_call("sendMessage", timeout=10)
        second = await next_at(api, path, headers)

        # Paused over the API: its next time passes without a send.
        paused = await api.post(f"{path}/pause", headers=headers)
        assert paused.json()["status"] == "paused"
        assert await deliver_due_messages(second) == {}
        resumed = await api.post(f"{path}/resume", headers=headers)
        assert resumed.json()["next_at"] == paused.json()["next_at"]  # still to come
        assert await deliver_due_messages(second) == {made.json()["id"]: None}
        await fake.wait_for_call("sendMessage", count=2, timeout=10)
        third = await next_at(api, path, headers)

        # Cancelled over the API: never again.
        cancelled = await api.post(f"{path}/cancel", headers=headers)
        assert cancelled.json()["status"] == "cancelled"
        assert await deliver_due_messages(third) == {}
        assert await deliver_due_messages(third + timedelta(days=7)) == {}
        history = (await api.get(f"{path}/deliveries", headers=headers)).json()["items"]

    local = [moment.astimezone(BERLIN) for moment in (first, second, third)]
    assert [m.strftime("%H:%M") for m in local] == ["09:30"] * 3
    days = [m.date() for m in local]
    assert days[2] - days[1] == days[1] - days[0] == timedelta(days=1)
    assert len(fake.calls_to("sendMessage")) == 2
    assert sent.params["chat_id"] == TELEGRAM_CHAT_ID and sent.params["parse_mode"] == "HTML"
    assert sent.params["text"] == "<b>Stand-up</b> in the <i>usual</i> room"
    assert [(datetime.fromisoformat(d["due_at"]), d["ok"], d["error"]) for d in history] == [
        (second, True, None),
        (first, True, None),
    ]
    assert all(d["platform_message_id"] for d in history)

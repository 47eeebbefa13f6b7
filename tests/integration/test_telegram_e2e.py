"""End to end: /ping on the fake Telegram → supervisor → route_event → flow → pool → reply.

Everything real but Telegram: the aiogram client under the supervisor, the embedded
Dramatiq broker and worker threads, the flow runtime, the pool API over HTTP.
"""

from __future__ import annotations

import pytest

from engine.models.connections import ConnectorKind
from tests.fakes import TELEGRAM_CHAT_ID, TELEGRAM_USER_ID, FakeTelegramBotAPI
from tests.flow_helpers import chain, make_flow
from tests.integration.supervised import only_execution_steps, supervised_instance


@pytest.mark.usefixtures("worker")
async def test_ping_command_gets_pong(monkeypatch: pytest.MonkeyPatch) -> None:
    flow_id = make_flow(
        chain(
            ("t", "tg_command", {"command": "ping"}),
            ("r", "reply_in_place", {"text": "pong {{trigger.user.first_name}}"}),
        )
    )
    async with FakeTelegramBotAPI() as fake:
        fake.add_user(TELEGRAM_USER_ID, first_name="Ada")
        settings = {"api_base_url": fake.base_url, "poll_timeout": 1}
        async with supervised_instance(monkeypatch, ConnectorKind.telegram_bot, fake.token,
                                       settings):  # fmt: skip
            await fake.wait_for_call("getUpdates", timeout=10)
            fake.push_command("ping")
            reply = await fake.wait_for_call("sendMessage", timeout=20)

    assert reply.params["text"] == "pong Ada"
    assert reply.params["chat_id"] == TELEGRAM_CHAT_ID
    execution, steps = await only_execution_steps(flow_id)
    assert execution.trigger_data["command"] == "ping"
    assert set(steps) == {"t", "r"}
    assert steps["r"].output["result"]["message_id"]

"""End to end: /ping on the fake Telegram → supervisor → route_event → flow → pool → reply.

Everything real but Telegram: the aiogram client under the supervisor, the embedded
Dramatiq broker and worker threads, the flow runtime, the pool API over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlmodel import select

from connectors.kit.forwarder import EventForwarder
from connectors.pool_api import start_api
from connectors.supervisor import Supervisor
from engine.db import session_scope
from engine.models import ExecutionStatus, FlowExecution
from engine.models.connections import BotInstance, ConnectorKind, PlatformConnection
from engine.services import executions
from engine.settings import get_settings
from tests.fakes import TELEGRAM_CHAT_ID, TELEGRAM_USER_ID, FakeTelegramBotAPI
from tests.flow_helpers import chain, make_flow
from tests.integration.test_webhooks import worker  # noqa: F401  (embedded worker fixture)

POOL_TOKEN = "e2e-pool-token"


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
        with session_scope() as session:
            bot = BotInstance(
                name="e2e",
                kind=ConnectorKind.telegram_bot,
                credential=fake.token,
                settings={"api_base_url": fake.base_url, "poll_timeout": 1},
            )
            session.add(bot)
            session.flush()
            session.add(PlatformConnection(bot_instance_id=bot.id, is_active=True))

        supervisor = Supervisor(forwarder=EventForwarder(), reconcile_seconds=1, listen_bus=False)
        runner = await start_api(supervisor, POOL_TOKEN, "127.0.0.1", 0)
        monkeypatch.setenv("FLOWBOT_POOL_URL", f"http://127.0.0.1:{runner.addresses[0][1]}")
        monkeypatch.setenv("FLOWBOT_POOL_TOKEN", POOL_TOKEN)
        get_settings.cache_clear()
        task = asyncio.create_task(supervisor.run())
        try:
            await fake.wait_for_call("getUpdates", timeout=10)
            fake.push_command("ping")
            reply = await fake.wait_for_call("sendMessage", timeout=20)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 15)
            await runner.cleanup()

    assert reply.params["text"] == "pong Ada"
    assert reply.params["chat_id"] == TELEGRAM_CHAT_ID
    with session_scope() as session:
        (execution,) = session.exec(
            select(FlowExecution).where(FlowExecution.flow_id == flow_id)
        ).all()
    finished = await executions.wait_for_finish(execution.id, 10)
    assert finished is not None and finished.status == ExecutionStatus.succeeded
    assert finished.trigger_data["command"] == "ping"
    steps = {step.node_id: step for step in executions.load_steps(execution.id)}
    assert set(steps) == {"t", "r"}
    assert steps["r"].output["result"]["message_id"]

"""End to end: /ping slash command on the fake Discord → supervisor → flow → interaction reply.

Everything real but Discord: hikari under the supervisor, the embedded Dramatiq broker
and worker threads, the flow runtime, the pool API over HTTP.
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
from tests.fakes import DISCORD_USER_ID, FakeDiscord
from tests.flow_helpers import chain, make_flow
from tests.integration.test_webhooks import worker  # noqa: F401  (embedded worker fixture)

POOL_TOKEN = "e2e-pool-token"


@pytest.mark.usefixtures("worker")
async def test_ping_slash_command_gets_pong(monkeypatch: pytest.MonkeyPatch) -> None:
    flow_id = make_flow(
        chain(
            ("t", "dc_slash_command", {"command": "ping"}),
            ("r", "reply_in_place", {"text": "pong {{trigger.user.first_name}}"}),
        )
    )
    async with FakeDiscord() as fake:
        fake.add_guild()
        fake.user(DISCORD_USER_ID, "Ada")
        with session_scope() as session:
            bot = BotInstance(
                name="e2e",
                kind=ConnectorKind.discord_bot,
                credential=fake.token,
                settings={"api_base_url": fake.rest_url},
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
            await fake.wait_for_call("PUT", "/applications/{application}/commands", timeout=20)
            await fake.dispatch("INTERACTION_CREATE", fake.command_interaction("ping"))
            reply = await fake.wait_for_call(
                "POST", "/interactions/{interaction}/{token}/callback", timeout=20
            )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 15)
            await runner.cleanup()

    assert reply.json["type"] == 4  # CHANNEL_MESSAGE_WITH_SOURCE
    assert reply.json["data"]["content"] == "pong Ada"
    with session_scope() as session:
        (execution,) = session.exec(
            select(FlowExecution).where(FlowExecution.flow_id == flow_id)
        ).all()
    finished = await executions.wait_for_finish(execution.id, 10)
    assert finished is not None and finished.status == ExecutionStatus.succeeded
    assert finished.trigger_data["command"] == "ping"
    steps = {step.node_id: step for step in executions.load_steps(execution.id)}
    assert set(steps) == {"t", "r"}

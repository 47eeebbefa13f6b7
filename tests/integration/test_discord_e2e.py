"""End to end: /ping slash command on the fake Discord → supervisor → flow → interaction reply.

Everything real but Discord: hikari under the supervisor, the embedded Dramatiq broker
and worker threads, the flow runtime, the pool API over HTTP.
"""

from __future__ import annotations

import pytest

from engine.models.connections import ConnectorKind
from tests.fakes import DISCORD_USER_ID, FakeDiscord
from tests.flow_helpers import chain, make_flow
from tests.integration.supervised import only_execution_steps, supervised_instance


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
        settings = {"api_base_url": fake.rest_url}
        async with supervised_instance(monkeypatch, ConnectorKind.discord_bot, fake.token,
                                       settings):  # fmt: skip
            await fake.wait_until_ready(timeout=20)  # no bot configuration: no commands pushed
            await fake.dispatch("INTERACTION_CREATE", fake.command_interaction("ping"))
            reply = await fake.wait_for_call(
                "POST", "/interactions/{interaction}/{token}/callback", timeout=20
            )

    assert reply.json["type"] == 4  # CHANNEL_MESSAGE_WITH_SOURCE
    assert reply.json["data"]["content"] == "pong Ada"
    execution, steps = await only_execution_steps(flow_id)
    assert execution.trigger_data["command"] == "ping"
    assert set(steps) == {"t", "r"}

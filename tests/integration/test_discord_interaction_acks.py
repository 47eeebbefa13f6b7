"""Slash commands never time out unanswered: real hikari under a supervisor and the pool API,
the embedded worker running real flows, the fake Discord.

A flow that answers within the acknowledgement delay sends the initial response and nothing
else; a slower one finds the command acknowledged ("thinking…") and its answer edits that
message; a thinking message nobody answers is deleted before its token expires. The bot
configuration's answers are checked at the connector too: only in the bot's scope, and for
a button a flow sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hikari
import pytest
from sqlmodel import Session

from connectors.discord_bot.client import DiscordBotConnector
from connectors.supervisor import Supervisor
from engine.models import AdminUser, Role
from engine.models.connections import ConnectorKind
from tests.fakes import DISCORD_CHANNEL_ID, DISCORD_USER_ID, DiscordCall, FakeDiscord
from tests.fakes import discord_objects as dc
from tests.flow_helpers import chain, make_flow
from tests.integration.supervised import supervised_instances
from tests.integration.test_bot_config_discord import GLOBAL_COMMANDS, document, live_bot, publish
from tests.unit.test_community_service import user

CALLBACK = "/interactions/{interaction}/{token}/callback"
EDIT_ORIGINAL = "/webhooks/{application}/{token}/messages/{message}"
DEFERRED = int(hikari.ResponseType.DEFERRED_MESSAGE_CREATE)
MESSAGE = int(hikari.ResponseType.MESSAGE_CREATE)


@pytest.fixture
def editor(sqlite_session: Session) -> AdminUser:
    return user(sqlite_session, Role.editor)


def replying(command: str, *, wait: float = 0) -> dict[str, Any]:
    """A flow answering ``/command`` in place, after a durable delay when ``wait``."""
    delay = [("d", "delay", {"seconds": wait})] if wait else []
    return chain(
        ("t", "dc_slash_command", {"command": command}),
        *delay,
        ("r", "reply_in_place", {"text": "pong {{trigger.user.first_name}}"}),
    )


async def settled(supervisor: Supervisor, instance_id: int, timeout: float = 15) -> None:
    """Until the connector has nothing in flight: every acknowledgement decided."""
    async with asyncio.timeout(timeout):
        while True:
            managed = supervisor.instances.get(instance_id)
            connector = managed.connector if managed else None
            if isinstance(connector, DiscordBotConnector) and not connector._tasks:
                return
            await asyncio.sleep(0.02)


async def run_command(
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, Any],
    command: str,
    then: str,
    before: Any = None,
) -> tuple[FakeDiscord, dict[str, Any], DiscordCall]:
    """``/command`` sent to a supervised bot with ``settings``; the fake, the interaction
    and the call ``then`` (``"PATCH"`` edit or ``"DELETE"``) of its webhook once it came.
    ``before(instance_id)`` runs before the connector starts (to publish a configuration)."""
    async with FakeDiscord() as fake:
        fake.add_guild()
        fake.user(DISCORD_USER_ID, "Ada")
        instance = (
            ConnectorKind.discord_bot,
            fake.token,
            {"api_base_url": fake.rest_url, **settings},
        )
        async with supervised_instances(monkeypatch, [instance]) as (supervisor, [instance_id]):
            if before is not None:
                before(instance_id)  # no await since the supervisor task was made: it waits
            await fake.wait_until_ready(timeout=20)
            interaction = fake.command_interaction(command)
            await fake.dispatch("INTERACTION_CREATE", interaction)
            last = await fake.wait_for_call(then, EDIT_ORIGINAL, timeout=20)
            await settled(supervisor, instance_id)
    return fake, interaction, last


@pytest.mark.usefixtures("worker")
async def test_a_flow_answering_in_time_sends_the_initial_response_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_flow(replying("ping"))
    async with FakeDiscord() as fake:
        fake.add_guild()
        fake.user(DISCORD_USER_ID, "Ada")
        instance = (ConnectorKind.discord_bot, fake.token, {"api_base_url": fake.rest_url})
        async with supervised_instances(monkeypatch, [instance]) as (supervisor, [instance_id]):
            await fake.wait_until_ready(timeout=20)
            await fake.dispatch("INTERACTION_CREATE", fake.command_interaction("ping"))
            await fake.wait_for_call("POST", CALLBACK, timeout=20)
            await settled(supervisor, instance_id)  # the acknowledgement's delay is over

    [answer] = fake.calls_to("POST", CALLBACK)  # no deferral after the answer
    assert answer.json["type"] == MESSAGE
    assert answer.json["data"]["content"] == "pong Ada"
    assert fake.calls_to("PATCH", EDIT_ORIGINAL) == []


@pytest.mark.usefixtures("worker")
async def test_a_slow_flow_finds_the_command_thinking_and_its_answer_edits_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_flow(replying("slow", wait=1))
    settings = {"command_ack_delay": 0.2}
    fake, interaction, edit = await run_command(monkeypatch, settings, "slow", "PATCH")

    [ack] = fake.calls_to("POST", CALLBACK)
    assert ack.params["interaction"] == interaction["id"]
    assert ack.json["type"] == DEFERRED  # "Bot is thinking…" before the 3 s ran out
    assert edit.params == {
        "application": fake.application_id,
        "token": interaction["token"],
        "message": "@original",
    }
    assert edit.json["content"] == "pong Ada"
    assert edit.json["allowed_mentions"]["parse"] == []
    assert fake.calls_to("DELETE", EDIT_ORIGINAL) == []  # answered: the timeout keeps it


@pytest.mark.usefixtures("worker")
async def test_a_thinking_message_nobody_answers_is_deleted_in_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_flow(chain(("t", "dc_slash_command", {"command": "mute"}), ("l", "log", {"message": "x"})))
    settings = {"command_ack_delay": 0.1, "command_answer_timeout": 0.5}
    fake, interaction, deleted = await run_command(monkeypatch, settings, "mute", "DELETE")

    [ack] = fake.calls_to("POST", CALLBACK)
    assert ack.json["type"] == DEFERRED
    assert (deleted.params["token"], deleted.params["message"]) == (
        interaction["token"],
        "@original",
    )
    assert fake.calls_to("PATCH", EDIT_ORIGINAL) == []


@pytest.mark.usefixtures("worker")
async def test_a_bot_config_command_starting_a_flow_is_acknowledged_then_answered(
    monkeypatch: pytest.MonkeyPatch, editor: AdminUser
) -> None:
    flow_id = make_flow(replying("not-this-one", wait=1))  # started by the bot config only
    doc = document(
        commands=[
            {"name": "report", "description": {"en": "Report"},
             "action": {"kind": "flow", "target": str(flow_id)}}
        ]
    )  # fmt: skip

    def configure(instance_id: int) -> None:
        publish(editor, instance_id, doc)

    settings = {"command_ack_delay": 0.2}
    fake, interaction, edit = await run_command(
        monkeypatch, settings, "report", "PATCH", before=configure
    )

    assert [c["name"] for c in fake.calls_to("PUT", GLOBAL_COMMANDS)[0].json] == ["report"]
    [ack] = fake.calls_to("POST", CALLBACK)
    assert ack.json["type"] == DEFERRED
    assert edit.params["token"] == interaction["token"]
    assert edit.json["content"] == "pong Ada"


# -- the bot configuration's answers at the connector ---------------------------------------


async def test_the_bot_answers_only_in_its_scope(editor: AdminUser) -> None:
    in_scope = dc.snowflake()
    scope = {"everywhere": False, "chat_ids": [in_scope], "private_chats": False}
    async with live_bot(editor, document(scope=scope)) as bot:
        fake = bot.fake
        fake.add_channel(in_scope, 0, guild_id=next(iter(fake.guilds)))
        dm = fake.add_channel(dc.snowflake(), 1, recipients=[fake.user(DISCORD_USER_ID)])
        outside = await bot.command("help")  # the guild's other channel
        private = await bot.command("help", channel_id=dm["id"])
        inside = await bot.command("help", channel_id=in_scope)
        await fake.dispatch("MESSAGE_CREATE", fake.user_message("the price?"))
        await fake.dispatch("MESSAGE_CREATE", fake.user_message("price", channel_id=in_scope))
        price = await fake.wait_for_call("POST", "/channels/{channel}/messages", timeout=10)
        await bot.settled(events=5)

    assert outside.json["type"] == DEFERRED  # not answered: only acknowledged
    assert private.json["type"] == DEFERRED
    assert inside.json["type"] == MESSAGE
    assert inside.json["data"]["content"] == "**Help** for ada"
    assert price.params["channel"] == in_scope
    assert len(fake.calls_to("POST", "/channels/{channel}/messages")) == 1


async def test_a_button_a_flow_sent_gets_its_configured_response(editor: AdminUser) -> None:
    responses = [
        *document()["responses"],
        {"key": "thanks", "triggers": [{"kind": "button", "value": "rate:5"}],
         "text": {"en": "Thanks for the 5, {{ member.name }}"}},
    ]  # fmt: skip
    async with live_bot(editor, document(responses=responses)) as bot:
        fake = bot.fake
        sent_by_a_flow = dc.message(DISCORD_CHANNEL_ID, fake.me, "Rate us")
        answer = await bot.click(sent_by_a_flow, "rate:5", locale="en-US")
        other = fake.component_interaction(sent_by_a_flow, "rate:1")
        await fake.dispatch("INTERACTION_CREATE", other)
        unknown = await bot.answer_to(other)
        await bot.settled(events=2)

    assert answer.json["type"] == MESSAGE
    assert answer.json["data"]["content"] == "Thanks for the 5, ada"
    assert unknown.json["type"] == int(hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)
    assert bot.forwarded.count("dc_button_click") == 2

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
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import hikari
import pytest
from sqlmodel import Session

from connectors.discord_bot.client import DiscordBotConnector
from connectors.supervisor import Supervisor
from engine.db import session_scope
from engine.models import AdminUser, Role
from engine.models.connections import BotInstance, ConnectorKind, PlatformConnection
from tests.fakes import DISCORD_CHANNEL_ID, DISCORD_USER_ID, DiscordCall, FakeDiscord
from tests.fakes import discord_objects as dc
from tests.flow_helpers import chain, make_flow
from tests.integration.supervised import supervised_instances
from tests.integration.test_bot_config_discord import (
    GLOBAL_COMMANDS,
    Bot,
    document,
    live_bot,
    publish,
    supervised,
)
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
    until: tuple[str, str],
    before: Any = None,
) -> tuple[FakeDiscord, dict[str, Any], DiscordCall]:
    """``/command`` sent to a supervised bot with ``settings``; the fake, the interaction
    and the first call ``until`` (method, route) once it came and the connector settled.
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
            last = await fake.wait_for_call(*until, timeout=20)
            await settled(supervisor, instance_id)  # every acknowledgement decided
    return fake, interaction, last


@pytest.mark.usefixtures("worker")
async def test_a_flow_answering_in_time_sends_the_initial_response_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_flow(replying("ping"))
    settings = {"command_ack_delay": 2.9}  # the latest Discord allows: room for a busy test
    fake, _, answer = await run_command(monkeypatch, settings, "ping", ("POST", CALLBACK))

    assert fake.calls_to("POST", CALLBACK) == [answer]  # no deferral after the answer
    assert answer.json["type"] == MESSAGE
    assert answer.json["data"]["content"] == "pong Ada"
    assert fake.calls_to("PATCH", EDIT_ORIGINAL) == []


@pytest.mark.usefixtures("worker")
async def test_a_slow_flow_finds_the_command_thinking_and_its_answer_edits_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_flow(replying("slow", wait=1))
    settings = {"command_ack_delay": 0.2}
    fake, interaction, edit = await run_command(
        monkeypatch, settings, "slow", ("PATCH", EDIT_ORIGINAL)
    )

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
    fake, interaction, deleted = await run_command(
        monkeypatch, settings, "mute", ("DELETE", EDIT_ORIGINAL)
    )

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
        monkeypatch, settings, "report", ("PATCH", EDIT_ORIGINAL), before=configure
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


# -- late answers at the connector ----------------------------------------------------------


@contextlib.asynccontextmanager
async def acking_bot(**settings: Any) -> AsyncIterator[Bot]:
    """A supervised bot without a configuration, acknowledging after the given delays."""
    async with FakeDiscord() as fake:
        fake.add_guild()
        fake.user(DISCORD_USER_ID, "ada")
        with session_scope() as session:
            instance = BotInstance(
                name="Acking bot",
                kind=ConnectorKind.discord_bot,
                credential=fake.token,
                settings={"api_base_url": fake.rest_url, **settings},
            )
            session.add(instance)
            session.flush()
            assert instance.id is not None
            session.add(PlatformConnection(bot_instance_id=instance.id, is_active=True))
            instance_id = instance.id
        async with supervised(fake, instance_id) as bot:
            yield bot


async def respond(bot: Bot, interaction: dict[str, Any], **params: Any) -> dict[str, Any]:
    """What a flow's respond_interaction step does, through the supervisor."""
    ids = {"interaction_id": interaction["id"], "interaction_token": interaction["token"]}
    result = await bot.supervisor.execute(
        bot.instance_id, "discord_bot", "respond_interaction", {**ids, **params}
    )
    return dict(result)


async def received(bot: Bot, kind: str = "dc_slash_command") -> None:
    """Until the connector handed an event of ``kind`` on (it knows its interaction)."""
    async with asyncio.timeout(10):
        while kind not in bot.forwarded:
            await asyncio.sleep(0.01)


async def acknowledged_command(bot: Bot) -> dict[str, Any]:
    """A slash command nobody answered, once the connector's deferral is through."""
    interaction: dict[str, Any] = bot.fake.command_interaction("slow")
    await bot.fake.dispatch("INTERACTION_CREATE", interaction)
    ack = await bot.answer_to(interaction)
    assert ack.json["type"] == DEFERRED
    await bot.settled(events=1)
    return interaction


@pytest.mark.usefixtures("sqlite_session")
async def test_an_answer_during_the_acknowledgement_waits_for_it_then_edits() -> None:
    """The race: the answer comes while the deferral is on its way (held by a rate
    limit); it is sent once, as an edit after the deferral, never as a second callback."""
    async with acking_bot(command_ack_delay=0.05) as bot:
        fake = bot.fake
        fake.rate_limit_next(f"POST {CALLBACK}", retry_after=0.5)
        interaction = fake.command_interaction("slow")
        await fake.dispatch("INTERACTION_CREATE", interaction)
        held = await fake.wait_for_call("POST", CALLBACK, timeout=10)  # the 429
        assert held.status == 429
        result = await respond(bot, interaction, content="Done")
        await bot.settled(events=1)

    held, ack = fake.calls_to("POST", CALLBACK)
    assert (held.json["type"], ack.json["type"], ack.status) == (DEFERRED, DEFERRED, 200)
    [edit] = fake.calls_to("PATCH", EDIT_ORIGINAL)
    assert edit.json["content"] == "Done"
    assert fake.calls.index(edit) > fake.calls.index(ack)  # after the deferral, not before
    assert result["ok"] is True


@pytest.mark.usefixtures("sqlite_session")
async def test_a_private_answer_to_a_public_thinking_message_replaces_it_privately() -> None:
    async with acking_bot(command_ack_delay=0.05) as bot:
        interaction = await acknowledged_command(bot)
        await respond(bot, interaction, content="Only you", ephemeral=True)

    fake = bot.fake
    [followup] = fake.calls_to("POST", "/webhooks/{application}/{token}")
    assert followup.json["content"] == "Only you"
    assert followup.json["flags"] == int(hikari.MessageFlag.EPHEMERAL)
    [deleted] = fake.calls_to("DELETE", EDIT_ORIGINAL)
    assert deleted.params["message"] == "@original"
    assert fake.calls_to("PATCH", EDIT_ORIGINAL) == []


@pytest.mark.usefixtures("sqlite_session")
async def test_after_a_clicks_acknowledgement_a_message_follows_and_an_update_edits() -> None:
    async with acking_bot(button_ack_delay=0.05) as bot:
        fake = bot.fake
        message = dc.message(DISCORD_CHANNEL_ID, fake.me, "Rate us")
        click = fake.component_interaction(message, "rate:5")
        await fake.dispatch("INTERACTION_CREATE", click)
        ack = await bot.answer_to(click)
        await bot.settled(events=1)
        await respond(bot, click, content="Thanks!", ephemeral=True)
        await respond(bot, click, content="Rated 5", response_type="message_update")

    assert ack.json["type"] == int(hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)
    [followup] = fake.calls_to("POST", "/webhooks/{application}/{token}")
    assert (followup.json["content"], followup.json["flags"]) == ("Thanks!", 64)
    [edit] = fake.calls_to("PATCH", EDIT_ORIGINAL)  # the clicked message
    assert (edit.params["message"], edit.json["content"]) == ("@original", "Rated 5")
    assert len(fake.calls_to("POST", CALLBACK)) == 1


@pytest.mark.usefixtures("sqlite_session")
async def test_a_flows_own_deferral_stops_the_connectors_and_its_answer_edits() -> None:
    async with acking_bot(command_ack_delay=0.3) as bot:
        fake = bot.fake
        interaction = fake.command_interaction("slow")
        await fake.dispatch("INTERACTION_CREATE", interaction)
        await received(bot)  # as a flow would: after the event
        await respond(bot, interaction, response_type="deferred_message_create", ephemeral=True)
        await bot.settled(events=1)  # the connector's delay is over
        await respond(bot, interaction, content="Here", ephemeral=True)

    [deferral] = fake.calls_to("POST", CALLBACK)  # the flow's, and no second one
    assert deferral.json["type"] == DEFERRED
    assert deferral.json["data"]["flags"] == int(hikari.MessageFlag.EPHEMERAL)
    [edit] = fake.calls_to("PATCH", EDIT_ORIGINAL)  # private already: edited in place
    assert edit.json["content"] == "Here"

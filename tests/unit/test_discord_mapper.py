"""Discord gateway events → PlatformEvents, through the real connector: a hikari GatewayBot
connected to the fake Discord receives each dispatch, deserialises it into hikari's own event
types, and the mapper turns that into the event shape the dc_* triggers document."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import hikari
import pytest
from sqlmodel import Session

from connectors.discord_bot.client import DiscordBotConnector
from connectors.kit.connector import InstanceConfig
from connectors.kit.errors import CredentialRejected
from engine.models.botconfig import BotConfigVersion
from engine.models.connections import BotInstance, ConnectorKind
from engine.nodes.registry import REGISTRY
from engine.platform_event import PlatformEvent
from tests.fakes import DISCORD_CHANNEL_ID as CHANNEL
from tests.fakes import DISCORD_GUILD_ID as GUILD
from tests.fakes import DISCORD_USER_ID as USER
from tests.fakes import FakeDiscord
from tests.fakes import discord_objects as dc


class Running:
    """A started connector plus what it emitted (trigger events and chat_seen discoveries
    apart) and reported."""

    def __init__(self, connector: DiscordBotConnector, fake: FakeDiscord) -> None:
        self.connector = connector
        self.fake = fake
        self.events: asyncio.Queue[PlatformEvent] = asyncio.Queue()
        self.seen: asyncio.Queue[PlatformEvent] = asyncio.Queue()
        self.reports: list[tuple[str, str, dict[str, Any]]] = []

    async def next_event(self, timeout: float = 5.0) -> PlatformEvent:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def next_seen(self, count: int, timeout: float = 5.0) -> list[PlatformEvent]:
        return [await asyncio.wait_for(self.seen.get(), timeout) for _ in range(count)]


@pytest.fixture
def instance_id(sqlite_session: Session) -> int:
    instance = BotInstance(name="Test bot", kind=ConnectorKind.discord_bot)
    sqlite_session.add(instance)
    sqlite_session.commit()
    assert instance.id is not None
    commands = [
        {"name": "ticket", "description": {"en": "Open a ticket", "de": "Ticket öffnen"}},
        {"name": "old", "description": {"en": "Gone"}, "enabled": False},
    ]
    sqlite_session.add(
        BotConfigVersion(
            bot_instance_id=instance.id,
            version=1,
            document={"languages": ["en", "de"], "commands": commands},
        )
    )
    sqlite_session.commit()
    return instance.id


@pytest.fixture
async def running(instance_id: int) -> AsyncIterator[Running]:
    async with FakeDiscord() as fake:
        fake.add_guild()
        config = InstanceConfig(
            instance_id=instance_id,
            kind="discord_bot",
            credential=fake.token,
            settings={"button_ack_delay": 0.2},
            api_base_url=fake.rest_url,
        )
        holder: list[Running] = []

        async def emit(event: PlatformEvent) -> None:
            queue = holder[0].seen if event.kind == "chat_seen" else holder[0].events
            await queue.put(event)

        async def report(status: str, message: str, details: Any) -> None:
            holder[0].reports.append((status, message, dict(details)))

        connector = DiscordBotConnector(config, emit, report)
        holder.append(Running(connector, fake))
        task = asyncio.create_task(connector.run())
        await fake.wait_for_call("PUT", "/applications/{application}/commands", timeout=15)
        try:
            yield holder[0]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _example_keys(kind: str) -> dict[str, Any]:
    return dict(REGISTRY.get(kind).example_payload or {})


def assert_shaped_like_example(event: PlatformEvent) -> None:
    """Same kind, platform and connector as the example; data has exactly its keys."""
    example = _example_keys(event.kind)
    assert event.platform == example["platform"] == "discord"
    assert event.connector == example["connector"]
    assert event.data.keys() >= example["data"].keys()
    assert event.event_id.startswith(f"discord_bot:{event.kind}:")
    for part in ("chat", "user"):
        assert (getattr(event, part) is None) == (example[part] is None), part


async def test_connects_with_the_trigger_intents_and_syncs_slash_commands(
    running: Running,
) -> None:
    fake = running.fake
    expected = (
        hikari.Intents.GUILDS
        | hikari.Intents.GUILD_MESSAGES
        | hikari.Intents.GUILD_MESSAGE_REACTIONS
        | hikari.Intents.DM_MESSAGES
        | hikari.Intents.DM_MESSAGE_REACTIONS
        | hikari.Intents.MESSAGE_CONTENT
        | hikari.Intents.GUILD_MEMBERS
    )
    assert fake.intents == int(expected)
    [sync] = fake.calls_to("PUT", "/applications/{application}/commands")
    assert sync.params["application"] == fake.application_id
    assert sync.json == [
        {
            "type": 1,
            "name": "ticket",
            "name_localizations": {},
            "description": "Open a ticket",
            "description_localizations": {"de": "Ticket öffnen"},
            "options": [],
        }
    ]
    statuses = [status for status, _, _ in running.reports]
    assert statuses[:2] == ["connecting", "connected"]


async def test_message(running: Running) -> None:
    payload = running.fake.user_message("Hi all!")
    await running.fake.dispatch("MESSAGE_CREATE", payload)

    event = await running.next_event()

    assert event.kind == "dc_message"
    assert_shaped_like_example(event)
    assert event.message_id == payload["id"]
    assert event.text == "Hi all!"
    assert event.chat is not None and event.user is not None
    assert (event.chat.id, event.chat.type, event.chat.guild_id) == (CHANNEL, "guild", GUILD)
    assert event.chat.title == f"general-{CHANNEL}"
    assert event.user.id == USER and not event.user.is_bot
    assert event.instance_id == running.connector.config.instance_id


async def test_the_bots_own_messages_start_nothing(running: Running) -> None:
    fake = running.fake
    own = dc.message(CHANNEL, fake.me, "I said this", guild_id=GUILD)
    await fake.dispatch("MESSAGE_CREATE", own)
    await fake.dispatch("MESSAGE_CREATE", fake.user_message("after"))
    event = await running.next_event()
    assert event.text == "after"


async def test_slash_command(running: Running) -> None:
    interaction = running.fake.command_interaction(
        "ticket", [{"name": "topic", "type": 3, "value": "billing"}], locale="de"
    )
    await running.fake.dispatch("INTERACTION_CREATE", interaction)

    event = await running.next_event()

    assert event.kind == "dc_slash_command"
    assert_shaped_like_example(event)
    assert (event.command, event.args, event.text) == (
        "ticket",
        ["billing"],
        "/ticket topic:billing",
    )
    assert event.data == {
        "interaction_id": interaction["id"],
        "interaction_token": interaction["token"],
        "options": {"topic": "billing"},
    }
    assert event.user is not None and event.user.id == USER
    assert event.user.language == "de"  # the member's Discord client language


def _button_interaction(fake: FakeDiscord, custom_id: str) -> dict[str, Any]:
    """INTERACTION_CREATE for a click (type 3) on a button under one of the bot's messages."""
    message = dc.message(CHANNEL, fake.me, "Pick a role", guild_id=GUILD)
    interaction: dict[str, Any] = fake.component_interaction(message, custom_id)
    return interaction


async def test_button_click_is_mapped_and_acknowledged_when_no_flow_answers(
    running: Running,
) -> None:
    interaction = _button_interaction(running.fake, "role:announcements")
    await running.fake.dispatch("INTERACTION_CREATE", interaction)

    event = await running.next_event()

    assert event.kind == "dc_button_click"
    assert_shaped_like_example(event)
    assert event.message_id == interaction["message"]["id"]
    assert event.data == {
        "custom_id": "role:announcements",
        "interaction_id": interaction["id"],
        "interaction_token": interaction["token"],
    }
    ack = await running.fake.wait_for_call(
        "POST", f"/interactions/{interaction['id']}/{interaction['token']}/callback"
    )
    assert ack.json["type"] == int(hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)


async def test_button_click_answered_by_a_flow_is_not_acknowledged_twice(
    running: Running,
) -> None:
    interaction = _button_interaction(running.fake, "role:news")
    await running.fake.dispatch("INTERACTION_CREATE", interaction)
    event = await running.next_event()

    await running.connector.execute(
        "respond_interaction",
        {
            "interaction_id": event.data["interaction_id"],
            "interaction_token": event.data["interaction_token"],
            "content": "Role added",
            "ephemeral": True,
        },
    )
    async with asyncio.timeout(10):  # until the deferred acknowledgement has decided
        while running.connector._tasks:
            await asyncio.sleep(0.02)

    path = f"/interactions/{interaction['id']}/{interaction['token']}/callback"
    [answer] = running.fake.calls_to("POST", path)
    assert answer.json["type"] == int(hikari.ResponseType.MESSAGE_CREATE)


async def test_member_join_and_leave(running: Running) -> None:
    fake = running.fake
    newcomer = fake.user("900000000000000200", "grace")
    await fake.dispatch("GUILD_MEMBER_ADD", {**dc.member(newcomer), "guild_id": GUILD})
    joined = await running.next_event()

    assert joined.kind == "dc_member_join"
    assert_shaped_like_example(joined)
    assert joined.chat is not None and joined.user is not None
    assert (joined.chat.id, joined.chat.type, joined.chat.guild_id) == (GUILD, "guild", GUILD)
    assert (joined.user.id, joined.user.username) == ("900000000000000200", "grace")

    await fake.dispatch("GUILD_MEMBER_REMOVE", {"guild_id": GUILD, "user": newcomer})
    left = await running.next_event()

    assert left.kind == "dc_member_leave"
    assert_shaped_like_example(left)
    assert left.user is not None and left.user.id == "900000000000000200"


async def test_member_update_reports_roles_and_nickname(running: Running) -> None:
    fake = running.fake
    role = "1111111111111111111"
    updated = {**dc.member(fake.user(USER), roles=[role], nick="Ada (mod)"), "guild_id": GUILD}
    await fake.dispatch("GUILD_MEMBER_UPDATE", updated)

    event = await running.next_event()

    assert event.kind == "dc_member_update"
    assert_shaped_like_example(event)
    assert event.data == {
        "added_roles": [role],
        "removed_roles": [],
        "old_nickname": None,
        "new_nickname": "Ada (mod)",
    }


async def test_reaction_add(running: Running) -> None:
    fake = running.fake
    message = fake.user_message("vote here")
    reaction = {
        "user_id": USER,
        "channel_id": CHANNEL,
        "message_id": message["id"],
        "guild_id": GUILD,
        "member": dc.member(fake.user(USER)),
        "emoji": {"id": None, "name": "✅"},
        "burst": False,
        "type": 0,
    }
    await fake.dispatch("MESSAGE_REACTION_ADD", reaction)

    event = await running.next_event()

    assert event.kind == "dc_reaction_add"
    assert_shaped_like_example(event)
    assert event.message_id == message["id"]
    assert event.data == {"emoji": "✅", "emoji_id": None}
    assert event.user is not None and event.user.id == USER


async def test_message_delete_carries_the_cached_text(running: Running) -> None:
    fake = running.fake
    message = fake.user_message("Hi all!")
    await fake.dispatch("MESSAGE_CREATE", message)
    await running.next_event()

    await fake.dispatch(
        "MESSAGE_DELETE", {"id": message["id"], "channel_id": CHANNEL, "guild_id": GUILD}
    )
    event = await running.next_event()

    assert event.kind == "dc_message_delete"
    assert_shaped_like_example(event)
    assert event.message_id == message["id"]
    assert event.data == {"cached_text": "Hi all!"}
    assert event.user is None


@pytest.mark.usefixtures("sqlite_session")  # the bot's configuration is read before connecting
async def test_a_rejected_token_is_a_credential_problem_not_a_crash() -> None:
    async with FakeDiscord() as fake:
        config = InstanceConfig(
            instance_id=1,
            kind="discord_bot",
            credential="MTIz.wrong.token",
            api_base_url=fake.rest_url,
        )

        async def ignore(*_: Any) -> None:
            return None

        with pytest.raises(CredentialRejected, match="token"):
            await asyncio.wait_for(DiscordBotConnector(config, ignore, ignore).run(), 15)


# -- chat discovery ---------------------------------------------------------------------------


def _chats(events: list[PlatformEvent]) -> dict[str, PlatformEvent]:
    assert all(e.kind == "chat_seen" and e.event_id.startswith("discord_bot:chat_seen:")
               for e in events)  # fmt: skip
    return {e.chat.id: e for e in events if e.chat is not None}


async def test_guilds_seen_on_connect_are_discovered_with_their_text_channels(
    running: Running,
) -> None:
    seen = _chats(await running.next_seen(2))
    guild, channel = seen[GUILD], seen[CHANNEL]
    assert guild.chat is not None and channel.chat is not None
    assert (guild.chat.type, guild.chat.title, guild.chat.guild_id) == (
        "guild", "Flowbot Test Guild", None,
    )  # fmt: skip
    assert guild.data["member_count"] == 2 and guild.data["gone"] is False
    assert guild.data["bot_is_admin"] is False  # @everyone's rights only
    assert guild.data["bot_rights"]["manage_messages"] is False
    assert (channel.chat.type, channel.chat.title, channel.chat.guild_id) == (
        "text", f"general-{CHANNEL}", GUILD,
    )  # fmt: skip
    assert channel.data["member_count"] is None
    assert channel.instance_id == running.connector.config.instance_id
    assert channel.platform == "discord"


async def test_joining_a_guild_as_admin_and_leaving_it(running: Running) -> None:
    fake = running.fake
    await running.next_seen(2)  # the guild of the fixture
    await fake.join_guild(
        "910000000000000001", "Ops", channel_ids=("910000000000000010",),
        admin_ids=(fake.me["id"],),
    )  # fmt: skip
    joined = _chats(await running.next_seen(2))
    assert joined["910000000000000001"].data["bot_is_admin"] is True
    assert all(joined["910000000000000001"].data["bot_rights"].values())
    assert joined["910000000000000010"].data["bot_is_admin"] is True

    await fake.leave_guild("910000000000000001")
    (left,) = await running.next_seen(1)
    assert left.chat is not None and left.chat.id == "910000000000000001"
    assert left.chat.title == "Ops" and left.data["gone"] is True


async def test_text_channel_created_renamed_and_deleted(running: Running) -> None:
    fake = running.fake
    await running.next_seen(2)
    category = fake.add_channel("910000000000000013", 4, guild_id=GUILD, name="Lounge")
    await fake.dispatch("CHANNEL_CREATE", category)  # not a chat: nothing
    text = fake.add_channel("910000000000000014", 0, guild_id=GUILD, name="news")
    await fake.dispatch("CHANNEL_CREATE", text)
    await fake.dispatch("CHANNEL_UPDATE", {**text, "name": "announcements"})
    await fake.dispatch("CHANNEL_DELETE", text)

    created, renamed, deleted = await running.next_seen(3)
    assert running.seen.empty()
    assert created.chat is not None and renamed.chat is not None and deleted.chat is not None
    assert (created.chat.id, created.chat.title) == ("910000000000000014", "news")
    assert created.chat.guild_id == GUILD and created.data["bot_is_admin"] is False
    assert renamed.chat.title == "announcements" and renamed.data["gone"] is False
    assert deleted.data["gone"] is True


async def test_voice_and_stage_channels_are_chats_of_their_own_types(running: Running) -> None:
    """Recorded so voice pickers (dc_move_member, dc_create_event) can offer them; their
    types keep them out of the chats messages go to."""
    fake = running.fake
    await running.next_seen(2)
    voice = fake.add_channel("910000000000000015", 2, guild_id=GUILD, name="Hangout")
    stage = fake.add_channel("910000000000000016", 13, guild_id=GUILD, name="Town hall")
    await fake.dispatch("CHANNEL_CREATE", voice)
    await fake.dispatch("CHANNEL_CREATE", stage)
    await fake.dispatch("CHANNEL_DELETE", voice)

    created_voice, created_stage, deleted = await running.next_seen(3)
    assert created_voice.chat is not None and created_stage.chat is not None
    assert (created_voice.chat.id, created_voice.chat.type, created_voice.chat.title) == (
        "910000000000000015", "guild_voice", "Hangout",
    )  # fmt: skip
    assert (created_stage.chat.type, created_stage.chat.title) == ("guild_stage", "Town hall")
    assert created_voice.chat.guild_id == GUILD == created_stage.chat.guild_id
    assert deleted.chat is not None and deleted.chat.id == "910000000000000015"
    assert deleted.data["gone"] is True


async def test_a_renamed_guild_is_rediscovered_with_its_channels(running: Running) -> None:
    fake = running.fake
    await running.next_seen(2)
    renamed = {k: v for k, v in fake.guilds[GUILD].items() if k not in ("channels", "members")}
    await fake.dispatch("GUILD_UPDATE", {**renamed, "name": "Flowbot Friends"})

    seen = _chats(await running.next_seen(2))
    guild, channel = seen[GUILD].chat, seen[CHANNEL].chat
    assert guild is not None and guild.title == "Flowbot Friends"
    assert channel is not None and channel.guild_id == GUILD


async def test_the_bots_rights_follow_its_roles(running: Running) -> None:
    fake = running.fake
    await running.next_seen(2)
    guild = fake.guilds[GUILD]
    admin_role = next(role for role in guild["roles"] if role["name"] == "Admin")

    someone = {**dc.member(fake.user(USER), roles=[admin_role["id"]]), "guild_id": GUILD}
    await fake.dispatch("GUILD_MEMBER_UPDATE", someone)  # not the bot: its rights stand
    await running.next_event()  # the dc_member_update trigger's event
    me = {**dc.member(fake.me, roles=[admin_role["id"]]), "guild_id": GUILD}
    await fake.dispatch("GUILD_MEMBER_UPDATE", me)
    promoted = _chats(await running.next_seen(2))
    assert promoted[GUILD].data["bot_is_admin"] is True
    assert promoted[CHANNEL].data["bot_is_admin"] is True

    demoted = {**admin_role, "permissions": str(1 << 13)}  # MANAGE_MESSAGES only
    await fake.dispatch("GUILD_ROLE_UPDATE", {"guild_id": GUILD, "role": demoted})
    seen = _chats(await running.next_seen(2))
    assert seen[GUILD].data["bot_is_admin"] is False
    assert seen[GUILD].data["bot_rights"]["manage_messages"] is True
    assert seen[GUILD].data["bot_rights"]["ban_members"] is False
    assert running.seen.empty()

"""End to end: chats discovered by the real connectors reach the engine as chat_seen events.

Everything real but the platforms: aiogram and hikari under the supervisor against the fake
Telegram Bot API and the fake Discord, the embedded Dramatiq broker and worker threads,
``route_event`` (which keeps each routed event as a sample payload and records chats through
engine/community_events.py), and the pool API over HTTP for ``list_members``/``list_chats``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from engine import pool_client
from engine.db import session_scope
from engine.models import Chat, FlowEvent
from engine.models.connections import BotInstance, ConnectorKind
from tests.fakes import TELEGRAM_USER_ID, FakeDiscord, FakeTelegramBotAPI
from tests.integration.supervised import supervised_instance
from tests.integration.test_supervisor import eventually

GROUP = -1_002_233_445_566
GUILD, TEXT, VOICE = "910000000000000001", "910000000000000010", "910000000000000011"

pytestmark = pytest.mark.usefixtures("worker")


def _routed(kind: str, *, gone: bool) -> Callable[[], list[dict[str, Any]]]:
    """The payloads of ``kind`` events route_event has seen with that ``gone``."""

    def check() -> list[dict[str, Any]]:
        with session_scope() as session:
            rows = session.exec(select(FlowEvent).where(FlowEvent.kind == kind)).all()
            return [r.payload for r in rows if bool(r.payload["data"].get("gone")) is gone]

    return check


def _chat(platform_chat_id: str, condition: Callable[[Chat], bool]) -> Callable[[], Chat | None]:
    def check() -> Chat | None:
        with session_scope() as session:
            row = session.exec(
                select(Chat).where(Chat.platform_chat_id == platform_chat_id)
            ).one_or_none()
            if row is not None and condition(row):
                session.expunge(row)
                return row
            return None

    return check


def _instance_id(kind: ConnectorKind) -> int:
    with session_scope() as session:
        (instance,) = session.exec(select(BotInstance).where(BotInstance.kind == kind)).all()
        assert instance.id is not None
        return instance.id


async def test_telegram_group_discovered_when_the_bot_is_added_and_gone_when_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeTelegramBotAPI() as fake:
        fake.add_user(TELEGRAM_USER_ID, first_name="Ada")
        fake.add_chat(GROUP, "supergroup", "Flowbot Community")
        fake.chats[GROUP]["username"] = "flowbot_community"
        fake.set_member_count(GROUP, 1234)
        fake.set_member(GROUP, TELEGRAM_USER_ID, "creator")
        settings = {"api_base_url": fake.base_url, "poll_timeout": 1}
        async with supervised_instance(monkeypatch, ConnectorKind.telegram_bot, fake.token,
                                       settings):  # fmt: skip
            await fake.wait_for_call("getUpdates", timeout=10)
            fake.push_chat_member(
                fake.me["id"], chat_id=GROUP, old_status="left", new_status="administrator",
                actor_id=TELEGRAM_USER_ID,
            )  # fmt: skip
            (seen,) = await eventually(_routed("chat_seen", gone=False), 20, "chat_seen routed")
            row = await eventually(_chat(str(GROUP), lambda c: c.member_count == 1234), 10)

            instance_id = _instance_id(ConnectorKind.telegram_bot)
            members = await pool_client.execute(
                "telegram_bot", "list_members", {"chat_id": str(GROUP)},
                instance_id=instance_id, idempotency_key="discovery-test-members",
            )  # fmt: skip

            fake.push_chat_member(
                fake.me["id"], chat_id=GROUP, old_status="administrator", new_status="kicked",
                actor_id=TELEGRAM_USER_ID,
            )  # fmt: skip
            (removed,) = await eventually(_routed("chat_seen", gone=True), 20, "gone routed")
            gone = await eventually(_chat(str(GROUP), lambda c: c.gone_at is not None), 10)

    assert seen["chat"] == {
        "id": str(GROUP), "type": "supergroup", "title": "Flowbot Community", "guild_id": None,
    }  # fmt: skip
    assert seen["data"]["member_count"] == 1234 and seen["data"]["bot_is_admin"] is True
    assert seen["data"]["username"] == "flowbot_community"
    assert seen["data"]["bot_rights"]["can_restrict_members"] is True
    assert seen["user"]["id"] == str(TELEGRAM_USER_ID)  # who added the bot
    assert seen["instance_id"] == instance_id and seen["connector"] == "telegram_bot"
    # the enrichment asked once, for the addition only: a chat the bot left is not asked about
    assert [c.params["chat_id"] for c in fake.calls_to("getChat")] == [GROUP]
    assert [c.params["chat_id"] for c in fake.calls_to("getChatMemberCount")] == [GROUP]

    assert (row.title, row.type, row.username) == ("Flowbot Community", "supergroup",
                                                   "flowbot_community")  # fmt: skip
    assert row.bot_is_admin and row.bot_instance_id == instance_id and row.gone_at is None

    assert removed["data"]["gone"] is True and removed["data"]["bot_is_admin"] is False
    assert gone.id == row.id and not gone.bot_is_admin

    by_id = {member["user"]["id"]: member for member in members["members"]}
    assert by_id[str(TELEGRAM_USER_ID)]["role"] == "owner"
    assert by_id[str(TELEGRAM_USER_ID)]["user"]["first_name"] == "Ada"


async def test_failed_enrichment_still_discovers_the_chat(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeTelegramBotAPI() as fake:
        fake.add_chat(GROUP, "supergroup", "Flowbot Community")
        fake.fail_next("getChat", 400, description="Bad Request: chat not found")
        fake.fail_next("getChatMemberCount", 500)
        settings = {"api_base_url": fake.base_url, "poll_timeout": 1}
        async with supervised_instance(monkeypatch, ConnectorKind.telegram_bot, fake.token,
                                       settings):  # fmt: skip
            await fake.wait_for_call("getUpdates", timeout=10)
            fake.push_chat_member(fake.me["id"], chat_id=GROUP, new_status="member")
            (seen,) = await eventually(_routed("chat_seen", gone=False), 20, "chat_seen routed")

    assert seen["chat"]["title"] == "Flowbot Community"  # from the update itself
    assert seen["data"]["member_count"] is None and seen["data"]["bot_is_admin"] is False


async def test_a_renamed_group_is_rediscovered_with_the_bots_status_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeTelegramBotAPI() as fake:
        fake.add_chat(GROUP, "supergroup", "Old name")
        fake.set_member(GROUP, fake.me["id"], "administrator", can_delete_messages=False)
        settings = {"api_base_url": fake.base_url, "poll_timeout": 1}
        async with supervised_instance(monkeypatch, ConnectorKind.telegram_bot, fake.token,
                                       settings):  # fmt: skip
            await fake.wait_for_call("getUpdates", timeout=10)
            fake.chats[GROUP]["title"] = "New name"
            fake.push_message(chat_id=GROUP, new_chat_title="New name")
            row = await eventually(_chat(str(GROUP), lambda c: c.title == "New name"), 20)

    (asked,) = fake.calls_to("getChatMember")
    assert asked.params == {"chat_id": GROUP, "user_id": fake.me["id"]}
    assert row.bot_is_admin and row.bot_rights["can_delete_messages"] is False
    assert row.bot_rights["can_restrict_members"] is True


async def test_discord_guilds_and_channels_discovered_and_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeDiscord() as fake:
        fake.add_guild(GUILD, "Ops", channel_ids=(TEXT,), admin_ids=(fake.me["id"],))
        fake.add_channel(VOICE, 2, guild_id=GUILD, name="voice")
        fake.guilds[GUILD]["channels"].append(fake.channels[VOICE])
        settings = {"api_base_url": fake.rest_url}
        async with supervised_instance(monkeypatch, ConnectorKind.discord_bot, fake.token,
                                       settings):  # fmt: skip
            guild = await eventually(_chat(GUILD, lambda c: c.member_count == 2), 20, "guild")
            text = await eventually(_chat(TEXT, lambda c: c.bot_is_admin), 10, "text channel")
            voice = await eventually(_chat(VOICE, lambda c: True), 10, "voice channel")

            instance_id = _instance_id(ConnectorKind.discord_bot)
            members = await pool_client.execute(
                "discord_bot", "list_members", {"chat_id": GUILD},
                instance_id=instance_id, idempotency_key="discovery-test-dc-members",
            )  # fmt: skip
            chats = await pool_client.execute(
                "discord_bot", "list_chats", {},
                instance_id=instance_id, idempotency_key="discovery-test-dc-chats",
            )  # fmt: skip

            await fake.join_guild("920000000000000001", "Second", channel_ids=())
            second = await eventually(_chat("920000000000000001", lambda c: True), 20, "joined")
            await fake.leave_guild(GUILD)
            left = await eventually(_chat(GUILD, lambda c: c.gone_at is not None), 20, "left")

    assert (guild.type, guild.title, guild.bot_is_admin) == ("guild", "Ops", True)
    assert guild.bot_rights["ban_members"] is True
    assert (text.type, text.title, text.parent_chat_id) == ("text", f"general-{TEXT}", GUILD)
    assert (voice.type, voice.parent_chat_id) == ("guild_voice", GUILD)  # for voice pickers
    assert second.title == "Second" and second.member_count == 2
    assert left.id == guild.id

    roles = {member["user"]["id"]: member["role"] for member in members["members"]}
    assert roles == {"900000000000000100": "owner", fake.me["id"]: "admin"}
    assert {(c["id"], c["type"]) for c in chats["chats"]} == {
        (GUILD, "guild"), (TEXT, "text"), (VOICE, "guild_voice"),
    }  # fmt: skip

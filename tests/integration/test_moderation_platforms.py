"""Moderation carried out on the real connectors: the moderation service → the pool API over
HTTP → the supervisor's connectors → the platforms.

Telegram (aiogram) and Discord (hikari) run against the fake servers, so the requests that
arrive are what the platforms would get. WhatsApp (neonize) and Telegram accounts (pyrogram)
cannot be faked at the wire cheaply: their connections run the connectors' real action layer
on the library's client object (autospec'd, as tests/unit/test_whatsapp_actions.py and
test_telegram_user_actions.py do), under the same supervisor and pool API.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from unittest.mock import MagicMock, create_autospec

import pyrogram
import pytest
from neonize.aioze.client import NewAClient
from neonize.proto.Neonize_pb2 import GroupParticipant
from neonize.utils.enum import ParticipantChange
from neonize.utils.jid import build_jid
from sqlmodel import Session, select

from connectors.kit.actions import ActionRegistry
from connectors.kit.connector import Connector, EmitEvent, InstanceConfig, ReportStatus
from connectors.registry import ConnectorFactory, connector_factory
from connectors.supervisor import Supervisor
from connectors.telegram_user import actions as account_actions
from connectors.whatsapp_user import actions as whatsapp_actions
from engine.models import (
    Chat,
    Community,
    CommunityConfig,
    CommunityMember,
    ModerationAction,
    ModerationLog,
    PlatformAccount,
    UserIdentity,
)
from engine.models.connections import ConnectorKind
from engine.services import moderation
from tests.fakes import (
    DISCORD_CHANNEL_ID,
    DISCORD_GUILD_ID,
    DISCORD_USER_ID,
    TELEGRAM_CHAT_ID,
    TELEGRAM_USER_ID,
    FakeDiscord,
    FakeTelegramBotAPI,
)
from tests.integration.supervised import supervised_instances

LOG_CHAT_ID = -1_001_000_000_555
ACCOUNT_GROUP_ID = -1_001_000_000_777  # a group moderated through a Telegram account
WA_GROUP = "120363025246125486@g.us"
WA_ANN = "4915112345678@s.whatsapp.net"
RULES = {"warnings": {"mute_at": 3, "ban_at": None, "mute_minutes": 60}}
ACTOR = moderation.Actor.system("rules:test")


class LibraryClient(Connector):
    """A connection whose library client object is an autospec: run() only reports
    connected; execute() is the connector's own action layer on that client."""

    def __init__(
        self,
        config: InstanceConfig,
        emit: EmitEvent,
        report: ReportStatus,
        *,
        registry: ActionRegistry[Any],
        client: Any,
        execute: Callable[[Any, str, Mapping[str, Any]], Awaitable[dict[str, Any]]],
    ) -> None:
        super().__init__(config, emit, report)
        self.kind, self.actions, self._client, self._execute = (
            config.kind,
            registry,
            client,
            execute,
        )

    async def run(self) -> None:
        await self.report("connected", "library client object", {})
        await asyncio.Event().wait()

    @property
    def client(self) -> Any:
        return self._client

    async def execute(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return await self._execute(self._client, action, params)


@dataclass
class Platforms:
    telegram: FakeTelegramBotAPI
    discord: FakeDiscord
    neonize: MagicMock  # the WhatsApp account's NewAClient
    pyrogram: MagicMock  # the Telegram account's Client
    supervisor: Supervisor
    instances: dict[str, int]  # kind → bot instance id


def _factories(neonize: MagicMock, account: MagicMock) -> Callable[[str], ConnectorFactory]:
    library = {
        "whatsapp_user": (
            whatsapp_actions.actions,
            whatsapp_actions.WhatsAppContext(neonize),
            whatsapp_actions.execute_action,
        ),
        "telegram_user": (account_actions.actions, account, account_actions.execute_action),
    }

    def factory(kind: str) -> ConnectorFactory:
        if kind not in library:
            return connector_factory(kind)
        registry, client, execute = library[kind]

        def build(config: InstanceConfig, emit: EmitEvent, report: ReportStatus) -> Connector:
            return LibraryClient(
                config, emit, report, registry=registry, client=client, execute=execute
            )

        return build

    return factory


async def _connected(supervisor: Supervisor, ids: list[int], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        managed = [supervisor.instances.get(i) for i in ids]
        if all(m is not None and m.status == "connected" for m in managed):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"not connected: {[(i, m and m.status) for i, m in zip(ids, managed, strict=True)]}"
    )


def _returns(value: Any) -> Callable[..., Awaitable[Any]]:
    async def result(*_: Any, **__: Any) -> Any:
        return value

    return result


@pytest.fixture
async def platforms(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Platforms]:
    neonize = create_autospec(NewAClient, instance=True)
    neonize.update_group_participants.return_value = [
        GroupParticipant(JID=build_jid("4915112345678"))
    ]
    account = create_autospec(pyrogram.Client, instance=True)
    for method in ("ban_chat_member", "unban_chat_member"):  # awaited by the actions
        getattr(account, method).side_effect = _returns(True)
    async with contextlib.AsyncExitStack() as stack:
        telegram = await stack.enter_async_context(FakeTelegramBotAPI())
        discord = await stack.enter_async_context(FakeDiscord())
        discord.add_guild()
        specs = [
            (
                ConnectorKind.telegram_bot,
                telegram.token,
                {"api_base_url": telegram.base_url, "poll_timeout": 1},
            ),
            (ConnectorKind.discord_bot, discord.token, {"api_base_url": discord.rest_url}),
            (ConnectorKind.whatsapp_user, None, {}),
            (ConnectorKind.telegram_user, None, {}),
        ]
        supervisor, ids = await stack.enter_async_context(
            supervised_instances(monkeypatch, specs, _factories(neonize, account))
        )
        await _connected(supervisor, ids)
        kinds = ["telegram_bot", "discord_bot", "whatsapp_user", "telegram_user"]
        yield Platforms(
            telegram, discord, neonize, account, supervisor, dict(zip(kinds, ids, strict=True))
        )


@dataclass
class World:
    community_id: int
    accounts: dict[str, int]  # "telegram" / "discord" / "whatsapp" → account id


def make_world(session: Session, p: Platforms, *, account_group: bool = False) -> World:
    """A community with a Telegram group, a Discord guild (and channel) and a WhatsApp group,
    each on its own connection, a Telegram log chat, and Ann on each platform."""
    community = Community(name="Makers")
    session.add(community)
    session.flush()
    cid, ids = community.id, p.instances
    log_chat = Chat(
        platform="telegram", platform_chat_id=str(LOG_CHAT_ID), bot_instance_id=ids["telegram_bot"]
    )
    chats = [
        Chat(
            platform="telegram",
            platform_chat_id=str(TELEGRAM_CHAT_ID),
            type="supergroup",
            community_id=cid,
            bot_instance_id=ids["telegram_bot"],
        ),
        Chat(
            platform="discord",
            platform_chat_id=DISCORD_GUILD_ID,
            type="guild",
            community_id=cid,
            bot_instance_id=ids["discord_bot"],
        ),
        Chat(
            platform="discord",
            platform_chat_id=DISCORD_CHANNEL_ID,
            type="text",
            parent_chat_id=DISCORD_GUILD_ID,
            community_id=cid,
            bot_instance_id=ids["discord_bot"],
        ),
        Chat(
            platform="whatsapp",
            platform_chat_id=WA_GROUP,
            community_id=cid,
            bot_instance_id=ids["whatsapp_user"],
        ),
    ]
    if account_group:
        chats.append(
            Chat(
                platform="telegram",
                platform_chat_id=str(ACCOUNT_GROUP_ID),
                type="supergroup",
                community_id=cid,
                bot_instance_id=ids["telegram_user"],
            )
        )
    session.add_all([log_chat, *chats])
    session.flush()
    accounts = {
        "telegram": PlatformAccount(
            platform="telegram",
            platform_user_id=str(TELEGRAM_USER_ID),
            display_name="Ann",
            username="ann",
        ),
        "discord": PlatformAccount(
            platform="discord", platform_user_id=DISCORD_USER_ID, display_name="Ann"
        ),
        "whatsapp": PlatformAccount(
            platform="whatsapp", platform_user_id=WA_ANN, display_name="Ann"
        ),
    }
    session.add_all(accounts.values())
    session.flush()
    session.add(CommunityConfig(community_id=cid, rules={**RULES, "log_chat_id": log_chat.id}))
    session.add_all(
        CommunityMember(community_id=cid, platform_account_id=a.id) for a in accounts.values()
    )  # type: ignore[misc]
    session.commit()
    assert cid is not None
    return World(cid, {k: a.id for k, a in accounts.items()})  # type: ignore[misc]


def _in_about(seconds: int, value: Any) -> bool:
    moment = value if isinstance(value, int) else datetime.fromisoformat(value).timestamp()
    return abs(moment - (time.time() + seconds)) < 30


def _log_lines(telegram: FakeTelegramBotAPI) -> list[str]:
    return [
        c.params["text"]
        for c in telegram.calls_to("sendMessage")
        if c.params["chat_id"] == LOG_CHAT_ID
    ]


async def test_third_warning_mutes_on_telegram_and_times_out_on_discord(
    sqlite_session: Session, platforms: Platforms
) -> None:
    world = make_world(sqlite_session, platforms)
    for n in (1, 2, 3):
        telegram = await moderation.warn(
            ACTOR, world.community_id, world.accounts["telegram"], f"spam {n}"
        )
    assert (telegram.active_warnings, telegram.sanction) == (3, "mute")
    assert telegram.outcome and telegram.outcome.ok
    [restrict] = platforms.telegram.calls_to("restrictChatMember")
    assert (
        restrict.params["chat_id"] == TELEGRAM_CHAT_ID
        and restrict.params["user_id"] == TELEGRAM_USER_ID
    )
    assert restrict.params["permissions"]["can_send_messages"] is False
    assert _in_about(3600, restrict.params["until_date"])

    for n in (1, 2, 3):
        discord = await moderation.warn(
            ACTOR, world.community_id, world.accounts["discord"], f"spam {n}"
        )
    assert discord.sanction == "mute" and discord.outcome and discord.outcome.ok
    [timeout] = platforms.discord.calls_to("PATCH", "/guilds/{guild}/members/{user}")
    assert timeout.params == {"guild": DISCORD_GUILD_ID, "user": DISCORD_USER_ID}
    assert _in_about(3600, timeout.json["communication_disabled_until"])
    assert timeout.reason == "3 active warnings: spam 3"

    lines = _log_lines(platforms.telegram)
    assert len(lines) == 8  # six warnings and two mutes
    assert (
        "🔇 Ann (@ann) muted for 60 min by rules:test (threshold)"
        " — reason: 3 active warnings: spam 3" in lines
    )
    sqlite_session.expire_all()
    muted = sqlite_session.exec(
        select(CommunityMember).where(CommunityMember.community_id == world.community_id)
    ).all()
    assert sum(m.muted_until is not None for m in muted) == 2


async def test_ban_everywhere_reaches_each_platform_once(
    sqlite_session: Session, platforms: Platforms
) -> None:
    world = make_world(sqlite_session, platforms)
    person = UserIdentity(display_name="Ann")
    sqlite_session.add(person)
    sqlite_session.flush()
    for platform in ("telegram", "discord"):
        sqlite_session.get(PlatformAccount, world.accounts[platform]).identity_id = person.id  # type: ignore[union-attr]
    sqlite_session.commit()

    outcome = await moderation.ban_everywhere(ACTOR, world.accounts["discord"], "raid")

    assert outcome.ok and {(r.platform, r.chat_id) for r in outcome.results} == {
        ("telegram", str(TELEGRAM_CHAT_ID)),
        ("discord", DISCORD_GUILD_ID),
    }
    [ban] = platforms.telegram.calls_to("banChatMember")
    assert (ban.params["chat_id"], ban.params["user_id"]) == (TELEGRAM_CHAT_ID, TELEGRAM_USER_ID)
    [guild_ban] = platforms.discord.calls_to("PUT", "/guilds/{guild}/bans/{user}")
    assert guild_ban.params == {"guild": DISCORD_GUILD_ID, "user": DISCORD_USER_ID}
    assert guild_ban.reason == "raid"
    assert platforms.neonize.update_group_participants.call_count == 0  # not linked on WhatsApp
    sqlite_session.expire_all()
    logs = sqlite_session.exec(select(ModerationLog)).all()
    assert sorted(str(log.platform) for log in logs) == ["discord", "telegram"]
    assert all(log.action == "ban" and log.details["everywhere"] for log in logs)


async def test_platform_refusals_show_in_the_outcome_and_the_log(
    sqlite_session: Session, platforms: Platforms
) -> None:
    world = make_world(sqlite_session, platforms)
    refusal = "Bad Request: not enough rights to restrict/ban chat member"
    platforms.telegram.fail_next("banChatMember", 400, description=refusal)
    platforms.discord.fail_next(
        "PUT /guilds/{guild}/bans/{user}", 403, 50013, "Missing Permissions"
    )

    telegram = await moderation.act(
        ACTOR, world.community_id, world.accounts["telegram"], ModerationAction.ban, reason="raid"
    )
    discord = await moderation.act(
        ACTOR, world.community_id, world.accounts["discord"], ModerationAction.ban, reason="raid"
    )

    assert not telegram.ok and refusal in (telegram.results[0].error or "")
    assert not discord.ok and "Missing Permissions" in (discord.results[0].error or "")
    sqlite_session.expire_all()
    for outcome in (telegram, discord):
        entry = sqlite_session.get(ModerationLog, outcome.log_id)
        assert entry and entry.details["results"][0]["error"] == outcome.results[0].error
    banned = sqlite_session.exec(select(CommunityMember).where(CommunityMember.is_banned)).all()
    assert banned == []  # neither platform banned Ann
    assert any(
        "failed: Telegram" in line and refusal in line for line in _log_lines(platforms.telegram)
    )

    await moderation.delete_message(
        ACTOR, world.community_id, _chat_row(sqlite_session, TELEGRAM_CHAT_ID), "7", "link"
    )
    [deleted] = platforms.telegram.calls_to("deleteMessage")
    assert (deleted.params["chat_id"], deleted.params["message_id"]) == (TELEGRAM_CHAT_ID, 7)


def _chat_row(session: Session, platform_chat_id: int) -> int:
    chat = session.exec(select(Chat).where(Chat.platform_chat_id == str(platform_chat_id))).one()
    assert chat.id is not None
    return chat.id


async def test_whatsapp_and_telegram_account_at_the_library_client(
    sqlite_session: Session, platforms: Platforms
) -> None:
    world = make_world(sqlite_session, platforms, account_group=True)

    kicked = await moderation.act(
        ACTOR, world.community_id, world.accounts["whatsapp"], ModerationAction.kick
    )
    assert kicked.ok
    platforms.neonize.update_group_participants.assert_awaited_once_with(
        build_jid("120363025246125486", "g.us"),
        [build_jid("4915112345678")],
        ParticipantChange.REMOVE,
    )
    muted = await moderation.act(
        ACTOR, world.community_id, world.accounts["whatsapp"], ModerationAction.mute
    )
    assert muted.results[0].error == "Mute is not supported on WhatsApp"

    banned = await moderation.act(
        ACTOR, world.community_id, world.accounts["telegram"], ModerationAction.ban
    )
    assert banned.ok and {r.chat_id for r in banned.results} == {
        str(TELEGRAM_CHAT_ID),
        str(ACCOUNT_GROUP_ID),
    }
    platforms.pyrogram.ban_chat_member.assert_called_once_with(
        ACCOUNT_GROUP_ID, TELEGRAM_USER_ID, revoke_messages=False
    )
    platforms.pyrogram.unban_chat_member.assert_not_called()  # a ban stays
    [bot_ban] = platforms.telegram.calls_to("banChatMember")
    assert bot_ban.params["chat_id"] == TELEGRAM_CHAT_ID

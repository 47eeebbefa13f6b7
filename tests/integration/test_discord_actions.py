"""Every Discord action runs hikari's real REST client against the fake Discord: the request
that arrived (method, route template, JSON body, audit-log reason) is what Discord documents
for that operation, and the result is built from Discord's answer."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import hikari
import pytest

from connectors.discord_bot.actions import actions, execute_action
from connectors.kit.catalogue import declared_actions
from engine.action_errors import ActionError, ErrorKind
from engine.chat_discovery import POOL_ACTIONS
from engine.nodes.base import NodePlatform
from tests.fakes import DISCORD_CHANNEL_ID as CHANNEL
from tests.fakes import DISCORD_GUILD_ID as GUILD
from tests.fakes import DISCORD_USER_ID as USER
from tests.fakes import FakeDiscord

ROLE = "1111111111111111111"
VOICE = "1133445566778899001"
MSG = "<message>"  # replaced by a message the fake knows
MSG2 = "<message2>"
INTERACTION = "<interaction>"


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        fake.add_guild()
        yield fake


@pytest.fixture
async def rest(discord: FakeDiscord) -> AsyncIterator[hikari.api.RESTClient]:
    app = hikari.RESTApp(url=discord.rest_url)
    await app.start()
    try:
        async with app.acquire(discord.token, hikari.TokenType.BOT) as client:
            yield client
    finally:
        await app.close()


def _near_now_plus(seconds: float) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        moment = datetime.fromisoformat(value)
        return abs(moment.timestamp() - (time.time() + seconds)) < 30

    return check


def unordered(*items: str) -> Callable[[Any], bool]:
    """A list with exactly these items in any order (hikari builds ``parse`` from a set)."""
    return lambda value: isinstance(value, list) and sorted(value) == sorted(items)


# action, params, (method, route), expected JSON body (None: no body), reason, result keys
Case = tuple[str, dict[str, Any], tuple[str, str], Any, str | None, set[str]]
NO_MENTIONS = {"parse": []}
CASES: list[Case] = [
    (
        "send_message",
        {"channel_id": CHANNEL, "content": "Hi all", "tts": True},
        ("POST", "/channels/{channel}/messages"),
        {"content": "Hi all", "tts": True, "allowed_mentions": NO_MENTIONS},
        None,
        {"message_id", "channel_id"},
    ),
    (
        "send_message",
        {
            "channel_id": CHANNEL,
            "content": "<@&1111111111111111111> <@42> @everyone: meeting now",
            "mentions_users": True,
            "mentions_roles": True,
            "mentions_everyone": True,
        },
        ("POST", "/channels/{channel}/messages"),
        {
            "content": "<@&1111111111111111111> <@42> @everyone: meeting now",
            "tts": False,
            "allowed_mentions": {"parse": unordered("users", "roles", "everyone")},
        },
        None,
        {"message_id"},
    ),
    (
        "edit_message",
        {"channel_id": CHANNEL, "message_id": MSG, "content": "<@42>", "mentions_users": True},
        ("PATCH", "/channels/{channel}/messages/{message}"),
        {"content": "<@42>", "allowed_mentions": {"parse": ["users"]}},
        None,
        {"message_id"},
    ),
    (
        "reply",
        {"channel_id": CHANNEL, "message_id": MSG, "content": "Noted", "mentions_reply": False},
        ("POST", "/channels/{channel}/messages"),
        {
            "content": "Noted",
            "allowed_mentions": NO_MENTIONS,  # replied_user omitted: false
            "message_reference": {"message_id": MSG},
        },
        None,
        {"message_id"},
    ),
    (
        "send_embed",
        {
            "channel_id": CHANNEL,
            "embed": {
                "title": "Rules",
                "description": "Be kind",
                "color": "#5865F2",
                "footer": "Flowbot",
                "image_url": "https://example.org/banner.png",
                "fields": [{"name": "Rank", "value": "Gold", "inline": True}],
            },
        },
        ("POST", "/channels/{channel}/messages"),
        {
            "embeds": [
                {
                    "title": "Rules",
                    "description": "Be kind",
                    "color": 0x5865F2,
                    "footer": {"text": "Flowbot"},
                    "image": {"url": "https://example.org/banner.png"},
                    "fields": [{"name": "Rank", "value": "Gold", "inline": True}],
                }
            ],
            "allowed_mentions": NO_MENTIONS,
        },
        None,
        {"message_id"},
    ),
    (
        "send_buttons",
        {
            "channel_id": CHANNEL,
            "content": "Pick a role",
            "buttons": [
                [
                    {"label": "News", "custom_id": "role:news", "style": "success", "emoji": "📢"},
                    {"label": "Docs", "style": "link", "url": "https://example.org"},
                ]
            ],
        },
        ("POST", "/channels/{channel}/messages"),
        {
            "content": "Pick a role",
            "components": [
                {
                    "type": 1,
                    "components": [
                        {
                            "type": 2,
                            "style": 3,
                            "disabled": False,
                            "label": "News",
                            "custom_id": "role:news",
                            "emoji": {"name": "📢"},
                        },
                        {
                            "type": 2,
                            "style": 5,
                            "disabled": False,
                            "label": "Docs",
                            "url": "https://example.org",
                        },
                    ],
                }
            ],
            "allowed_mentions": NO_MENTIONS,
        },
        None,
        {"message_id"},
    ),
    (
        "edit_message",
        {"channel_id": CHANNEL, "message_id": MSG, "content": "Edited"},
        ("PATCH", "/channels/{channel}/messages/{message}"),
        {"content": "Edited", "allowed_mentions": NO_MENTIONS},
        None,
        {"message_id"},
    ),
    (
        "delete_message",
        {"channel_id": CHANNEL, "message_id": MSG, "reason": "Spam"},
        ("DELETE", "/channels/{channel}/messages/{message}"),
        None,
        "Spam",
        {"deleted"},
    ),
    (
        "bulk_delete",
        {"channel_id": CHANNEL, "message_ids": [MSG, MSG2], "reason": "Cleanup"},
        ("POST", "/channels/{channel}/messages/bulk-delete"),
        {"messages": [MSG, MSG2]},
        "Cleanup",
        {"deleted", "message_ids"},
    ),
    (
        "add_reaction",
        {"channel_id": CHANNEL, "message_id": MSG, "emoji": "👍"},
        ("PUT", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me"),
        None,
        None,
        {"ok"},
    ),
    (
        "remove_reaction",
        {"channel_id": CHANNEL, "message_id": MSG, "emoji": "👍"},
        ("DELETE", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me"),
        None,
        None,
        {"ok"},
    ),
    (
        "remove_reaction",
        {
            "channel_id": CHANNEL,
            "message_id": MSG,
            "emoji": "party:1122334455667788990",
            "user_id": USER,
        },
        ("DELETE", "/channels/{channel}/messages/{message}/reactions/{emoji}/{user}"),
        None,
        None,
        {"ok"},
    ),
    (
        "pin_message",
        {"channel_id": CHANNEL, "message_id": MSG},
        ("PUT", "/channels/{channel}/messages/pins/{message}"),
        None,
        None,
        {"ok"},
    ),
    (
        "unpin_message",
        {"channel_id": CHANNEL, "message_id": MSG},
        ("DELETE", "/channels/{channel}/messages/pins/{message}"),
        None,
        None,
        {"ok"},
    ),
    (
        "create_thread",
        {"channel_id": CHANNEL, "message_id": MSG, "name": "Support", "auto_archive_minutes": 60},
        ("POST", "/channels/{channel}/messages/{message}/threads"),
        {"name": "Support", "auto_archive_duration": 60, "rate_limit_per_user": 0},
        None,
        {"thread_id", "name"},
    ),
    (
        "create_thread",
        {"channel_id": CHANNEL, "message_id": None, "name": "Staff", "private": True},
        ("POST", "/channels/{channel}/threads"),
        {"name": "Staff", "auto_archive_duration": 1440, "type": 12, "rate_limit_per_user": 0},
        None,
        {"thread_id"},
    ),
    (
        "send_dm",
        {"user_id": USER, "content": "Welcome!"},
        ("POST", "/channels/{channel}/messages"),
        {"content": "Welcome!", "allowed_mentions": NO_MENTIONS},
        None,
        {"message_id", "channel_id"},
    ),
    (
        "respond_interaction",
        {
            "interaction_id": INTERACTION,
            "interaction_token": "token-from-trigger",
            "content": "Done",
            "ephemeral": True,
        },
        ("POST", "/interactions/{interaction}/{token}/callback"),
        {"type": 4, "data": {"content": "Done", "flags": 64, "allowed_mentions": NO_MENTIONS}},
        None,
        {"ok", "message_id"},
    ),
    (
        "respond_interaction",
        {
            "interaction_id": INTERACTION,
            "interaction_token": "token-from-trigger",
            "content": "<@&1111111111111111111> help needed",
            "mentions_roles": True,
        },
        ("POST", "/interactions/{interaction}/{token}/callback"),
        {
            "type": 4,
            "data": {
                "content": "<@&1111111111111111111> help needed",
                "allowed_mentions": {"parse": ["roles"]},
            },
        },
        None,
        {"ok", "message_id"},
    ),
    (
        "respond_interaction",
        {
            "interaction_id": INTERACTION,
            "interaction_token": "token-from-trigger",
            "response_type": "deferred_message_update",
        },
        ("POST", "/interactions/{interaction}/{token}/callback"),
        {"type": 6, "data": {"allowed_mentions": NO_MENTIONS}},
        None,
        {"ok"},
    ),
    (
        "kick_member",
        {"guild_id": GUILD, "user_id": USER, "reason": "Rude"},
        ("DELETE", "/guilds/{guild}/members/{user}"),
        None,
        "Rude",
        {"ok"},
    ),
    (
        "ban_member",
        {"guild_id": GUILD, "user_id": USER, "delete_message_seconds": 86400, "reason": "Spam"},
        ("PUT", "/guilds/{guild}/bans/{user}"),
        {"delete_message_seconds": 86400},
        "Spam",
        {"ok"},
    ),
    (
        "unban_member",
        {"guild_id": GUILD, "user_id": USER},
        ("DELETE", "/guilds/{guild}/bans/{user}"),
        None,
        None,
        {"ok"},
    ),
    (
        "timeout_member",
        {"guild_id": GUILD, "user_id": USER, "duration_seconds": 600, "reason": "Cool down"},
        ("PATCH", "/guilds/{guild}/members/{user}"),
        {"communication_disabled_until": _near_now_plus(600)},
        "Cool down",
        {"until"},
    ),
    (
        "remove_timeout",
        {"guild_id": GUILD, "user_id": USER},
        ("PATCH", "/guilds/{guild}/members/{user}"),
        {"communication_disabled_until": None},
        None,
        {"ok"},
    ),
    (
        "add_role",
        {"guild_id": GUILD, "user_id": USER, "role_id": ROLE, "reason": "Verified"},
        ("PUT", "/guilds/{guild}/members/{user}/roles/{role}"),
        None,
        "Verified",
        {"ok"},
    ),
    (
        "remove_role",
        {"guild_id": GUILD, "user_id": USER, "role_id": ROLE},
        ("DELETE", "/guilds/{guild}/members/{user}/roles/{role}"),
        None,
        None,
        {"ok"},
    ),
    (
        "set_nickname",
        {"guild_id": GUILD, "user_id": USER, "nickname": "Ada (mod)"},
        ("PATCH", "/guilds/{guild}/members/{user}"),
        {"nick": "Ada (mod)"},
        None,
        {"nickname"},
    ),
    (
        "move_member",
        {"guild_id": GUILD, "user_id": USER, "voice_channel_id": VOICE},
        ("PATCH", "/guilds/{guild}/members/{user}"),
        {"channel_id": VOICE},
        None,
        {"ok"},
    ),
    (
        "move_member",
        {"guild_id": GUILD, "user_id": USER, "voice_channel_id": None},
        ("PATCH", "/guilds/{guild}/members/{user}"),
        {"channel_id": None},
        None,
        {"ok"},
    ),
    (
        "create_role",
        {
            "guild_id": GUILD,
            "name": "Helper",
            "color": "#2ECC71",
            "hoist": True,
            "permissions": ["SEND_MESSAGES", "add_reactions"],
        },
        ("POST", "/guilds/{guild}/roles"),
        {
            "name": "Helper",
            "permissions": int(hikari.Permissions.SEND_MESSAGES | hikari.Permissions.ADD_REACTIONS),
            "color": 0x2ECC71,
            "hoist": True,
            "mentionable": False,
        },
        None,
        {"role_id", "name"},
    ),
    (
        "delete_role",
        {"guild_id": GUILD, "role_id": ROLE, "reason": "Unused"},
        ("DELETE", "/guilds/{guild}/roles/{role}"),
        None,
        "Unused",
        {"ok"},
    ),
    (
        "create_channel",
        {"guild_id": GUILD, "name": "introductions", "topic": "Say hi", "rate_limit_per_user": 5},
        ("POST", "/guilds/{guild}/channels"),
        {"type": 0, "name": "introductions", "topic": "Say hi", "rate_limit_per_user": 5},
        None,
        {"channel_id", "name"},
    ),
    (
        "create_channel",
        {"guild_id": GUILD, "name": "Lounge", "type": "voice", "topic": "ignored for voice"},
        ("POST", "/guilds/{guild}/channels"),
        {"type": 2, "name": "Lounge"},
        None,
        {"channel_id"},
    ),
    (
        "edit_channel",
        {"channel_id": CHANNEL, "name": "general-chat", "topic": "Anything goes", "nsfw": False},
        ("PATCH", "/channels/{channel}"),
        {"name": "general-chat", "topic": "Anything goes", "nsfw": False},
        None,
        {"channel_id", "name"},
    ),
    (
        "delete_channel",
        {"channel_id": CHANNEL, "reason": "Archived"},
        ("DELETE", "/channels/{channel}"),
        None,
        "Archived",
        {"ok"},
    ),
    (
        "create_invite",
        {"channel_id": CHANNEL, "max_age": 3600, "max_uses": 10},
        ("POST", "/channels/{channel}/invites"),
        {"max_age": 3600, "max_uses": 10, "temporary": False, "unique": True},
        None,
        {"code", "url"},
    ),
    (
        "create_event",
        {
            "guild_id": GUILD,
            "name": "Game night",
            "location": "Town hall",
            "start_time": "2030-06-01T19:00:00+02:00",
            "end_time": "2030-06-01T22:00:00+02:00",
        },
        ("POST", "/guilds/{guild}/scheduled-events"),
        {
            "name": "Game night",
            "privacy_level": 2,
            "scheduled_start_time": "2030-06-01T19:00:00+02:00",
            "scheduled_end_time": "2030-06-01T22:00:00+02:00",
            "entity_type": 3,
            "entity_metadata": {"location": "Town hall"},
        },
        None,
        {"event_id", "name"},
    ),
    (
        "create_event",
        {
            "guild_id": GUILD,
            "name": "Voice meetup",
            "entity_type": "voice",
            "channel_id": VOICE,
            "start_time": "2030-06-01T19:00:00+02:00",
        },
        ("POST", "/guilds/{guild}/scheduled-events"),
        {
            "channel_id": VOICE,
            "name": "Voice meetup",
            "privacy_level": 2,
            "scheduled_start_time": "2030-06-01T19:00:00+02:00",
            "entity_type": 2,
        },
        None,
        {"event_id"},
    ),
    (
        "set_slowmode",
        {"channel_id": CHANNEL, "seconds": 10, "reason": "Heated"},
        ("PATCH", "/channels/{channel}"),
        {"rate_limit_per_user": 10},
        "Heated",
        {"seconds"},
    ),
]


def _substitute(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [_substitute(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, names) for k, v in value.items()}
    return value


def _matches(expected: Any, actual: Any) -> bool:
    if callable(expected):
        return bool(expected(actual))
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(_matches(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def test_every_declared_discord_action_is_implemented_and_tested() -> None:
    assert actions.names() == declared_actions(NodePlatform.discord_bot) | POOL_ACTIONS
    assert {case[0] for case in CASES} == actions.names() - POOL_ACTIONS  # pool ones: below


@pytest.mark.parametrize(
    ("action", "params", "route", "body", "reason", "result_keys"),
    CASES,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(CASES)],
)
async def test_action_sends_the_documented_request(
    discord: FakeDiscord,
    rest: hikari.api.RESTClient,
    action: str,
    params: dict[str, Any],
    route: tuple[str, str],
    body: Any,
    reason: str | None,
    result_keys: set[str],
) -> None:
    names = {
        MSG: discord.user_message("first")["id"],
        MSG2: discord.user_message("second")["id"],
        INTERACTION: discord.command_interaction("ticket")["id"],
    }
    before = len(discord.calls)

    result = await execute_action(rest, action, _substitute(params, names))

    calls = [c for c in discord.calls[before:] if (c.method, c.route) == route]
    assert len(calls) == 1, [c.summary for c in discord.calls[before:]]
    [call] = calls
    assert call.status < 300
    expected = _substitute(body, names)
    assert _matches(expected, call.json), f"{call.json!r} != {expected!r}"
    assert call.reason == reason
    assert result_keys <= result.keys()


async def test_path_parameters_are_the_converted_ids(
    discord: FakeDiscord, rest: hikari.api.RESTClient
) -> None:
    message_id = discord.user_message("hi")["id"]
    await execute_action(
        rest,
        "add_reaction",
        {"channel_id": CHANNEL, "message_id": message_id, "emoji": "party:1122334455667788990"},
    )
    [call] = discord.calls_to("PUT", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me")
    assert call.params == {
        "channel": CHANNEL,
        "message": message_id,
        "emoji": "party:1122334455667788990",
    }


async def test_dm_opens_the_channel_first(
    discord: FakeDiscord, rest: hikari.api.RESTClient
) -> None:
    result = await execute_action(rest, "send_dm", {"user_id": USER, "content": "Hi"})
    [opened] = discord.calls_to("POST", "/users/@me/channels")
    assert opened.json == {"recipient_id": USER}
    [sent] = discord.calls_to("POST", "/channels/{channel}/messages")
    assert sent.params["channel"] == result["channel_id"] != CHANNEL


async def test_a_429_on_create_message_is_retried_and_succeeds(
    discord: FakeDiscord, rest: hikari.api.RESTClient
) -> None:
    discord.rate_limit_next("POST /channels/{channel}/messages", retry_after=0.5)

    result = await execute_action(rest, "send_message", {"channel_id": CHANNEL, "content": "hi"})

    calls = discord.calls_to("POST", "/channels/{channel}/messages")
    assert [c.status for c in calls] == [429, 200]
    assert result["message_id"]


@pytest.mark.parametrize(
    ("status", "code", "kind", "words"),
    [
        (403, 50013, ErrorKind.platform, "missing permission"),
        (404, 10003, ErrorKind.platform, "not found"),
        (400, 50035, ErrorKind.platform, "rejected"),
        (401, 0, ErrorKind.unavailable, "token"),
    ],
)
async def test_discord_errors_become_action_errors(
    discord: FakeDiscord,
    rest: hikari.api.RESTClient,
    status: int,
    code: int,
    kind: ErrorKind,
    words: str,
) -> None:
    discord.fail_next("POST /channels/{channel}/messages", status, code, "Nope")
    with pytest.raises(ActionError) as caught:
        await execute_action(rest, "send_message", {"channel_id": CHANNEL, "content": "hi"})
    assert caught.value.kind is kind
    assert words in caught.value.message


async def test_a_long_rate_limit_is_not_waited_out(discord: FakeDiscord) -> None:
    app = hikari.RESTApp(url=discord.rest_url, max_rate_limit=1)
    await app.start()
    try:
        async with app.acquire(discord.token, hikari.TokenType.BOT) as client:
            discord.rate_limit_next("POST /channels/{channel}/messages", retry_after=30)
            with pytest.raises(ActionError) as caught:
                await execute_action(
                    client, "send_message", {"channel_id": CHANNEL, "content": "hi"}
                )
    finally:
        await app.close()
    assert caught.value.kind is ErrorKind.rate_limited
    assert caught.value.retry_after and caught.value.retry_after > 1


async def test_bad_ids_fail_validation_before_any_request(
    discord: FakeDiscord, rest: hikari.api.RESTClient
) -> None:
    before = len(discord.calls)
    with pytest.raises(ActionError) as caught:
        await execute_action(rest, "send_message", {"channel_id": "general", "content": "hi"})
    assert caught.value.kind is ErrorKind.validation
    assert "channel_id" in caught.value.message
    assert len(discord.calls) == before


async def test_list_members_pages_through_the_guild_with_roles(
    discord: FakeDiscord, rest: hikari.api.RESTClient
) -> None:
    many = tuple(str(1_200_000_000_000_000_000 + n) for n in range(1005))  # two pages
    discord.add_guild(
        "910000000000000001", "Big", channel_ids=("910000000000000010",),
        member_ids=many, admin_ids=(many[7],),
    )  # fmt: skip
    by_guild = await execute_action(rest, "list_members", {"chat_id": "910000000000000001"})
    by_channel = await execute_action(rest, "list_members", {"chat_id": "910000000000000010"})

    pages = discord.calls_to("GET", "/guilds/{guild}/members")
    # 1,000 a page by ascending id: the bot's (smaller) id and the first 999 of ``many``
    assert [call.query.get("after", "0") for call in pages[:2]] == ["0", many[998]]
    members = by_guild["members"]
    assert len(members) == 1006  # and the bot
    roles = {member["user"]["id"]: member["role"] for member in members}
    assert roles[many[0]] == "owner" and roles[many[7]] == "admin" and roles[many[8]] == "member"
    assert roles[discord.me["id"]] == "member"
    assert members[0]["user"]["first_name"] and members[0]["phone"] is None
    assert by_channel == by_guild  # a text channel stands for its guild


async def test_list_members_of_an_unknown_guild_is_a_platform_error(
    rest: hikari.api.RESTClient,
) -> None:
    with pytest.raises(ActionError) as unknown:
        await execute_action(rest, "list_members", {"chat_id": "999"})
    assert unknown.value.kind is ErrorKind.platform


async def test_list_chats_answers_guilds_and_their_text_and_voice_channels(
    discord: FakeDiscord, rest: hikari.api.RESTClient
) -> None:
    discord.add_guild(
        "910000000000000001", "Ops", channel_ids=("910000000000000010", "910000000000000011"),
        admin_ids=(discord.me["id"],),
    )  # fmt: skip
    discord.add_channel("910000000000000012", 2, guild_id="910000000000000001", name="voice")

    answer = await execute_action(rest, "list_chats", {})

    chats = {chat["id"]: chat for chat in answer["chats"]}
    assert set(chats) == {
        GUILD,
        CHANNEL,
        "910000000000000001",
        "910000000000000010",
        "910000000000000011",
        "910000000000000012",
    }  # the voice channel too: the voice pickers offer it, the chat pickers leave it out
    assert chats["910000000000000012"]["type"] == "guild_voice"
    assert chats[GUILD] == {
        "id": GUILD, "type": "guild", "title": "Flowbot Test Guild", "username": None,
        "member_count": 2, "bot_is_admin": False, "guild_id": None,
    }  # fmt: skip
    assert chats["910000000000000010"]["type"] == "text"
    assert chats["910000000000000010"]["guild_id"] == "910000000000000001"
    assert chats["910000000000000010"]["title"] == "general-910000000000000010"
    assert chats["910000000000000001"]["bot_is_admin"] is True
    assert chats["910000000000000011"]["bot_is_admin"] is True


async def test_a_refused_bulk_delete_says_how_many_stayed_and_why(
    discord: FakeDiscord, rest: hikari.api.RESTClient
) -> None:
    old = [discord.user_message("old")["id"], discord.user_message("older")["id"]]
    discord.fail_next(
        "POST /channels/{channel}/messages/bulk-delete",
        400,
        50034,
        "You can only bulk delete messages that are under 14 days old.",
    )

    with pytest.raises(ActionError) as caught:
        await execute_action(rest, "bulk_delete", {"channel_id": CHANNEL, "message_ids": old})

    # platform: Discord answered, so the instance's circuit breaker records a success
    assert caught.value.kind is ErrorKind.platform
    assert caught.value.message.startswith("2 of 2 messages could not be deleted")
    assert "under 14 days old" in caught.value.message
    assert caught.value.details == {"deleted": 0, "not_deleted": old}
    assert [
        c.status for c in discord.calls_to("POST", "/channels/{channel}/messages/bulk-delete")
    ] == [400]

"""Every tgu_* action calls the pyrogram ``Client`` method it names, with converted arguments.

The client is ``create_autospec(pyrogram.Client)``: a call with an argument pyrogram's method
does not take fails, so the recorded call is one the real method accepts. Return values are
pyrogram's own types. (MTProto cannot be faked cheaply: what pyrogram then sends over the
wire is pyrogram's business and is not exercised here.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from unittest.mock import MagicMock, call, create_autospec

import pyrogram
import pytest
from pyrogram import enums, errors, types
from pyrogram.file_id import FileId, FileType

from connectors.kit.catalogue import declared_actions
from connectors.telegram_user.actions import actions, execute_action
from connectors.telegram_user.client import TelegramLogin
from engine.action_errors import ActionError, ErrorKind
from engine.chat_discovery import POOL_ACTIONS
from engine.nodes.base import NodePlatform

DOCUMENT_ID = FileId(
    file_type=FileType.DOCUMENT, dc_id=2, media_id=1, access_hash=2, file_reference=b""
).encode()
GROUP = types.Chat(id=-1001234567890, type=enums.ChatType.SUPERGROUP, title="Flowbot Community")
ADA = types.User(id=123456789, first_name="Ada", username="ada_l")


def _message(message_id: int = 4541, text: str = "ok") -> types.Message:
    return types.Message(
        id=message_id, chat=GROUP, from_user=ADA, text=text, date=datetime(2025, 3, 14, 9, 0)
    )


def _async_return(value: Any) -> Any:
    async def result(*_: Any, **__: Any) -> Any:
        return value

    return result


def recording_client(method: str, returns: Any) -> MagicMock:
    """An autospec'd Client whose ``method`` returns ``returns`` (awaited, or iterated)."""
    client = create_autospec(pyrogram.Client, instance=True)
    mock = getattr(client, method)
    if isinstance(returns, AsyncItems):
        mock.return_value.__aiter__.return_value = returns.items
    else:
        mock.side_effect = _async_return(returns)
    return client


class AsyncItems:
    """What an async-generator method (get_chat_history, ...) yields."""

    def __init__(self, *items: Any) -> None:
        self.items = list(items)


NO_PREVIEW = types.LinkPreviewOptions(is_disabled=True)
PREVIEW = types.LinkPreviewOptions(is_disabled=False)


def _reply(message_id: int) -> types.ReplyParameters:
    return types.ReplyParameters(message_id=message_id)


# action, params, Client method, expected call, what it returns, expected result subset
CASES: list[tuple[str, dict[str, Any], str, Any, Any, dict[str, Any]]] = [
    (
        "send_message",
        {
            "chat_id": "-1001234567890",
            "text": "Hi",
            "parse_mode": "html",
            "disable_notification": True,
        },
        "send_message",
        call(
            -1001234567890,
            "Hi",
            parse_mode=enums.ParseMode.HTML,
            link_preview_options=PREVIEW,
            disable_notification=True,
            reply_parameters=None,
        ),
        _message(),
        {"message_id": "4541", "chat_id": "-1001234567890"},
    ),
    (
        "reply",
        {
            "chat_id": "@flowbot_news",
            "text": "Thanks",
            "reply_to_message_id": "4540",
            "disable_web_page_preview": True,
        },
        "send_message",
        call(
            "@flowbot_news",
            "Thanks",
            parse_mode=enums.ParseMode.DEFAULT,
            link_preview_options=NO_PREVIEW,
            disable_notification=False,
            reply_parameters=_reply(4540),
        ),
        _message(),
        {"message_id": "4541"},
    ),
    (
        "send_media",
        {
            "chat_id": "me",
            "media_type": "photo",
            "media": "https://example.org/cat.jpg",
            "caption": "Cat",
        },
        "send_photo",
        call(
            "me",
            photo="https://example.org/cat.jpg",
            reply_parameters=None,
            caption="Cat",
            parse_mode=enums.ParseMode.DEFAULT,
        ),
        _message(),
        {"message_id": "4541"},
    ),
    (
        "send_media",
        {
            "chat_id": "-1001234567890",
            "media_type": "document",
            "media": DOCUMENT_ID,
            "file_name": "rules.pdf",
            "reply_to_message_id": "7",
        },
        "send_document",
        call(
            -1001234567890,
            document=DOCUMENT_ID,
            reply_parameters=_reply(7),
            caption="",
            parse_mode=enums.ParseMode.DEFAULT,
            file_name="rules.pdf",
        ),
        _message(),
        {"message_id": "4541"},
    ),
    (
        "forward_messages",
        {
            "chat_id": "me",
            "from_chat_id": "-1001234567890",
            "message_ids": ["101", "102"],
            "hide_sender_name": True,
        },
        "forward_messages",
        call("me", -1001234567890, [101, 102], disable_notification=False, hide_sender_name=True),
        [_message(1), _message(2)],
        {"message_ids": ["1", "2"]},
    ),
    (
        "edit_message",
        {"chat_id": "-1001234567890", "message_id": "4541", "text": "Updated"},
        "edit_message_text",
        call(
            -1001234567890,
            4541,
            "Updated",
            parse_mode=enums.ParseMode.DEFAULT,
            link_preview_options=PREVIEW,
        ),
        _message(),
        {"message_id": "4541"},
    ),
    (
        "delete_messages",
        {"chat_id": "-1001234567890", "message_ids": ["5", "6"], "revoke": False},
        "delete_messages",
        call(-1001234567890, [5, 6], revoke=False),
        2,
        {"deleted": 2},
    ),
    (
        "read_history",
        {"chat_id": "123456789", "max_id": "88213"},
        "read_chat_history",
        call(123456789, max_id=88213),
        True,
        {"ok": True},
    ),
    (
        "send_reaction",
        {"chat_id": "-1001234567890", "message_id": "4540", "emoji": "🔥", "big": True},
        "send_reaction",
        call(-1001234567890, message_id=4540, emoji="🔥", big=True),
        True,
        {"ok": True},
    ),
    (
        "pin_message",
        {"chat_id": "-1001234567890", "message_id": "4540", "disable_notification": True},
        "pin_chat_message",
        call(-1001234567890, 4540, disable_notification=True, both_sides=False),
        _message(),
        {"ok": True},
    ),
    (
        "join_chat",
        {"chat_id": "https://t.me/+AbCdEfGhIjK"},
        "join_chat",
        call("https://t.me/+AbCdEfGhIjK"),
        GROUP,
        {"chat_id": "-1001234567890"},
    ),
    (
        "leave_chat",
        {"chat_id": "-1001234567890", "delete": True},
        "leave_chat",
        call(-1001234567890, delete=True),
        None,
        {"ok": True},
    ),
    (
        "create_group",
        {"title": "Support", "users": ["123456789", "@charles_b"]},
        "create_group",
        call("Support", [123456789, "@charles_b"]),
        types.Chat(id=-4000000001, type=enums.ChatType.GROUP, title="Support"),
        {"chat_id": "-4000000001", "title": "Support"},
    ),
    (
        "add_members",
        {"chat_id": "-1001234567890", "user_ids": ["123456789"], "forward_limit": 0},
        "add_chat_members",
        call(-1001234567890, [123456789], forward_limit=0),
        [],
        {"failed": []},
    ),
    (
        "get_members",
        {"chat_id": "-1001234567890", "filter": "administrators", "limit": 10},
        "get_chat_members",
        call(-1001234567890, query="", limit=10, filter=enums.ChatMembersFilter.ADMINISTRATORS),
        AsyncItems(
            types.ChatMember(status=enums.ChatMemberStatus.ADMINISTRATOR, user=ADA),
        ),
        {
            "count": 1,
            "members": [
                {
                    "user_id": "123456789",
                    "username": "ada_l",
                    "first_name": "Ada",
                    "status": "administrator",
                }
            ],
        },
    ),
    (
        "get_history",
        {"chat_id": "-1001234567890", "limit": 2, "offset_id": "4600"},
        "get_chat_history",
        call(-1001234567890, limit=2, max_id=4599),
        AsyncItems(_message(4599, "newest"), _message(4598, "older")),
        {"count": 2},
    ),
    (
        "search_messages",
        {
            "chat_id": "-1001234567890",
            "query": "invoice",
            "filter": "document",
            "from_user": "@ada_l",
            "limit": 5,
        },
        "search_messages",
        call(
            -1001234567890,
            query="invoice",
            filter=enums.MessagesFilter.DOCUMENT,
            limit=5,
            from_user="@ada_l",
        ),
        AsyncItems(_message(10, "invoice.pdf")),
        {"count": 1},
    ),
    (
        "get_dialogs",
        {"limit": 20, "from_archive": True},
        "get_dialogs",
        call(limit=20, exclude_pinned=False, from_archive=True),
        AsyncItems(
            types.Dialog(
                chat=GROUP,
                top_message=_message(),
                unread_messages_count=3,
                unread_mentions_count=0,
                unread_mark=False,
                is_pinned=True,
                last_read_inbox_message_id=0,
                last_read_outbox_message_id=0,
                unread_reactions_count=0,
                unread_poll_vote_count=0,
            )
        ),
        {
            "count": 1,
            "dialogs": [
                {
                    "chat_id": "-1001234567890",
                    "type": "supergroup",
                    "title": "Flowbot Community",
                    "username": None,
                    "unread_count": 3,
                    "pinned": True,
                }
            ],
        },
    ),
    (
        "update_profile",
        {"bio": "Community manager"},
        "update_profile",
        call(first_name=None, last_name=None, bio="Community manager"),
        True,
        {"ok": True},
    ),
]


def test_every_declared_account_action_is_implemented_and_tested() -> None:
    # kick: two calls, tested below; the pool's list_* in test_telegram_user_discovery.py
    implemented = actions.names() - POOL_ACTIONS | {"kick_member"}
    assert actions.names() == declared_actions(NodePlatform.telegram_user) | POOL_ACTIONS
    assert {case[0] for case in CASES} | {"kick_member"} == implemented


@pytest.mark.parametrize(
    ("action", "params", "method", "expected", "returns", "result"),
    CASES,
    ids=[f"{case[0]}-{case[2]}" for case in CASES],
)
async def test_action_calls_the_pyrogram_method(
    action: str,
    params: dict[str, Any],
    method: str,
    expected: Any,
    returns: Any,
    result: dict[str, Any],
) -> None:
    client = recording_client(method, returns)

    output = await execute_action(client, action, params)

    called = [c for c in client.mock_calls if "(" not in c[0]]  # not the iteration of a result
    assert called == [getattr(call, method)(*expected.args, **expected.kwargs)]
    assert output.items() >= result.items()


async def test_get_history_returns_message_summaries() -> None:
    client = recording_client("get_chat_history", AsyncItems(_message(4599, "newest")))
    output = await execute_action(client, "get_history", {"chat_id": "-1001234567890"})
    assert output["messages"] == [
        {
            "message_id": "4599",
            "chat_id": "-1001234567890",
            "date": "2025-03-14T09:00:00",
            "text": "newest",
            "from_user_id": "123456789",
            "from_username": "ada_l",
            "outgoing": False,
        }
    ]


@pytest.mark.parametrize(("ban", "unbanned"), [(False, True), (True, False)])
async def test_kick_is_a_ban_lifted_at_once_unless_banning(ban: bool, unbanned: bool) -> None:
    client = create_autospec(pyrogram.Client, instance=True)
    client.ban_chat_member.side_effect = _async_return(True)
    client.unban_chat_member.side_effect = _async_return(True)

    await execute_action(
        client,
        "kick_member",
        {"chat_id": "-1001234567890", "user_id": "123456789", "ban": ban, "revoke_messages": True},
    )

    client.ban_chat_member.assert_called_once_with(-1001234567890, 123456789, revoke_messages=True)
    assert client.unban_chat_member.called is unbanned
    if unbanned:
        client.unban_chat_member.assert_called_once_with(-1001234567890, 123456789)


@pytest.mark.parametrize(
    "media",
    [
        "/etc/passwd",
        "../data/flowbot.db",
        "file:///etc/passwd",
        "flowbot_database_file",  # shaped like a file id, but pyrogram would upload the file
        "BQACAgIAAxkBAAIBZ2X_file_id",  # pyrogram cannot decode it: a bare ValueError before
    ],
)
async def test_media_is_never_a_local_file(media: str) -> None:
    client = create_autospec(pyrogram.Client, instance=True)
    with pytest.raises(ActionError) as caught:
        await execute_action(client, "send_media", {"chat_id": "me", "media": media})
    assert caught.value.kind is ErrorKind.validation
    assert not client.mock_calls


async def test_flood_wait_becomes_rate_limited() -> None:
    client = create_autospec(pyrogram.Client, instance=True)

    async def flood(*_: Any, **__: Any) -> None:
        raise errors.FloodWait(value=42)

    client.send_message.side_effect = flood
    with pytest.raises(ActionError) as caught:
        await execute_action(client, "send_message", {"chat_id": "me", "text": "hi"})
    assert caught.value.kind is ErrorKind.rate_limited
    assert caught.value.retry_after == 42


async def test_refusal_becomes_platform_error() -> None:
    client = create_autospec(pyrogram.Client, instance=True)

    async def refuse(*_: Any, **__: Any) -> None:
        raise errors.ChatWriteForbidden()

    client.send_message.side_effect = refuse
    with pytest.raises(ActionError) as caught:
        await execute_action(client, "send_message", {"chat_id": "-100123", "text": "hi"})
    assert caught.value.kind is ErrorKind.platform
    assert "CHAT_WRITE_FORBIDDEN" in caught.value.message


# -- login ------------------------------------------------------------------------------------


def _login_client() -> tuple[TelegramLogin, MagicMock]:
    client = create_autospec(pyrogram.Client, instance=True)
    client.is_connected = True
    client.connect.side_effect = _async_return(False)
    client.disconnect.side_effect = _async_return(None)
    client.send_code.side_effect = _async_return(
        types.SentCode(type=enums.SentCodeType.APP, phone_code_hash="hash-1")
    )
    client.export_session_string.side_effect = _async_return("SESSION-STRING")
    factory = MagicMock(return_value=client)
    login = TelegramLogin(12345, "api-hash", "+49 151 1234567", client_factory=factory)
    assert factory.call_args.kwargs == {
        "api_id": 12345,
        "api_hash": "api-hash",
        "in_memory": True,
        "no_updates": True,
    }
    return login, client


async def test_login_without_two_factor() -> None:
    login, client = _login_client()
    client.sign_in.side_effect = _async_return(ADA)

    assert await login.send_code() == {"step": "code_sent", "delivery": "app"}
    client.send_code.assert_called_once_with("+49 151 1234567")
    done = await login.submit_code(" 12345 ")

    client.sign_in.assert_called_once_with("+49 151 1234567", "hash-1", "12345")
    assert done["step"] == "done" and done["session_string"] == "SESSION-STRING"
    assert done["user"] == {"id": "123456789", "username": "ada_l", "first_name": "Ada"}
    client.disconnect.assert_called()


async def test_login_with_two_factor_password() -> None:
    login, client = _login_client()

    async def needs_password(*_: Any) -> None:
        raise errors.SessionPasswordNeeded()

    client.sign_in.side_effect = needs_password
    client.get_password_hint.side_effect = _async_return("pet's name")
    client.check_password.side_effect = _async_return(ADA)

    await login.send_code()
    assert await login.submit_code("12345") == {"step": "password_required", "hint": "pet's name"}
    done = await login.submit_password("rex")

    client.check_password.assert_called_once_with("rex")
    assert done["session_string"] == "SESSION-STRING"


async def test_login_wrong_code_and_steps_out_of_order() -> None:
    login, client = _login_client()

    async def wrong(*_: Any) -> None:
        raise errors.PhoneCodeInvalid()

    client.sign_in.side_effect = wrong
    with pytest.raises(ActionError, match="not 'code_sent'"):
        await login.submit_code("1")
    await login.send_code()
    with pytest.raises(ActionError, match="wrong code"):
        await login.submit_code("00000")
    assert login.step == "code_sent"  # may try again

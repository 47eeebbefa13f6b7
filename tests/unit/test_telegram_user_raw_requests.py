"""What pyrogram puts on the wire for every tgu_* action: the raw MTProto function and its key
fields, caught at ``Client.invoke``.

test_telegram_user_actions.py checks the pyrogram method each action calls; this checks what
that method then sends, which is where kurigram's quirks live (``get_chat_history`` overwrites
``offset_id`` with its own, so paging must use ``max_id``). ``invoke`` raises with the first
request, so nothing is parsed and no connection is needed; peers resolve to fixed raw peers.
"""

from __future__ import annotations

from typing import Any

import pyrogram
import pytest
from pyrogram import raw
from pyrogram.file_id import FileId, FileType

from connectors.telegram_user.actions import actions, execute_action
from engine.chat_discovery import POOL_ACTIONS

CHANNEL = raw.types.InputPeerChannel(channel_id=1234567890, access_hash=7)
ADA = raw.types.InputPeerUser(user_id=123456789, access_hash=9)
CHARLES = raw.types.InputPeerUser(user_id=555, access_hash=9)
SELF = raw.types.InputPeerSelf()
PEERS: dict[int | str, Any] = {
    -1001234567890: CHANNEL,
    123456789: ADA,
    "@charles_b": CHARLES,
    "me": SELF,
}


class Sent(Exception):
    """Raised by the fake ``invoke`` to hand the first raw request to the test."""

    def __init__(self, request: raw.core.TLObject) -> None:
        super().__init__(type(request).__name__)
        self.request = request


def offline_client() -> pyrogram.Client:
    client = pyrogram.Client("raw-requests", api_id=1, api_hash="x", in_memory=True)

    async def invoke(query: raw.core.TLObject, *_: Any, **__: Any) -> None:
        raise Sent(query)

    async def resolve_peer(peer_id: int | str | None) -> Any:
        return None if peer_id is None else PEERS[peer_id]  # None: as pyrogram's own

    client.invoke = invoke  # type: ignore[method-assign]
    client.resolve_peer = resolve_peer  # type: ignore[method-assign]
    return client


async def first_request(action: str, params: dict[str, Any]) -> raw.core.TLObject:
    with pytest.raises(Sent) as sent:
        await execute_action(offline_client(), action, params)
    return sent.value.request


M, C, A = raw.functions.messages, raw.functions.channels, raw.functions.account
GROUP = "-1001234567890"
DOCUMENT_ID = FileId(
    file_type=FileType.DOCUMENT, dc_id=2, media_id=1, access_hash=2, file_reference=b""
).encode()

# action, params, raw function, fields it must carry
CASES: list[tuple[str, dict[str, Any], type, dict[str, Any]]] = [
    (
        "send_message",
        {"chat_id": GROUP, "text": "Hi", "disable_notification": True},
        M.SendMessage,
        {"peer": CHANNEL, "message": "Hi", "silent": True, "reply_to": None},
    ),
    (
        "reply",
        {"chat_id": "123456789", "text": "Thanks", "reply_to_message_id": "4540"},
        M.SendMessage,
        {"peer": ADA, "reply_to": raw.types.InputReplyToMessage(reply_to_msg_id=4540)},
    ),
    (
        "send_media",
        {"chat_id": "me", "media_type": "photo", "media": "https://e.org/c.jpg", "caption": "C"},
        M.SendMedia,
        {"peer": SELF, "media": raw.types.InputMediaPhotoExternal(url="https://e.org/c.jpg")},
    ),
    (
        "send_media",
        {"chat_id": GROUP, "media_type": "document", "media": DOCUMENT_ID},
        M.SendMedia,
        {
            "peer": CHANNEL,
            "media": raw.types.InputMediaDocument(
                id=raw.types.InputDocument(id=1, access_hash=2, file_reference=b"")
            ),
        },
    ),
    (
        "forward_messages",
        {"chat_id": "me", "from_chat_id": GROUP, "message_ids": ["101", "102"]},
        M.ForwardMessages,
        {"from_peer": CHANNEL, "to_peer": SELF, "id": [101, 102]},
    ),
    (
        "edit_message",
        {"chat_id": GROUP, "message_id": "4541", "text": "Updated"},
        M.EditMessage,
        {"peer": CHANNEL, "id": 4541, "message": "Updated"},
    ),
    (
        "delete_messages",
        {"chat_id": GROUP, "message_ids": ["5", "6"]},
        C.DeleteMessages,
        {"channel": CHANNEL, "id": [5, 6]},
    ),
    (
        "read_history",
        {"chat_id": "123456789", "max_id": "88213"},
        M.ReadHistory,
        {"peer": ADA, "max_id": 88213},
    ),
    (
        "send_reaction",
        {"chat_id": GROUP, "message_id": "4540", "emoji": "🔥"},
        M.SendReaction,
        {"peer": CHANNEL, "msg_id": 4540, "reaction": [raw.types.ReactionEmoji(emoticon="🔥")]},
    ),
    (
        "pin_message",
        {"chat_id": GROUP, "message_id": "4540", "both_sides": True},
        M.UpdatePinnedMessage,
        {"peer": CHANNEL, "id": 4540, "pm_oneside": None},
    ),
    (
        "join_chat",
        {"chat_id": "https://t.me/+AbCdEfGhIjK"},
        M.ImportChatInvite,
        {"hash": "AbCdEfGhIjK"},
    ),
    ("leave_chat", {"chat_id": GROUP}, C.LeaveChannel, {"channel": CHANNEL}),
    (
        "create_group",
        {"title": "Support", "users": ["123456789", "@charles_b"]},
        M.CreateChat,
        {"title": "Support", "users": [ADA, CHARLES]},
    ),
    (
        "add_members",
        {"chat_id": GROUP, "user_ids": ["123456789"]},
        C.InviteToChannel,
        {"channel": CHANNEL, "users": [ADA]},
    ),
    (
        "kick_member",
        {"chat_id": GROUP, "user_id": "123456789"},
        C.EditBanned,
        {"channel": CHANNEL, "participant": ADA},
    ),
    (
        "get_members",
        {"chat_id": GROUP, "filter": "administrators", "limit": 10},
        C.GetParticipants,
        {"channel": CHANNEL, "filter": raw.types.ChannelParticipantsAdmins(), "limit": 10},
    ),
    (
        "get_history",
        {"chat_id": GROUP, "limit": 2, "offset_id": "4600"},
        M.GetHistory,
        {"peer": CHANNEL, "limit": 2, "offset_id": 4600, "max_id": 4600, "add_offset": 0},
    ),
    (
        "search_messages",
        {"chat_id": GROUP, "query": "invoice", "filter": "document", "from_user": "@charles_b"},
        M.Search,
        {
            "peer": CHANNEL,
            "q": "invoice",
            "filter": raw.types.InputMessagesFilterDocument(),
            "from_id": CHARLES,
        },
    ),
    (
        "get_dialogs",
        {"limit": 20, "from_archive": True},
        M.GetDialogs,
        {"limit": 20, "folder_id": 1},
    ),
    (
        "update_profile",
        {"bio": "Community manager"},
        A.UpdateProfile,
        {"about": "Community manager"},
    ),
]


def test_every_account_action_has_a_raw_request_case() -> None:
    assert {case[0] for case in CASES} == actions.names() - POOL_ACTIONS


@pytest.mark.parametrize(
    ("action", "params", "function", "fields"), CASES, ids=[case[0] for case in CASES]
)
async def test_action_sends_the_raw_function(
    action: str, params: dict[str, Any], function: type, fields: dict[str, Any]
) -> None:
    request = await first_request(action, params)

    assert type(request) is function
    assert {name: getattr(request, name) for name in fields} == fields


async def test_get_history_newest_first_without_offset() -> None:
    request = await first_request("get_history", {"chat_id": GROUP, "limit": 5})
    assert (request.offset_id, request.max_id, request.limit) == (0, 0, 5)


async def test_get_history_before_the_first_message_asks_nothing() -> None:
    output = await execute_action(
        offline_client(), "get_history", {"chat_id": GROUP, "offset_id": "1"}
    )
    assert output == {"messages": [], "count": 0}


@pytest.mark.parametrize(("ban", "requests"), [(False, 2), (True, 1)])
async def test_kick_bans_then_lifts_the_ban_unless_banning(ban: bool, requests: int) -> None:
    client = offline_client()
    sent: list[Any] = []

    async def invoke(query: raw.core.TLObject, *_: Any, **__: Any) -> raw.types.Updates:
        sent.append(query)
        return raw.types.Updates(updates=[], users=[], chats=[], date=0, seq=0)

    client.invoke = invoke  # type: ignore[method-assign]
    params = {"chat_id": GROUP, "user_id": "123456789", "ban": ban}
    await execute_action(client, "kick_member", params)

    assert [type(request) for request in sent] == [C.EditBanned] * requests
    assert sent[0].banned_rights.view_messages
    if not ban:
        assert sent[1].participant == ADA and not sent[1].banned_rights.view_messages

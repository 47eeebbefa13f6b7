"""list_chats and list_members of a Telegram account, down to the MTProto request.

A real pyrogram ``Client`` builds and parses everything; only ``invoke`` (the wire) and
``resolve_peer`` (the session's peer cache) are replaced: the test asserts the raw TL request
pyrogram sends and answers with raw TL objects Telegram sends back, serialised and read
back as pyrogram reads them off the wire (absent optional vectors become empty lists).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from io import BytesIO
from typing import Any

import pyrogram
import pytest
from pyrogram import raw
from pyrogram.raw.core import TLObject

from connectors.telegram_user.actions import execute_action
from engine.action_errors import ActionError, ErrorKind

ME = 5_000_000_001
ADA, BOB, EVE = 123_456_789, 223_456_789, 323_456_789
SUPERGROUP = 1_234_567_890  # -1001234567890 as a chat id
SMALL_GROUP = 4_242_424
NEWS = 1_987_654_321


def _dialog(peer: Any) -> raw.types.Dialog:
    return raw.types.Dialog(
        peer=peer, top_message=0, read_inbox_max_id=0, read_outbox_max_id=0, unread_count=0,
        unread_mentions_count=0, unread_reactions_count=0, unread_poll_votes_count=0,
        notify_settings=raw.types.PeerNotifySettings(),
    )  # fmt: skip


def _user(user_id: int, first_name: str, **fields: Any) -> raw.types.User:
    return raw.types.User(id=user_id, first_name=first_name, access_hash=user_id * 7, **fields)


DIALOGS = raw.types.messages.Dialogs(
    dialogs=[
        _dialog(raw.types.PeerChannel(channel_id=SUPERGROUP)),
        _dialog(raw.types.PeerChat(chat_id=SMALL_GROUP)),
        _dialog(raw.types.PeerChannel(channel_id=NEWS)),
        _dialog(raw.types.PeerUser(user_id=ADA)),  # a person: not a chat for communities
    ],
    messages=[],
    chats=[
        raw.types.Channel(
            id=SUPERGROUP, title="Flowbot Community", photo=raw.types.ChatPhotoEmpty(), date=0,
            megagroup=True, username="flowbot_community", participants_count=1200,
            access_hash=11, admin_rights=raw.types.ChatAdminRights(ban_users=True),
        ),
        raw.types.Chat(
            id=SMALL_GROUP, title="Board", photo=raw.types.ChatPhotoEmpty(), date=0,
            participants_count=5, version=1, creator=True,
        ),
        raw.types.Channel(
            id=NEWS, title="Flowbot News", photo=raw.types.ChatPhotoEmpty(), date=0,
            broadcast=True, access_hash=12,
        ),
    ],
    users=[_user(ADA, "Ada")],
)  # fmt: skip
NO_MORE_DIALOGS = raw.types.messages.Dialogs(dialogs=[], messages=[], chats=[], users=[])
CHANNEL_PEER = raw.types.InputPeerChannel(channel_id=SUPERGROUP, access_hash=11)
PARTICIPANTS = raw.types.channels.ChannelParticipants(
    count=4,
    participants=[
        raw.types.ChannelParticipantCreator(user_id=ADA, admin_rights=raw.types.ChatAdminRights()),
        raw.types.ChannelParticipantAdmin(
            user_id=BOB, promoted_by=ADA, date=0, admin_rights=raw.types.ChatAdminRights()
        ),
        raw.types.ChannelParticipant(user_id=EVE, date=0),
        raw.types.ChannelParticipantLeft(peer=raw.types.PeerUser(user_id=ME)),
    ],
    chats=[],
    users=[
        _user(ADA, "Ada", username="ada_l", phone="4915112345678"),
        _user(BOB, "Bob", last_name="Builder"),
        _user(EVE, "Eve", bot=True, bot_info_version=1),  # flag 14 carries both
        _user(ME, "Me"),
    ],
)
NO_MORE_PARTICIPANTS = raw.types.channels.ChannelParticipants(
    count=4, participants=[], chats=[], users=[]
)


class Wire:
    """Telegram as far as the test goes: recorded requests, scripted answers in order."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[Any] = []
        self.resolved: list[Any] = []

    async def invoke(self, query: Any, *_: Any, **__: Any) -> Any:
        self.requests.append(query)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return TLObject.read(BytesIO(answer.write()))

    async def resolve_peer(self, peer_id: int | str) -> Any:
        self.resolved.append(peer_id)
        return CHANNEL_PEER


@pytest.fixture
async def client() -> AsyncIterator[pyrogram.Client]:
    account = pyrogram.Client("discovery", api_id=1, api_hash="0" * 32, in_memory=True)
    yield account


def _on_wire(client: pyrogram.Client, monkeypatch: pytest.MonkeyPatch, *answers: Any) -> Wire:
    wire = Wire(*answers)
    monkeypatch.setattr(client, "invoke", wire.invoke)
    monkeypatch.setattr(client, "resolve_peer", wire.resolve_peer)
    return wire


async def test_list_chats_answers_groups_supergroups_and_channels(
    client: pyrogram.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire = _on_wire(client, monkeypatch, DIALOGS, NO_MORE_DIALOGS)

    answer = await execute_action(client, "list_chats", {})

    first = wire.requests[0]
    assert isinstance(first, raw.functions.messages.GetDialogs)
    assert isinstance(first.offset_peer, raw.types.InputPeerEmpty) and first.limit == 100
    assert first.folder_id is None  # the main list, not the archive
    chats = {chat["id"]: chat for chat in answer["chats"]}
    assert list(chats) == ["-1001234567890", "-4242424", "-1001987654321"]  # Ada: a person
    assert chats["-1001234567890"] == {
        "id": "-1001234567890", "type": "supergroup", "title": "Flowbot Community",
        "username": "flowbot_community", "member_count": 1200, "bot_is_admin": True,
        "guild_id": None,
    }  # fmt: skip
    assert chats["-4242424"]["type"] == "group" and chats["-4242424"]["bot_is_admin"] is True
    assert chats["-4242424"]["member_count"] == 5
    assert chats["-1001987654321"]["type"] == "channel"
    assert chats["-1001987654321"]["bot_is_admin"] is False


async def test_list_members_pages_get_participants_and_maps_roles(
    client: pyrogram.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire = _on_wire(client, monkeypatch, PARTICIPANTS, NO_MORE_PARTICIPANTS)

    answer = await execute_action(client, "list_members", {"chat_id": "-1001234567890"})

    assert -1001234567890 in wire.resolved
    first, second = wire.requests
    assert isinstance(first, raw.functions.channels.GetParticipants)
    assert first.channel == CHANNEL_PEER
    assert isinstance(first.filter, raw.types.ChannelParticipantsSearch) and first.filter.q == ""
    assert (first.offset, first.limit, second.offset) == (0, 200, 4)
    members = {m["user"]["id"]: m for m in answer["members"]}
    assert set(members) == {str(ADA), str(BOB), str(EVE)}  # who left is no member
    assert members[str(ADA)]["role"] == "owner" and members[str(ADA)]["phone"] == "+4915112345678"
    assert members[str(ADA)]["user"]["username"] == "ada_l"
    assert members[str(BOB)]["role"] == "admin" and members[str(BOB)]["phone"] is None
    assert members[str(BOB)]["user"]["last_name"] == "Builder"
    assert members[str(EVE)]["role"] == "member" and members[str(EVE)]["user"]["is_bot"] is True


async def test_list_members_refused_is_a_platform_error(
    client: pyrogram.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on_wire(client, monkeypatch, pyrogram.errors.ChatAdminRequired())
    with pytest.raises(ActionError) as refused:
        await execute_action(client, "list_members", {"chat_id": "-1001234567890"})
    assert refused.value.kind is ErrorKind.platform
    assert "CHAT_ADMIN_REQUIRED" in refused.value.message

"""WhatsApp group discovery and the list_* pool actions, at neonize's own client object.

The client is a real ``NewAClient``; only its Go core (whatsmeow behind neonize's FFI) is
replaced, by :class:`GoCore`, which answers ``GetJoinedGroups``/``GetGroupInfo`` with the
serialised protobufs the Go side returns and records the JID protobuf neonize sent.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.message import Message
from neonize.aioze.client import NewAClient
from neonize.aioze.events import ConnectedEv
from neonize.proto.Neonize_pb2 import (
    JID,
    Device,
    GetGroupInfoReturnFunction,
    GetJoinedGroupsReturnFunction,
    GroupInfo,
    GroupInfoEvent,
    GroupName,
    GroupParticipant,
)
from neonize.utils.jid import build_jid

from connectors.kit.connector import InstanceConfig
from connectors.kit.errors import ActionError, ErrorKind
from connectors.whatsapp_user.actions import execute_action
from connectors.whatsapp_user.client import WhatsAppConnector
from connectors.whatsapp_user.discovery import group_changed, joined_groups
from engine.platform_event import PlatformEvent

ME = build_jid("4915100000001")
ME_LID = build_jid("81234567890123", "lid")
ADA = build_jid("4915112345678")
BOB_LID = build_jid("99887766554433", "lid")
BOB_PHONE = build_jid("4917600000002")
EVE_LID = build_jid("11223344556677", "lid")
BOOK_CLUB = build_jid("120363025246125486", "g.us")
BOOK_CLUB_ID = "120363025246125486@g.us"
BIN_DAY = build_jid("120363099999999999", "g.us")


def _group(jid: JID, subject: str, *participants: GroupParticipant) -> GroupInfo:
    return GroupInfo(JID=jid, GroupName=GroupName(Name=subject), Participants=participants)


GROUPS = [
    _group(
        BOOK_CLUB,
        "Book club",
        GroupParticipant(JID=ADA, IsAdmin=True, IsSuperAdmin=True, DisplayName="Ada"),
        GroupParticipant(JID=BOB_LID, LID=BOB_LID, PhoneNumber=BOB_PHONE, IsAdmin=True),
        GroupParticipant(JID=EVE_LID, LID=EVE_LID),
        GroupParticipant(JID=ME_LID, LID=ME_LID, IsAdmin=True),  # listed by its LID
    ),
    _group(BIN_DAY, "Bin day", GroupParticipant(JID=ADA), GroupParticipant(JID=ME)),
]


def as_go_sends(message: Message) -> Message:
    """``message`` with every proto2 required field set, as whatsmeow's answers always have
    them (zero values where a test does not care), so it serialises like the real thing."""
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is None:
            if field.is_required and not message.HasField(field.name):
                setattr(message, field.name, value)
        elif field.is_repeated:
            for item in value:
                as_go_sends(item)
        elif field.is_required or message.HasField(field.name):
            value.SetInParent()
            as_go_sends(value)
    return message


def _copy(group: GroupInfo) -> GroupInfo:
    copied = GroupInfo()
    copied.CopyFrom(group)
    return copied


class GoCore:
    """neonize's Go library as far as these calls go: protobuf bytes in and out."""

    def __init__(self, groups: list[GroupInfo]) -> None:
        self.groups = {group.JID.User: as_go_sends(_copy(group)) for group in groups}
        self.calls: list[tuple[str, Any]] = []

    async def GetJoinedGroups(self, uuid: bytes) -> bytes:  # noqa: N802 (the FFI's name)
        self.calls.append(("GetJoinedGroups", uuid))
        return GetJoinedGroupsReturnFunction(Group=self.groups.values()).SerializeToString()

    async def GetGroupInfo(self, uuid: bytes, jid: bytes, size: int) -> bytes:  # noqa: N802
        asked = JID.FromString(jid[:size])
        self.calls.append(("GetGroupInfo", asked))
        if asked.User not in self.groups:
            return GetGroupInfoReturnFunction(
                Error="info query returned status 404"
            ).SerializeToString()
        return GetGroupInfoReturnFunction(GroupInfo=self.groups[asked.User]).SerializeToString()


@pytest.fixture
def core() -> GoCore:
    return GoCore(GROUPS)


@pytest.fixture
def connector(core: GoCore) -> tuple[WhatsAppConnector, list[PlatformEvent]]:
    emitted: list[PlatformEvent] = []

    async def emit(event: PlatformEvent) -> None:
        emitted.append(event)

    async def report(*_: Any) -> None:
        return None

    config = InstanceConfig(instance_id=4, kind="whatsapp_user", credential=None)
    wa = WhatsAppConnector(config, emit, report)
    wa.context.client._NewAClient__client = core  # type: ignore[attr-defined]
    wa.context.client.me = Device(JID=ME, LID=ME_LID, PushName="Flowbot")
    return wa, emitted


def _by_chat(events: list[PlatformEvent]) -> dict[str, PlatformEvent]:
    assert all(e.kind == "chat_seen" and e.platform == "whatsapp" for e in events)
    return {e.chat.id: e for e in events if e.chat is not None}


async def test_connecting_discovers_every_joined_group(
    connector: tuple[WhatsAppConnector, list[PlatformEvent]], core: GoCore
) -> None:
    wa, emitted = connector
    await wa.on_connected(wa.context.client, ConnectedEv())

    assert core.calls == [("GetJoinedGroups", b"flowbot-wa-4")]
    seen = _by_chat(emitted)
    assert set(seen) == {BOOK_CLUB_ID, "120363099999999999@g.us"}
    book = seen[BOOK_CLUB_ID]
    assert book.chat is not None and (book.chat.type, book.chat.title) == ("group", "Book club")
    assert book.data["member_count"] == 4 and book.data["bot_is_admin"] is True
    assert book.data["gone"] is False and book.instance_id == 4
    assert book.event_id.startswith(f"whatsapp_user:chat_seen:{BOOK_CLUB_ID}:")
    assert seen["120363099999999999@g.us"].data["bot_is_admin"] is False


async def test_list_members_maps_roles_and_phones(
    connector: tuple[WhatsAppConnector, list[PlatformEvent]], core: GoCore
) -> None:
    wa, _ = connector
    answer = await wa.execute("list_members", {"chat_id": BOOK_CLUB_ID})

    assert core.calls == [("GetGroupInfo", BOOK_CLUB)]
    members = {m["user"]["id"]: m for m in answer["members"]}
    assert members["4915112345678@s.whatsapp.net"] == {
        "user": {
            "id": "4915112345678@s.whatsapp.net", "username": None, "first_name": None,
            "last_name": None, "display_name": "Ada", "is_bot": False, "language": None,
        },
        "role": "owner",
        "phone": "+4915112345678",
    }  # fmt: skip
    bob, eve = members["99887766554433@lid"], members["11223344556677@lid"]
    assert (bob["role"], bob["phone"]) == ("admin", "+4917600000002")
    assert (eve["role"], eve["phone"]) == ("member", None)  # a LID hides the number


async def test_list_chats_and_an_unknown_group(
    connector: tuple[WhatsAppConnector, list[PlatformEvent]],
) -> None:
    wa, _ = connector
    answer = await wa.execute("list_chats", {})
    assert answer["chats"][0] == {
        "id": BOOK_CLUB_ID, "type": "group", "title": "Book club", "username": None,
        "member_count": 4, "bot_is_admin": True, "guild_id": None,
    }  # fmt: skip
    with pytest.raises(ActionError) as unknown:
        await execute_action(wa.context, "list_members", {"chat_id": "1203630000@g.us"})
    assert unknown.value.kind is ErrorKind.platform and "404" in unknown.value.message
    with pytest.raises(ActionError) as bad:
        await execute_action(wa.context, "list_members", {"chat_id": "not a jid"})
    assert bad.value.kind is ErrorKind.validation


async def test_group_changes_rediscover_the_group(
    connector: tuple[WhatsAppConnector, list[PlatformEvent]], core: GoCore
) -> None:
    wa, emitted = connector
    core.groups[BOOK_CLUB.User].GroupName.Name = "Book club (Tuesdays)"
    renamed = GroupInfoEvent(JID=BOOK_CLUB, Name=GroupName(Name="Book club (Tuesdays)"))
    await wa.on_group_info(wa.context.client, renamed)

    (seen,) = emitted
    assert core.calls == [("GetGroupInfo", BOOK_CLUB)]
    assert seen.chat is not None and seen.chat.title == "Book club (Tuesdays)"
    assert seen.data["member_count"] == 4 and seen.data["gone"] is False


async def test_removed_from_a_group_is_gone_without_asking(
    connector: tuple[WhatsAppConnector, list[PlatformEvent]], core: GoCore
) -> None:
    wa, _ = connector
    removed = GroupInfoEvent(JID=BIN_DAY, Sender=ADA, Leave=[ME])
    seen = await group_changed(wa.context.client, removed, 4)
    assert seen.data["gone"] is True and core.calls == []


async def test_group_info_failure_still_reports_what_the_event_said(
    connector: tuple[WhatsAppConnector, list[PlatformEvent]], core: GoCore
) -> None:
    wa, _ = connector
    unknown = build_jid("120363000000000000", "g.us")
    seen = await group_changed(
        wa.context.client, GroupInfoEvent(JID=unknown, Name=GroupName(Name="Renamed")), 4
    )
    assert seen.chat is not None and seen.chat.title == "Renamed"
    assert seen.data["member_count"] is None and seen.data["gone"] is False


async def test_before_login_whether_the_account_is_admin_is_unknown(core: GoCore) -> None:
    client = NewAClient("unused", uuid="flowbot-wa-9")  # no ``me`` yet
    client._NewAClient__client = core  # type: ignore[attr-defined]
    events = await joined_groups(client, 9)
    assert {e.data["bot_is_admin"] for e in events} == {None}

"""WhatsApp group discovery and the list_* pool actions, at neonize's own client object.

The client is a real ``NewAClient``; only its Go core (whatsmeow behind neonize's FFI) is
replaced (tests/fakes/whatsapp_core.py): ``GetJoinedGroups``/``GetGroupInfo`` answer with the
serialised protobufs the Go side returns, and events arrive through neonize's own dispatch.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from neonize.aioze import events as neonize_events
from neonize.aioze.client import NewAClient
from neonize.proto.Neonize_pb2 import (
    JID,
    Connected,
    Device,
    GroupInfo,
    GroupInfoEvent,
    GroupName,
    GroupParticipant,
    JoinedGroup,
)
from neonize.utils.jid import build_jid

from connectors.kit.connector import InstanceConfig
from connectors.whatsapp_user.actions import execute_action
from connectors.whatsapp_user.client import WhatsAppConnector
from connectors.whatsapp_user.discovery import group_changed, joined_groups
from engine.action_errors import ActionError, ErrorKind
from engine.platform_event import PlatformEvent
from tests.fakes.whatsapp_core import GoCore, deliver

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


@pytest.fixture
def core() -> GoCore:
    return GoCore(GROUPS)


class Running:
    """The connector with neonize's dispatch pointed at the test's loop, and what it emitted."""

    def __init__(self, wa: WhatsAppConnector) -> None:
        self.wa = wa
        self.emitted: asyncio.Queue[PlatformEvent] = asyncio.Queue()

    @property
    def client(self) -> NewAClient:
        return self.wa.context.client

    async def deliver(self, event: Any, count: int) -> list[PlatformEvent]:
        """``event`` from the Go side; the ``count`` events the connector then emitted."""
        await asyncio.to_thread(deliver, self.client, event)
        return [await asyncio.wait_for(self.emitted.get(), 5) for _ in range(count)]


@pytest.fixture
async def running(core: GoCore, monkeypatch: pytest.MonkeyPatch) -> Running:
    async def report(*_: Any) -> None:
        return None

    config = InstanceConfig(instance_id=4, kind="whatsapp_user", credential=None)
    holder: list[Running] = []

    async def emit(event: PlatformEvent) -> None:
        await holder[0].emitted.put(event)

    holder.append(Running(WhatsAppConnector(config, emit, report)))
    core.install(holder[0].client)
    holder[0].client.me = Device(JID=ME, LID=ME_LID, PushName="Flowbot")
    # what WhatsAppConnector.run does before connecting: neonize dispatches onto this loop
    monkeypatch.setattr(neonize_events, "event_global_loop", asyncio.get_running_loop())
    return holder[0]


def _by_chat(events: list[PlatformEvent]) -> dict[str, PlatformEvent]:
    assert all(e.kind == "chat_seen" and e.platform == "whatsapp" for e in events)
    return {e.chat.id: e for e in events if e.chat is not None}


async def test_connecting_discovers_every_joined_group(running: Running, core: GoCore) -> None:
    seen = _by_chat(await running.deliver(Connected(), 2))

    assert core.calls == [("GetJoinedGroups", b"flowbot-wa-4")]
    assert set(seen) == {BOOK_CLUB_ID, "120363099999999999@g.us"}
    book = seen[BOOK_CLUB_ID]
    assert book.chat is not None and (book.chat.type, book.chat.title) == ("group", "Book club")
    assert book.data["member_count"] == 4 and book.data["bot_is_admin"] is True
    assert book.data["gone"] is False and book.instance_id == 4
    assert book.event_id.startswith(f"whatsapp_user:chat_seen:{BOOK_CLUB_ID}:")
    assert seen["120363099999999999@g.us"].data["bot_is_admin"] is False


async def test_added_to_a_group_discovers_it_from_the_event(running: Running, core: GoCore) -> None:
    added = JoinedGroup(GroupInfo=GROUPS[1], Sender=ADA, Type="invite")
    (seen,) = await running.deliver(added, 1)
    assert seen.chat is not None and seen.chat.title == "Bin day"
    assert seen.data["member_count"] == 2 and seen.data["bot_is_admin"] is False
    assert core.calls == []  # the event carries the group's info


async def test_list_members_maps_roles_and_phones(running: Running, core: GoCore) -> None:
    answer = await running.wa.execute("list_members", {"chat_id": BOOK_CLUB_ID})

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


async def test_list_chats_and_an_unknown_group(running: Running) -> None:
    wa = running.wa
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


async def test_group_changes_rediscover_the_group(running: Running, core: GoCore) -> None:
    core.groups[BOOK_CLUB.User].GroupName.Name = "Book club (Tuesdays)"
    renamed = GroupInfoEvent(JID=BOOK_CLUB, Name=GroupName(Name="Book club (Tuesdays)"))
    (seen,) = await running.deliver(renamed, 1)

    assert core.calls == [("GetGroupInfo", BOOK_CLUB)]
    assert seen.chat is not None and seen.chat.title == "Book club (Tuesdays)"
    assert seen.data["member_count"] == 4 and seen.data["gone"] is False


async def test_removed_from_a_group_is_gone_without_asking(running: Running, core: GoCore) -> None:
    removed = GroupInfoEvent(JID=BIN_DAY, Sender=ADA, Leave=[ME])
    left, seen = await running.deliver(removed, 2)
    assert left.kind == "wa_group_left"  # the trigger's event, as before
    assert seen.kind == "chat_seen" and seen.data["gone"] is True and core.calls == []


async def test_group_info_failure_still_reports_what_the_event_said(running: Running) -> None:
    unknown = build_jid("120363000000000000", "g.us")
    seen = await group_changed(
        running.client, GroupInfoEvent(JID=unknown, Name=GroupName(Name="Renamed")), 4
    )
    assert seen.chat is not None and seen.chat.title == "Renamed"
    assert seen.data["member_count"] is None and seen.data["gone"] is False


async def test_before_login_whether_the_account_is_admin_is_unknown(core: GoCore) -> None:
    client = NewAClient("unused", uuid="flowbot-wa-9")  # no ``me`` yet
    core.install(client)
    events = await joined_groups(client, 9)
    assert {e.data["bot_is_admin"] for e in events} == {None}

"""Every wa_* action calls the neonize client method it names, with arguments built from
neonize's own types (JID, Message protos, enums).

The client is ``create_autospec(NewAClient)``: a call the real async method would not accept
fails. What neonize then hands to whatsmeow (Go) is not exercised: that needs WhatsApp.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, call, create_autospec

import pytest
from neonize.aioze.client import NewAClient
from neonize.exc import SendMessageError
from neonize.proto.Neonize_pb2 import (
    GroupInfo,
    GroupName,
    GroupParticipant,
    MessageInfo,
    MessageSource,
    SendResponse,
)
from neonize.proto.Neonize_pb2 import Message as MessageEv
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    ContextInfo,
    LocationMessage,
    Message,
    PollCreationMessage,
    ReactionMessage,
)
from neonize.utils.enum import (
    ChatPresence,
    ChatPresenceMedia,
    ParticipantChange,
    ReceiptType,
    VoteType,
)
from neonize.utils.jid import build_jid

from connectors.kit.catalogue import declared_actions
from connectors.whatsapp_user import (
    discovery,  # noqa: F401 (registers the pool actions)
    senders,
)
from connectors.whatsapp_user.actions import (
    MessageCache,
    WhatsAppContext,
    actions,
    execute_action,
)
from connectors.whatsapp_user.senders import SenderRecords
from engine.action_errors import ActionError, ErrorKind
from engine.chat_discovery import POOL_ACTIONS
from engine.nodes.base import NodePlatform

ADA_ID = "4915112345678@s.whatsapp.net"
GROUP_ID = "120363025246125486@g.us"
ADA = build_jid("4915112345678")
GROUP = build_jid("120363025246125486", "g.us")
SENT = SendResponse(ID="3EB0AAAAAAAAAAAAAAAA", Timestamp=1741944413)
POLL = Message(pollCreationMessage=PollCreationMessage(name="When?"))
REACTION = Message(reactionMessage=ReactionMessage(text="👍"))

ORIGINAL = MessageEv(
    Info=MessageInfo(
        ID="3EB0C431C26A1916E07A",
        MessageSource=MessageSource(Chat=GROUP, Sender=ADA, IsGroup=True),
        Pushname="Ada",
    ),
    Message=Message(conversation="Bin day tomorrow!"),
)


@pytest.fixture(autouse=True)
def media_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-in ffmpeg/ffprobe on PATH: the video and audio actions check for them first."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("ffmpeg", "ffprobe"):
        (folder / tool).write_text("#!/bin/sh\nexit 0\n")
        (folder / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    return folder


def _context() -> tuple[WhatsAppContext, Any]:
    client = create_autospec(NewAClient, instance=True)
    for method in (
        "send_message",
        "reply_message",
        "send_image",
        "send_video",
        "send_audio",
        "send_document",
        "send_contact",
        "edit_message",
        "revoke_message",
    ):
        getattr(client, method).return_value = SENT
    client.build_poll_vote_creation.return_value = POLL
    client.build_reaction.return_value = REACTION
    client.create_group.return_value = GroupInfo(JID=GROUP, GroupName=GroupName(Name="Book club"))
    client.update_group_participants.return_value = [GroupParticipant(JID=ADA)]
    client.get_group_invite_link.return_value = "https://chat.whatsapp.com/AbCdEf"
    cache = MessageCache()
    cache.add(ORIGINAL)
    return WhatsAppContext(client, cache), client


URL = "https://example.org/menu.jpg"

# action, params, expected calls (in order), result subset
CASES: list[tuple[str, dict[str, Any], list[Any], dict[str, Any]]] = [
    (
        "send_text",
        {"chat_id": ADA_ID, "text": "Hi!", "link_preview": True},
        [call.send_message(ADA, "Hi!", link_preview=True)],
        {"message_id": SENT.ID},
    ),
    (
        "send_text",
        {"chat_id": "+49 151 12345678", "text": "Hi!"},
        [call.send_message(build_jid("4915112345678"), "Hi!", link_preview=False)],
        {"message_id": SENT.ID},
    ),
    (
        "send_text",
        {"chat_id": GROUP_ID, "text": "Noted", "reply_to_message_id": ORIGINAL.Info.ID},
        [call.reply_message("Noted", ORIGINAL, to=GROUP, link_preview=False)],
        {"message_id": SENT.ID},
    ),
    (
        "reply",
        {
            "chat_id": GROUP_ID,
            "sender_id": ADA_ID,
            "message_id": ORIGINAL.Info.ID,
            "text": "Thanks!",
            "reply_privately": True,
        },
        [call.reply_message("Thanks!", ORIGINAL, link_preview=False, reply_privately=True)],
        {"message_id": SENT.ID},
    ),
    (
        "send_image",
        {"chat_id": GROUP_ID, "file": URL, "caption": "Menu", "viewonce": True},
        [call.send_image(GROUP, URL, caption="Menu", quoted=None, viewonce=True)],
        {"message_id": SENT.ID},
    ),
    (
        "send_video",
        {
            "chat_id": GROUP_ID,
            "file": "https://example.org/tour.mp4",
            "gifplayback": True,
            "reply_to_message_id": ORIGINAL.Info.ID,
        },
        [
            call.send_video(
                GROUP,
                "https://example.org/tour.mp4",
                caption=None,
                quoted=ORIGINAL,
                viewonce=False,
                gifplayback=True,
            )
        ],
        {"message_id": SENT.ID},
    ),
    (
        "send_audio",
        {"chat_id": ADA_ID, "file": "https://example.org/note.ogg", "ptt": True},
        [call.send_audio(ADA, "https://example.org/note.ogg", ptt=True, quoted=None)],
        {"message_id": SENT.ID},
    ),
    (
        "send_document",
        {
            "chat_id": ADA_ID,
            "file": "https://example.org/prices.pdf",
            "filename": "prices.pdf",
            "title": "Prices",
            "mimetype": "application/pdf",
            "caption": "2025",
        },
        [
            call.send_document(
                ADA,
                "https://example.org/prices.pdf",
                caption="2025",
                title="Prices",
                filename="prices.pdf",
                mimetype="application/pdf",
                quoted=None,
            )
        ],
        {"message_id": SENT.ID},
    ),
    (
        "send_location",
        {
            "chat_id": ADA_ID,
            "latitude": 52.52,
            "longitude": 13.405,
            "name": "Our shop",
            "address": "Hauptstraße 1",
        },
        [
            call.send_message(
                ADA,
                Message(
                    locationMessage=LocationMessage(
                        degreesLatitude=52.52,
                        degreesLongitude=13.405,
                        name="Our shop",
                        address="Hauptstraße 1",
                    )
                ),
            )
        ],
        {"message_id": SENT.ID},
    ),
    (
        "send_contact",
        {"chat_id": ADA_ID, "contact_name": "Support desk", "contact_number": "+49 30 1234567"},
        [call.send_contact(ADA, "Support desk", "49301234567", quoted=None)],
        {"message_id": SENT.ID},
    ),
    (
        "send_poll",
        {"chat_id": GROUP_ID, "name": "When?", "options": ["Tue", "Thu"]},
        [
            call.build_poll_vote_creation("When?", ["Tue", "Thu"], VoteType.SINGLE, quoted=None),
            call.send_message(GROUP, POLL),
        ],
        {"message_id": SENT.ID},
    ),
    (
        "send_reaction",
        {"chat_id": GROUP_ID, "sender_id": ADA_ID, "message_id": ORIGINAL.Info.ID, "reaction": "❤️"},
        [
            call.build_reaction(GROUP, ADA, ORIGINAL.Info.ID, "❤️"),
            call.send_message(GROUP, REACTION),
        ],
        {"message_id": SENT.ID},
    ),
    (
        "edit_message",
        {"chat_id": ADA_ID, "message_id": "3EB0AAAA", "text": "Updated: 7pm"},
        [call.edit_message(ADA, "3EB0AAAA", Message(conversation="Updated: 7pm"))],
        {"message_id": SENT.ID},
    ),
    (
        "revoke_message",
        {"chat_id": GROUP_ID, "sender_id": ADA_ID, "message_id": ORIGINAL.Info.ID},
        [call.revoke_message(GROUP, ADA, ORIGINAL.Info.ID)],
        {"message_id": SENT.ID},
    ),
    (
        "mark_read",
        {
            "chat_id": GROUP_ID,
            "sender_id": ADA_ID,
            "message_ids": ["A1", "A2"],
            "receipt": "played",
        },
        [call.mark_read("A1", "A2", chat=GROUP, sender=ADA, receipt=ReceiptType.PLAYED)],
        {"ok": True},
    ),
    (
        "send_presence",
        {"chat_id": ADA_ID, "state": "composing", "media": "audio"},
        [
            call.send_chat_presence(
                ADA,
                ChatPresence.CHAT_PRESENCE_COMPOSING,
                ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO,
            )
        ],
        {"ok": True},
    ),
    (
        "create_group",
        {"name": "Book club", "participants": [ADA_ID]},
        [call.create_group("Book club", participants=[ADA])],
        {"group_id": GROUP_ID, "name": "Book club"},
    ),
    (
        "add_participants",
        {"group_id": GROUP_ID, "participants": [ADA_ID]},
        [call.update_group_participants(GROUP, [ADA], ParticipantChange.ADD)],
        {"participants": [{"id": ADA_ID, "error": None}]},
    ),
    (
        "remove_participants",
        {"group_id": GROUP_ID, "participants": [ADA_ID]},
        [call.update_group_participants(GROUP, [ADA], ParticipantChange.REMOVE)],
        {},
    ),
    (
        "promote_participants",
        {"group_id": GROUP_ID, "participants": ["+49 151 12345678"]},
        [call.update_group_participants(GROUP, [ADA], ParticipantChange.PROMOTE)],
        {},
    ),
    (
        "demote_participants",
        {"group_id": GROUP_ID, "participants": [ADA_ID]},
        [call.update_group_participants(GROUP, [ADA], ParticipantChange.DEMOTE)],
        {},
    ),
    (
        "set_group_subject",
        {"group_id": GROUP_ID, "subject": "Book club 2025"},
        [call.set_group_name(GROUP, "Book club 2025")],
        {"ok": True},
    ),
    (
        "set_group_description",
        {"group_id": GROUP_ID, "description": "First Friday"},
        [call.set_group_topic(GROUP, "", "", "First Friday")],
        {"ok": True},
    ),
    (
        "get_invite_link",
        {"group_id": GROUP_ID, "revoke": True},
        [call.get_group_invite_link(GROUP, revoke=True)],
        {"invite_link": "https://chat.whatsapp.com/AbCdEf"},
    ),
    (
        "leave_group",
        {"group_id": GROUP_ID},
        [call.leave_group(GROUP)],
        {"ok": True},
    ),
]


def test_every_declared_whatsapp_action_is_implemented_and_tested() -> None:
    assert actions.names() == declared_actions(NodePlatform.whatsapp_user) | POOL_ACTIONS
    assert {case[0] for case in CASES} == actions.names() - POOL_ACTIONS  # pool ones: see
    # test_whatsapp_discovery.py


@pytest.mark.parametrize(
    ("action", "params", "expected", "result"),
    CASES,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(CASES)],
)
async def test_action_calls_the_neonize_method(
    action: str, params: dict[str, Any], expected: list[Any], result: dict[str, Any]
) -> None:
    context, client = _context()

    output = await execute_action(context, action, params)

    assert client.mock_calls == expected
    assert output.items() >= result.items()


async def test_quoting_a_message_older_than_the_cache_uses_a_stub_with_its_ids() -> None:
    context, client = _context()
    await execute_action(
        context,
        "reply",
        {"chat_id": GROUP_ID, "sender_id": ADA_ID, "message_id": "OLD1", "text": "Hi"},
    )
    quoted = client.reply_message.call_args.args[1]
    assert isinstance(quoted, MessageEv)
    assert quoted.Info.ID == "OLD1"
    assert quoted.Info.MessageSource.Chat == GROUP
    assert quoted.Info.MessageSource.Sender == ADA


async def test_location_reply_carries_the_quote() -> None:
    context, client = _context()
    await execute_action(
        context,
        "send_location",
        {
            "chat_id": GROUP_ID,
            "latitude": 1,
            "longitude": 2,
            "reply_to_message_id": ORIGINAL.Info.ID,
        },
    )
    sent: Message = client.send_message.call_args.args[1]
    assert sent.locationMessage.contextInfo == ContextInfo(
        stanzaID=ORIGINAL.Info.ID, participant=ADA_ID, quotedMessage=ORIGINAL.Message
    )


@pytest.mark.parametrize("file", ["/etc/passwd", "data/flowbot.db", "file:///etc/passwd"])
async def test_media_is_never_a_local_file(file: str) -> None:
    context, client = _context()
    with pytest.raises(ActionError) as caught:
        await execute_action(context, "send_image", {"chat_id": ADA_ID, "file": file})
    assert caught.value.kind is ErrorKind.validation
    assert client.mock_calls == []


async def test_bad_jid_fails_validation() -> None:
    context, client = _context()
    with pytest.raises(ActionError, match="chat_id"):
        await execute_action(context, "send_text", {"chat_id": "Ada", "text": "Hi"})
    assert client.mock_calls == []


async def test_neonize_errors_become_platform_errors() -> None:
    context, client = _context()
    client.send_message = AsyncMock(side_effect=SendMessageError("server returned error 403"))
    with pytest.raises(ActionError) as caught:
        await execute_action(context, "send_text", {"chat_id": ADA_ID, "text": "Hi"})
    assert caught.value.kind is ErrorKind.platform
    assert "403" in caught.value.message


async def test_contact_card_waid_is_digits_only() -> None:
    """neonize's own send_contact builds the vCard: its waid must be the bare number."""
    context, client = _context()
    client.send_contact.side_effect = partial(NewAClient.send_contact, client)
    await execute_action(
        context,
        "send_contact",
        {"chat_id": ADA_ID, "contact_name": "Support desk", "contact_number": "+49 30 1234567"},
    )
    sent: Message = client.send_message.call_args.args[1]
    assert "waid=49301234567:+49 30 1234567\n" in sent.contactMessage.vcard


async def test_contact_number_that_is_no_phone_number_fails_validation() -> None:
    context, client = _context()
    with pytest.raises(ActionError, match="contact_number"):
        await execute_action(
            context,
            "send_contact",
            {"chat_id": ADA_ID, "contact_name": "Support desk", "contact_number": "call us"},
        )
    assert client.mock_calls == []


@pytest.mark.parametrize(
    ("action", "missing"), [("send_video", "ffprobe"), ("send_audio", "ffmpeg")]
)
async def test_video_and_audio_say_when_ffmpeg_is_missing(
    media_tools: Path, action: str, missing: str
) -> None:
    (media_tools / missing).unlink()
    context, client = _context()
    with pytest.raises(ActionError) as caught:
        await execute_action(context, action, {"chat_id": ADA_ID, "file": URL})
    assert caught.value.kind is ErrorKind.platform  # not an outage: the breaker stays shut
    assert f"{missing} is not installed" in caught.value.message
    assert "apt-get install ffmpeg" in caught.value.message
    assert client.mock_calls == []


async def test_quoting_a_message_the_cache_dropped_names_its_stored_sender(
    tmp_path: Path,
) -> None:
    """A group message that left the cache is quoted as Ada's, not as the group's, also
    after a restart (a new cache on the same sender file)."""
    path = tmp_path / "senders.sqlite3"
    MessageCache(size=1, senders=SenderRecords(path)).add(ORIGINAL)
    _, client = _context()
    context = WhatsAppContext(client, MessageCache(size=1, senders=SenderRecords(path)))
    context.messages.add(MessageEv(Info=MessageInfo(ID="NEWER")))  # no sender: not recorded

    await execute_action(
        context,
        "send_text",
        {"chat_id": GROUP_ID, "text": "Yes!", "reply_to_message_id": ORIGINAL.Info.ID},
    )

    quoted = client.reply_message.call_args.args[1]
    assert quoted.Info.ID == ORIGINAL.Info.ID
    assert quoted.Info.MessageSource.Chat == GROUP
    assert quoted.Info.MessageSource.Sender == ADA
    assert context.messages.sender_of(GROUP, "NEWER") is None


async def test_a_quote_of_a_message_never_seen_falls_back_to_the_chat(tmp_path: Path) -> None:
    _, client = _context()
    context = WhatsAppContext(client, MessageCache(senders=SenderRecords(tmp_path / "s.db")))
    await execute_action(
        context, "send_text", {"chat_id": ADA_ID, "text": "Hi", "reply_to_message_id": "OLD9"}
    )
    assert client.reply_message.call_args.args[1].Info.MessageSource.Sender == ADA


def test_sender_records_keep_the_latest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(senders, "PRUNE_EVERY", 2)
    records = SenderRecords(tmp_path / "s.db", keep=2)
    for n in range(4):
        records.record(GROUP_ID, f"M{n}", ADA_ID)
    assert [records.sender_of(GROUP_ID, f"M{n}") for n in range(4)] == [None, None, ADA_ID, ADA_ID]


def test_message_cache_is_bounded() -> None:
    cache = MessageCache(size=2)
    for n in range(3):
        cache.add(MessageEv(Info=MessageInfo(ID=f"M{n}")))
    assert cache.get("M0") is None and cache.get("M2") is not None

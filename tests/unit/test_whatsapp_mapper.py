"""neonize event protobufs (Neonize_pb2 Message, Receipt, GroupInfoEvent) → wa_* events."""

from __future__ import annotations

from datetime import UTC, datetime

from neonize.proto.Neonize_pb2 import (
    GroupInfoEvent,
    GroupName,
    MessageInfo,
    MessageSource,
    Receipt,
)
from neonize.proto.Neonize_pb2 import Message as MessageEv
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContextInfo,
    ExtendedTextMessage,
    ImageMessage,
    Message,
    ProtocolMessage,
    ReactionMessage,
)
from neonize.utils.jid import build_jid

from connectors.whatsapp_user.mapper import map_group_info, map_message, map_receipt
from engine.nodes.registry import REGISTRY
from engine.platform_event import PlatformEvent

ADA = build_jid("4915112345678")
ADMIN = build_jid("4917612345678")
GROUP = build_jid("120363025246125486", "g.us")
WHEN = 1741944413  # 2025-03-14T09:26:53Z


def _message(body: Message, *, group: bool = False, from_me: bool = False) -> MessageEv:
    chat = GROUP if group else ADA
    return MessageEv(
        Info=MessageInfo(
            ID="3EB0C431C26A1916E07A",
            MessageSource=MessageSource(Chat=chat, Sender=ADA, IsGroup=group, IsFromMe=from_me),
            Pushname="Ada",
            Timestamp=WHEN,
            Type="text",
        ),
        Message=body,
    )


def _like_example(event: PlatformEvent) -> None:
    example = REGISTRY.get(event.kind).example_payload or {}
    assert (event.platform, event.connector) == (example["platform"], example["connector"])
    assert event.event_id.startswith(f"whatsapp_user:{event.kind}:")
    assert event.data.keys() == example["data"].keys()
    assert event.chat is not None and example["chat"]["type"] == event.chat.type


def test_private_text_message() -> None:
    event = map_message(_message(Message(conversation="Hi, are you open today?")), 4)

    assert event is not None and event.kind == "wa_message"
    _like_example(event)
    assert event.chat is not None and event.user is not None
    assert (event.chat.id, event.chat.type) == ("4915112345678@s.whatsapp.net", "private")
    assert (event.user.id, event.user.display_name) == ("4915112345678@s.whatsapp.net", "Ada")
    assert (event.message_id, event.text) == ("3EB0C431C26A1916E07A", "Hi, are you open today?")
    assert event.occurred_at == datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
    assert event.instance_id == 4


def test_group_message_that_replies() -> None:
    body = Message(
        extendedTextMessage=ExtendedTextMessage(
            text="Bin day tomorrow!", contextInfo=ContextInfo(stanzaID="3EB0PREVIOUS")
        )
    )
    event = map_message(_message(body, group=True), 4)

    assert event is not None and event.kind == "wa_group_message"
    _like_example(event)
    assert event.chat is not None and event.chat.id == "120363025246125486@g.us"
    assert event.text == "Bin day tomorrow!"
    assert event.reply_to_message_id == "3EB0PREVIOUS"


def test_media_message() -> None:
    body = Message(imageMessage=ImageMessage(caption="Lost cat", mimetype="image/jpeg"))
    event = map_message(_message(body, group=True), 4)

    assert event is not None and event.kind == "wa_media_message"
    _like_example(event)
    assert event.text == "Lost cat"
    assert event.media is not None
    assert event.media.model_dump(exclude_none=True) == {
        "type": "photo",
        "mime_type": "image/jpeg",
        "caption": "Lost cat",
    }


def test_voice_note_is_voice_media() -> None:
    body = Message(audioMessage=AudioMessage(PTT=True, mimetype="audio/ogg; codecs=opus"))
    event = map_message(_message(body), 4)
    assert event is not None and event.media is not None and event.media.type == "voice"


def test_reaction() -> None:
    body = Message(
        reactionMessage=ReactionMessage(key=MessageKey(ID="3EB0C431C26A1916E07B"), text="❤️")
    )
    event = map_message(_message(body, group=True), 4)

    assert event is not None and event.kind == "wa_reaction"
    _like_example(event)
    assert event.message_id == "3EB0C431C26A1916E07B"
    assert event.data == {"emoji": "❤️"}


def test_own_and_protocol_messages_start_nothing() -> None:
    assert map_message(_message(Message(conversation="mine"), from_me=True), 4) is None
    protocol = Message(protocolMessage=ProtocolMessage(type=ProtocolMessage.REVOKE))
    assert map_message(_message(protocol), 4) is None


def test_read_receipt() -> None:
    receipt = Receipt(
        MessageSource=MessageSource(Chat=ADA, Sender=ADA),
        MessageIDs=["3EB0A1B2C3D4E5F60718"],
        Timestamp=WHEN,
        Type=Receipt.READ,
    )
    event = map_receipt(receipt, 4)

    assert event is not None and event.kind == "wa_receipt"
    _like_example(event)
    assert event.data == {"receipt_type": "read", "message_ids": ["3EB0A1B2C3D4E5F60718"]}
    assert event.user is not None and event.user.id == "4915112345678@s.whatsapp.net"


def test_other_receipts_start_nothing() -> None:
    receipt = Receipt(
        MessageSource=MessageSource(Chat=ADA, Sender=ADA), MessageIDs=["X"], Type=Receipt.SENDER
    )
    assert map_receipt(receipt, 4) is None


def test_participants_added_and_left() -> None:
    event = GroupInfoEvent(
        JID=GROUP,
        Sender=ADMIN,
        Timestamp=WHEN,
        Name=GroupName(Name="Neighbourhood"),
        Join=[ADA],
    )
    [joined] = map_group_info(event, 4)

    assert joined.kind == "wa_group_joined"
    _like_example(joined)
    assert joined.chat is not None
    assert (joined.chat.id, joined.chat.type, joined.chat.title) == (
        "120363025246125486@g.us",
        "group",
        "Neighbourhood",
    )
    assert joined.data == {
        "participants": ["4915112345678@s.whatsapp.net"],
        "by": "4917612345678@s.whatsapp.net",
    }

    [left] = map_group_info(GroupInfoEvent(JID=GROUP, Timestamp=WHEN, Leave=[ADA]), 4)
    assert left.kind == "wa_group_left"
    _like_example(left)
    assert left.data == {"participants": ["4915112345678@s.whatsapp.net"]}


def test_group_renames_start_nothing() -> None:
    assert map_group_info(GroupInfoEvent(JID=GROUP, Name=GroupName(Name="New")), 4) == []

"""neonize events (protobufs) → PlatformEvents for the ``wa_*`` triggers.

Messages become wa_message (private), wa_group_message, wa_media_message or wa_reaction;
receipts wa_receipt; group changes wa_group_joined / wa_group_left. The account's own
messages and protocol traffic (edits, revokes, key distribution) start nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from neonize.proto.Neonize_pb2 import GroupInfoEvent, MessageSource, Receipt
from neonize.proto.Neonize_pb2 import Message as MessageEv
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message
from neonize.utils.message import extract_text

from connectors.whatsapp_user.actions import jid_str
from engine.platform_event import EventChat, EventMedia, EventUser, PlatformEvent, platform_event

CONNECTOR = "whatsapp_user"

# Message field -> EventMedia.type
_MEDIA_FIELDS = {
    "imageMessage": "photo",
    "videoMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
}
_RECEIPTS = {Receipt.DELIVERED: "delivered", Receipt.READ: "read", Receipt.PLAYED: "played"}


def _when(seconds: int) -> datetime | None:
    """neonize timestamps are Unix seconds (milliseconds in some events: tell them apart)."""
    if not seconds:
        return None
    return datetime.fromtimestamp(seconds / 1000 if seconds > 10**11 else seconds, UTC)


def _chat(source: MessageSource, title: str | None = None) -> EventChat:
    return EventChat(
        id=jid_str(source.Chat), type="group" if source.IsGroup else "private", title=title
    )


def _user(source: MessageSource, pushname: str | None = None) -> EventUser:
    return EventUser(id=jid_str(source.Sender), display_name=pushname or None)


def _media(message: Message) -> EventMedia | None:
    for name, kind in _MEDIA_FIELDS.items():
        if message.HasField(name):
            part = getattr(message, name)
            voice = kind == "audio" and part.PTT
            return EventMedia(
                type="voice" if voice else kind,
                mime_type=part.mimetype or None,
                file_name=getattr(part, "fileName", None) or None,
                caption=getattr(part, "caption", None) or None,
            )
    return None


def _reply_to(message: Message) -> str | None:
    for field, value in message.ListFields():
        context = getattr(value, "contextInfo", None) if field.message_type else None
        if context is not None and context.stanzaID:
            return str(context.stanzaID)
    return None


def map_message(event: MessageEv, instance_id: int | None) -> PlatformEvent | None:
    info, message = event.Info, event.Message
    source = info.MessageSource
    if source.IsFromMe:
        return None
    common = {
        "chat": _chat(source),
        "user": _user(source, info.Pushname),
        "occurred_at": _when(info.Timestamp) or datetime.now(UTC),
        "raw": {"id": info.ID, "type": info.Type, "media_type": info.MediaType},
    }
    if message.HasField("reactionMessage"):
        reaction = message.reactionMessage
        return platform_event(
            CONNECTOR,
            instance_id,
            "wa_reaction",
            info.ID,
            message_id=reaction.key.ID,
            data={"emoji": reaction.text},
            **common,
        )
    media = _media(message)
    text = extract_text(message)
    if media is None and not text:
        return None  # protocol messages, polls updates, key distribution...
    kind = "wa_media_message" if media else "wa_group_message" if source.IsGroup else "wa_message"
    return platform_event(
        CONNECTOR,
        instance_id,
        kind,
        info.ID,
        message_id=info.ID,
        text=text,
        media=media,
        reply_to_message_id=_reply_to(message),
        **common,
    )


def map_receipt(event: Receipt, instance_id: int | None) -> PlatformEvent | None:
    receipt_type = _RECEIPTS.get(event.Type)
    if receipt_type is None or not event.MessageIDs:
        return None
    return platform_event(
        CONNECTOR,
        instance_id,
        "wa_receipt",
        f"{jid_str(event.MessageSource.Chat)}:{receipt_type}:{','.join(event.MessageIDs)}",
        chat=_chat(event.MessageSource),
        user=_user(event.MessageSource),
        occurred_at=_when(event.Timestamp) or datetime.now(UTC),
        data={"receipt_type": receipt_type, "message_ids": list(event.MessageIDs)},
    )


def map_group_info(event: GroupInfoEvent, instance_id: int | None) -> list[PlatformEvent]:
    """One event per direction of change: people added (or joined), people who left."""
    chat = EventChat(id=jid_str(event.JID), type="group", title=event.Name.Name or None)
    by = jid_str(event.Sender) if event.Sender.User else None
    when = _when(event.Timestamp) or datetime.now(UTC)
    events = []
    for kind, jids in (("wa_group_joined", event.Join), ("wa_group_left", event.Leave)):
        if not jids:
            continue
        people = [jid_str(j) for j in jids]
        data: dict[str, object] = {"participants": people}
        if kind == "wa_group_joined":
            data["by"] = by
        events.append(
            platform_event(
                CONNECTOR,
                instance_id,
                kind,
                f"{chat.id}:{event.Timestamp}:{','.join(people)}",
                chat=chat,
                user=EventUser(id=people[0]),
                occurred_at=when,
                data=data,
            )
        )
    return events

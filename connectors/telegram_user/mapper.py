"""pyrogram Messages → PlatformEvents for ``tgu_message`` and ``tgu_mention``.

Every message the account sees is a ``tgu_message`` (outgoing ones flagged, the trigger
decides whether it wants them); one that mentions the account or replies to it is also a
``tgu_mention``, which pyrogram tells us through ``Message.mentioned``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pyrogram import enums, types

from engine.platform_event import EventChat, EventMedia, EventUser, PlatformEvent, platform_event

CONNECTOR = "telegram_user"

_CHAT_TYPES: dict[enums.ChatType | None, str] = {
    enums.ChatType.PRIVATE: "private",
    enums.ChatType.BOT: "private",
    enums.ChatType.GROUP: "group",
    enums.ChatType.SUPERGROUP: "supergroup",
    enums.ChatType.FORUM: "supergroup",
    enums.ChatType.CHANNEL: "channel",
}
# Message attribute -> EventMedia.type
_MEDIA = ("photo", "video", "document", "voice", "audio", "sticker", "animation")


def event_user(user: types.User) -> EventUser:
    return EventUser(
        id=str(user.id),
        username=user.username,
        first_name=user.first_name,
        last_name=user.last_name,
        is_bot=bool(user.is_bot),
        language=user.language_code,
    )


def event_chat(chat: types.Chat) -> EventChat:
    title = chat.title or " ".join(filter(None, [chat.first_name, chat.last_name])) or None
    return EventChat(id=str(chat.id), type=_CHAT_TYPES.get(chat.type, "private"), title=title)


def event_media(message: types.Message) -> EventMedia | None:
    for kind in _MEDIA:
        media = getattr(message, kind, None)
        if media is not None:
            return EventMedia(
                type=kind,
                file_id=getattr(media, "file_id", None),
                mime_type=getattr(media, "mime_type", None),
                file_name=getattr(media, "file_name", None),
                caption=message.caption,
            )
    return None


def map_message(message: types.Message, instance_id: int | None) -> list[PlatformEvent]:
    """The events one message starts: tgu_message, plus tgu_mention when it concerns us."""
    if message.chat is None or message.service or message.empty:
        return []
    kinds = ["tgu_message"] + (["tgu_mention"] if message.mentioned else [])
    fields: dict[str, Any] = {
        "chat": event_chat(message.chat),
        "user": event_user(message.from_user) if message.from_user else None,
        "message_id": str(message.id),
        "text": message.text or message.caption or "",
        "reply_to_message_id": str(message.reply_to_message_id)
        if message.reply_to_message_id
        else None,
        "is_forwarded": message.forward_origin is not None,
        "media": event_media(message),
        "data": {"outgoing": bool(message.outgoing)},
    }
    if message.date is not None:
        # pyrogram gives naive local times; astimezone reads them as such.
        fields["occurred_at"] = message.date.astimezone(UTC)
    return [
        platform_event(CONNECTOR, instance_id, kind, f"{message.chat.id}:{message.id}", **fields)
        for kind in kinds
    ]

"""Chat discovery and member backfill, the same shape from every connector.

Connectors report each chat their bot or account is in as a ``chat_seen`` PlatformEvent
(title, type, member count, whether the bot is an admin there, ``gone`` when it left), and
answer the internal pool actions ``list_chats`` and ``list_members``, which are not node
types: the engine calls them to discover chats on request and to backfill members when a
chat joins a community. Keeping the payload shapes here means the ingest side reads one
format whichever platform sent it. The engine owns this contract; connectors implement it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from engine.platform_event import EventChat, EventUser, PlatformEvent, platform_event

CHAT_SEEN = "chat_seen"
LIST_MEMBERS = "list_members"
LIST_CHATS = "list_chats"
# Pool actions every connector serves besides its node actions.
POOL_ACTIONS = frozenset({LIST_MEMBERS, LIST_CHATS})

MemberRole = Literal["owner", "admin", "member"]
# Discord voice and stage channels are discovered as chats of these types: a member can be
# moved into one and an event held in one, but flows do not post to them (chat pickers,
# broadcasts and a community's postable chats leave them out; voice pickers offer only them).
VOICE_CHAT_TYPES = ("guild_voice", "guild_stage")


class ListMembersParams(BaseModel):
    chat_id: str = Field(description="The chat (Telegram chat, Discord guild, WhatsApp group)")


class ListChatsParams(BaseModel):
    """``list_chats`` takes nothing: it answers every chat the client is in."""


def chat_seen(
    connector: str,
    instance_id: int | None,
    chat: EventChat,
    unique: str,
    *,
    username: str | None = None,
    member_count: int | None = None,
    bot_is_admin: bool | None = None,
    bot_rights: dict[str, bool] | None = None,
    gone: bool = False,
    **fields: Any,
) -> PlatformEvent:
    """The ``chat_seen`` event for one observation of ``chat`` (``unique`` per observation)."""
    data = {
        "username": username,
        "member_count": member_count,
        "bot_is_admin": bot_is_admin,
        "bot_rights": dict(bot_rights or {}),
        "gone": gone,
    }
    return platform_event(connector, instance_id, CHAT_SEEN, unique, chat=chat, data=data, **fields)


def chat_entry(
    chat: EventChat,
    *,
    username: str | None = None,
    member_count: int | None = None,
    bot_is_admin: bool | None = None,
) -> dict[str, Any]:
    """One chat of a ``list_chats`` answer."""
    return {
        "id": chat.id,
        "type": chat.type,
        "title": chat.title,
        "username": username,
        "member_count": member_count,
        "bot_is_admin": bot_is_admin,
        "guild_id": chat.guild_id,
    }


def member_entry(user: EventUser, role: MemberRole, phone: str | None = None) -> dict[str, Any]:
    """One member of a ``list_members`` answer."""
    return {"user": user.model_dump(mode="json"), "role": role, "phone": phone}

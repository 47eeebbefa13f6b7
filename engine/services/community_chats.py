"""Which community an event's chat belongs to: the one rule, per platform.

A chat is linked to a community through its discovered :class:`Chat` row. A Discord
event belongs to the community of its guild (any of its channels); a Telegram chat and a
WhatsApp group to their own row's community.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.chat_discovery import VOICE_CHAT_TYPES
from engine.models import Chat

ChatKey = tuple[str, str]  # (platform, chat id / guild id / group JID)
PLATFORMS = ("telegram", "discord", "whatsapp")


def chat_key(event: Mapping[str, Any]) -> ChatKey | None:
    """The key that links an event (a trigger dict) to a community, if it has one."""
    chat = event.get("chat") or {}
    platform = event.get("platform")
    if platform not in PLATFORMS or not chat:
        return None
    value = (chat.get("guild_id") or chat.get("id")) if platform == "discord" else chat.get("id")
    return (platform, str(value)) if value is not None else None


def community_id_of(session: Session, event: Mapping[str, Any]) -> int | None:
    key = chat_key(event)
    if key is None:
        return None
    return session.exec(
        select(Chat.community_id).where(Chat.platform == key[0], Chat.platform_chat_id == key[1])
    ).first()


def community_ids_by_chat(session: Session) -> dict[ChatKey, int]:
    """Every linked chat at once, for jobs that look at many events."""
    rows = session.exec(
        select(Chat.platform, Chat.platform_chat_id, Chat.community_id).where(
            col(Chat.community_id).is_not(None)
        )
    ).all()
    return {(str(platform), chat_id): cid for platform, chat_id, cid in rows if cid is not None}


def postable_chats(session: Session, community_ids: Collection[int]) -> list[Chat]:
    """Where communities post: their linked chats that are still there; on Discord the
    attached text channels, not the guild nor voice channels (they take no messages)."""
    if not community_ids:
        return []
    query = select(Chat).where(
        col(Chat.community_id).in_(list(community_ids)),
        col(Chat.gone_at).is_(None),
        sa.or_(col(Chat.platform) != "discord", col(Chat.parent_chat_id).is_not(None)),
        sa.not_(col(Chat.type).in_(VOICE_CHAT_TYPES)),
    )
    return list(session.exec(query.order_by(col(Chat.id))))

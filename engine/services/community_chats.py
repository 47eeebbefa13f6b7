"""Which community an event's chat belongs to: the one rule, per platform.

A Telegram chat, a Discord guild (any of its channels) or a WhatsApp group is linked to
a community through its platform config row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, select

from engine.models import CommunityDiscordConfig, CommunityTelegramConfig, CommunityWhatsAppConfig

_CONFIGS = {
    "telegram": (CommunityTelegramConfig, CommunityTelegramConfig.chat_id),
    "discord": (CommunityDiscordConfig, CommunityDiscordConfig.guild_id),
    "whatsapp": (CommunityWhatsAppConfig, CommunityWhatsAppConfig.group_jid),
}

ChatKey = tuple[str, str]  # (platform, chat id / guild id / group JID)


def chat_key(event: Mapping[str, Any]) -> ChatKey | None:
    """The key that links an event (a trigger dict) to a community, if it has one."""
    chat = event.get("chat") or {}
    platform = event.get("platform")
    if platform not in _CONFIGS or not chat:
        return None
    value = (chat.get("guild_id") or chat.get("id")) if platform == "discord" else chat.get("id")
    return (platform, str(value)) if value is not None else None


def community_id_of(session: Session, event: Mapping[str, Any]) -> int | None:
    key = chat_key(event)
    if key is None:
        return None
    model, column = _CONFIGS[key[0]]
    return session.exec(select(model.community_id).where(column == key[1])).first()


def community_ids_by_chat(session: Session) -> dict[ChatKey, int]:
    """Every linked chat at once, for jobs that look at many events."""
    found: dict[ChatKey, int] = {}
    for platform, (model, column) in _CONFIGS.items():
        for value, community_id in session.exec(select(column, model.community_id)).all():
            found[(platform, str(value))] = community_id
    return found

"""The pool calls the rules make themselves (the sanctions go through the moderation
service): where a message for an event goes, buttons, answers to a press, un-muting."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.models import Chat
from engine.platform_event import PlatformEvent

Call = tuple[str, dict[str, Any]]
HOLD_PREFIX = "flowbot-hold:"
"""Callback data (Telegram) or custom id (Discord) of a hold's button: the prefix, then the
hold's id. Flows see the press too, and can tell it apart by the prefix."""


def chat_for_messages(
    session: Session, event: PlatformEvent, community_id: int, log_chat_id: int | None
) -> str | None:
    """Where a message about ``event`` goes: its own chat, except a Discord member event,
    whose chat is the server: then the server's oldest text channel in the community (the
    smallest snowflake, usually #general), not the moderation log's."""
    if event.chat is None:
        return None
    if event.platform != "discord" or event.chat.id != event.chat.guild_id:
        return event.chat.id
    snowflake = sa.cast(Chat.platform_chat_id, sa.Numeric)
    return session.exec(
        select(Chat.platform_chat_id)
        .where(
            Chat.platform == "discord",
            Chat.parent_chat_id == event.chat.id,
            Chat.community_id == community_id,
            Chat.type == "text",
            col(Chat.gone_at).is_(None),
            Chat.id != (log_chat_id or 0),
        )
        .order_by(snowflake)
    ).first()


def where_members_are(event: PlatformEvent) -> str | None:
    """Where a member is muted: the Telegram chat, the Discord server, the WhatsApp group."""
    if event.chat is None:
        return None
    return (event.chat.guild_id or event.chat.id) if event.platform == "discord" else event.chat.id


def button_message(kind: str, chat_id: str, text: str, label: str, data: str) -> Call | None:
    """A message with one button whose press comes back with ``data``."""
    if kind == "telegram_bot":
        button = {"text": label, "callback_data": data}
        return "send_buttons", {"chat_id": chat_id, "text": text, "buttons": [[button]]}
    if kind == "discord_bot":
        button = {"label": label[:80], "custom_id": data, "style": "success"}
        return "send_buttons", {"channel_id": chat_id, "content": text, "buttons": [[button]]}
    return None


def pressed_data(event: PlatformEvent) -> str:
    """What the pressed button carries (Telegram callback data, Discord custom id)."""
    return str(event.data.get("callback_data") or event.data.get("custom_id") or "")


def press_answer(kind: str, event: PlatformEvent, text: str) -> Call | None:
    """The answer a button press expects (Telegram shows a toast; Discord otherwise says
    the application did not respond)."""
    if kind == "telegram_bot" and event.data.get("callback_query_id"):
        return "answer_callback", {
            "callback_query_id": str(event.data["callback_query_id"]),
            "text": text[:200],
        }
    if kind == "discord_bot" and event.data.get("interaction_token"):
        return "respond_interaction", {
            "interaction_id": str(event.data["interaction_id"]),
            "interaction_token": str(event.data["interaction_token"]),
            "content": text,
            "ephemeral": True,
        }
    return None

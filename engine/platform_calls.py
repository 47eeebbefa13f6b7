"""How each connector kind spells the calls Flowbot's own services make through the pool.

One table for the cross-platform nodes, the moderation service and the scheduled
messages: the action names and parameter keys match the connector actions declared in
the platform node modules (tg_send_message, dc_timeout_member, wa_remove_participants...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Delivery = Literal["chat", "reply", "dm"]
Sanction = Literal["mute", "unmute", "kick", "ban", "unban"]
Call = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Connector:
    """Action names and parameter keys of one connector kind."""

    platform: str
    send: str  # post a text to a chat
    chat_key: str
    text_key: str
    reply: str  # answer a message: its id goes in reply_key
    reply_key: str
    dm: str  # message one user directly
    dm_key: str


CONNECTORS: dict[str, Connector] = {
    "telegram_bot": Connector(
        "telegram", "send_message", "chat_id", "text", "send_message", "reply_to_message_id",
        "send_message", "chat_id",
    ),
    "telegram_user": Connector(
        "telegram", "send_message", "chat_id", "text", "send_message", "reply_to_message_id",
        "send_message", "chat_id",
    ),
    "discord_bot": Connector(
        "discord", "send_message", "channel_id", "content", "reply", "message_id",
        "send_dm", "user_id",
    ),
    "whatsapp_user": Connector(
        "whatsapp", "send_text", "chat_id", "text", "send_text", "reply_to_message_id",
        "send_text", "chat_id",
    ),
}  # fmt: skip
DEFAULT_KIND = {"telegram": "telegram_bot", "discord": "discord_bot", "whatsapp": "whatsapp_user"}
PLATFORMS = tuple(DEFAULT_KIND)
DISCORD_REASON_MAX = 512  # the audit-log reason Discord accepts


def message_call(
    kind: str, to: str, text: str, how: Delivery = "chat", reply_to: str | None = None
) -> Call:
    """Action and parameters that post ``text`` to a chat, as a reply, or to a user."""
    c = CONNECTORS[kind]
    if how == "dm":
        return c.dm, {c.dm_key: to, c.text_key: text}
    params: dict[str, Any] = {c.chat_key: to, c.text_key: text}
    if how == "reply" and reply_to:
        return c.reply, {**params, c.reply_key: reply_to}
    return c.send, params


def sanction_calls(
    kind: str, op: Sanction, where: str, user_id: str, reason: str, seconds: int | None = None
) -> list[Call] | None:
    """The calls that mute, unmute, kick, ban or unban ``user_id`` in one place, in order;
    None where the connector has no such action.

    Telegram acts per chat (a bot kicks by banning and lifting the ban at once, as
    Telegram itself does), Discord per guild, WhatsApp per group, where removing a
    participant is both the kick and the ban (WhatsApp keeps no ban list).
    """
    member: dict[str, Any]
    if kind == "telegram_bot":
        member = {"chat_id": where, "user_id": user_id}
        mute = {**member, "duration_seconds": seconds} if seconds else member
        return {
            "mute": [("mute_member", mute)],
            "unmute": [("unmute_member", member)],
            "ban": [("ban_member", member)],
            "unban": [("unban_member", member)],
            "kick": [("ban_member", member), ("unban_member", member)],
        }[op]
    if kind == "telegram_user":
        member = {"chat_id": where, "user_id": user_id}
        account_calls = {"kick": member, "ban": {**member, "ban": True}}
        return [("kick_member", account_calls[op])] if op in account_calls else None
    if kind == "discord_bot":
        member = {"guild_id": where, "user_id": user_id}
        if reason:
            member["reason"] = reason[:DISCORD_REASON_MAX]
        timeout = {**member, "duration_seconds": seconds} if seconds else member
        actions = {
            "mute": ("timeout_member", timeout),
            "unmute": ("remove_timeout", member),
            "kick": ("kick_member", member),
            "ban": ("ban_member", member),
            "unban": ("unban_member", member),
        }
        return [actions[op]]
    if kind == "whatsapp_user" and op in ("kick", "ban"):
        return [("remove_participants", {"group_id": where, "participants": [user_id]})]
    return None


def delete_call(kind: str, chat_id: str, message_id: str, sender_id: str | None) -> Call | None:
    """The call that deletes one message; None where the connector cannot (WhatsApp needs
    the sender to revoke a message)."""
    if kind == "telegram_bot":
        return "delete_message", {"chat_id": chat_id, "message_id": message_id}
    if kind == "telegram_user":
        return "delete_messages", {"chat_id": chat_id, "message_ids": [message_id]}
    if kind == "discord_bot":
        return "delete_message", {"channel_id": chat_id, "message_id": message_id}
    if kind == "whatsapp_user" and sender_id:
        return "revoke_message", {
            "chat_id": chat_id,
            "sender_id": sender_id,
            "message_id": message_id,
        }
    return None

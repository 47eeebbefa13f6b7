"""The chats a Telegram account is in and their members: the list_* pool actions.

Unlike a bot, an account can list its chats (its dialogs) and every member of a group, so
discovery for it is on request: the engine asks when an admin refreshes the chat picker
or attaches a chat to a community.
"""

from __future__ import annotations

from typing import Any

import pyrogram
from pyrogram import enums, types

from connectors.kit.convert import chat_ref
from connectors.telegram_user.mapper import event_chat, event_user
from engine.chat_discovery import (
    ListChatsParams,
    ListMembersParams,
    MemberRole,
    chat_entry,
    member_entry,
)

# Dialogs that are chats a community can hold: not people, bots or direct-message topics.
_GROUP_TYPES = {
    enums.ChatType.GROUP,
    enums.ChatType.SUPERGROUP,
    enums.ChatType.FORUM,
    enums.ChatType.CHANNEL,
}
_ROLES: dict[enums.ChatMemberStatus, MemberRole] = {
    enums.ChatMemberStatus.OWNER: "owner",
    enums.ChatMemberStatus.ADMINISTRATOR: "admin",
}
# Members who are not in the chat (any more): listed by Telegram for some filters only.
_NOT_MEMBERS = {enums.ChatMemberStatus.LEFT, enums.ChatMemberStatus.BANNED}


def _phone(user: types.User) -> str | None:
    """The number Telegram shows this account (contacts, or people who share it)."""
    return f"+{user.phone_number.lstrip('+')}" if user.phone_number else None


async def list_chats(client: pyrogram.Client, params: ListChatsParams) -> dict[str, Any]:
    """The account's groups, supergroups and channels from its dialogs."""
    chats = [
        chat_entry(
            event_chat(dialog.chat),
            username=dialog.chat.username,
            member_count=dialog.chat.members_count,
            bot_is_admin=bool(dialog.chat.is_creator or dialog.chat.is_admin),
        )
        async for dialog in client.get_dialogs()
        if dialog.chat.type in _GROUP_TYPES
    ]
    return {"chats": chats}


async def list_members(client: pyrogram.Client, params: ListMembersParams) -> dict[str, Any]:
    """Every member of the chat Telegram lets the account see, with owner/admin roles."""
    members = [
        member_entry(
            event_user(member.user), _ROLES.get(member.status, "member"), _phone(member.user)
        )
        async for member in client.get_chat_members(chat_ref(params.chat_id))
        if member.user is not None and member.status not in _NOT_MEMBERS
    ]
    return {"members": members}

"""What the bot knows of its chats: chat_seen enrichment and the list_* pool actions.

A ``my_chat_member`` update names the chat but not its member count (and a group's
username or new title may be newer in getChat), and a renamed or upgraded group says
nothing of the bot's rights there, so the connector asks before emitting. Enrichment is
best effort: a refused or failed call still emits the event with what the update said,
since losing the discovery would be worse than a missing count.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiohttp import ClientError

from connectors.kit.convert import chat_ref
from connectors.telegram_bot.mapper import bot_rights, map_chat, map_user
from engine.chat_discovery import ListChatsParams, ListMembersParams, MemberRole, member_entry
from engine.platform_event import PlatformEvent

log = logging.getLogger(__name__)

_ENRICHMENT_FAILURES = (TelegramAPIError, ClientError, TimeoutError)
_ROLES: dict[str, MemberRole] = {"creator": "owner", "administrator": "admin"}


async def enrich_chat_seen(bot: Bot, event: PlatformEvent) -> PlatformEvent:
    """``event`` with getChat's title, type and username, getChatMemberCount's count and,
    where the update did not say, the bot's status from getChatMember; a chat the bot left
    is not asked about (Telegram would refuse)."""
    if event.chat is None or event.data.get("gone"):
        return event
    chat_id = chat_ref(event.chat.id)
    chat, data = event.chat, dict(event.data)
    try:
        info = await bot.get_chat(chat_id)
    except _ENRICHMENT_FAILURES as error:
        log.info("getChat for discovered chat %s failed: %s", chat_id, type(error).__name__)
    else:
        chat = map_chat(info) or chat
        data["username"] = info.username
    try:
        data["member_count"] = await bot.get_chat_member_count(chat_id)
    except _ENRICHMENT_FAILURES as error:
        log.info("getChatMemberCount for %s failed: %s", chat_id, type(error).__name__)
    if data.get("bot_is_admin") is None:
        try:
            me = await bot.get_chat_member(chat_id, bot.id)
        except _ENRICHMENT_FAILURES as error:
            log.info("getChatMember (the bot) in %s failed: %s", chat_id, type(error).__name__)
        else:
            data["bot_is_admin"] = me.status in _ROLES
            data["bot_rights"] = bot_rights(me)
    return event.model_copy(update={"chat": chat, "data": data})


async def list_members(bot: Bot, params: ListMembersParams) -> dict[str, Any]:
    """The chat's administrators: all a bot can list (the Bot API gives no member list)."""
    admins = await bot.get_chat_administrators(chat_ref(params.chat_id))
    # aiogram's statuses are str enums: they look up as their plain values.
    members = [
        member_entry(map_user(admin.user), _ROLES.get(admin.status, "member"))  # type: ignore[arg-type]  # see above
        for admin in admins
    ]
    return {"members": members}


async def list_chats(bot: Bot, params: ListChatsParams) -> dict[str, Any]:
    """Nothing: the Bot API cannot list a bot's chats. The engine knows them from the
    chat_seen events (my_chat_member) and the chats of every update."""
    return {"chats": []}

"""Telegram user-account actions: every ``tgu_*`` node through the pyrogram ``Client`` method
of the same meaning, with ids converted to what pyrogram expects (ints, or @usernames)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyrogram
from pyrogram import enums, errors, types
from pyrogram.errors.rpc_error import RPCError
from pyrogram.file_id import FileId

from connectors.kit.actions import ActionRegistry
from connectors.kit.catalogue import node_action
from connectors.kit.convert import chat_ref, invalid, to_int, to_ints, url_or_file_id
from connectors.telegram_user import discovery
from engine.action_errors import ActionError, ErrorKind
from engine.chat_discovery import LIST_CHATS, LIST_MEMBERS, ListChatsParams, ListMembersParams
from engine.nodes import telegram_user as p

actions: ActionRegistry[pyrogram.Client] = ActionRegistry("telegram_user")
actions.action(LIST_MEMBERS, ListMembersParams)(discovery.list_members)
actions.action(LIST_CHATS, ListChatsParams)(discovery.list_chats)

_PARSE_MODES = {
    "default": enums.ParseMode.DEFAULT,
    "markdown": enums.ParseMode.MARKDOWN,
    "html": enums.ParseMode.HTML,
    "disabled": enums.ParseMode.DISABLED,
}
_MEMBER_FILTERS = {
    "search": enums.ChatMembersFilter.SEARCH,
    "recent": enums.ChatMembersFilter.RECENT,
    "administrators": enums.ChatMembersFilter.ADMINISTRATORS,
    "bots": enums.ChatMembersFilter.BOTS,
    "restricted": enums.ChatMembersFilter.RESTRICTED,
    "banned": enums.ChatMembersFilter.BANNED,
}
_MESSAGE_FILTERS = {
    "empty": enums.MessagesFilter.EMPTY,
    "photo": enums.MessagesFilter.PHOTO,
    "video": enums.MessagesFilter.VIDEO,
    "document": enums.MessagesFilter.DOCUMENT,
    "url": enums.MessagesFilter.URL,
    "voice_note": enums.MessagesFilter.VOICE_NOTE,
    "audio": enums.MessagesFilter.AUDIO,
    "mention": enums.MessagesFilter.MENTION,
    "pinned": enums.MessagesFilter.PINNED,
}
# media_type -> (Client method, name of its media argument)
_MEDIA_METHODS = {
    "photo": ("send_photo", "photo"),
    "video": ("send_video", "video"),
    "document": ("send_document", "document"),
    "audio": ("send_audio", "audio"),
    "voice": ("send_voice", "voice"),
    "animation": ("send_animation", "animation"),
    "sticker": ("send_sticker", "sticker"),
}


def _media(value: str) -> str:
    """An http(s) URL or a file id pyrogram can decode. pyrogram uploads any existing local
    path and fails with a bare ValueError on an id it cannot read: both stop here."""
    media = url_or_file_id(value, "media")
    if media.startswith(("http://", "https://")):
        return media
    try:
        FileId.decode(media)
    except Exception:  # binascii, struct or value errors, as pyrogram's own check
        raise invalid("media", f"not a Telegram file id: {value!r}") from None
    return media


def _reply_to(message_id: str | None) -> types.ReplyParameters | None:
    return (
        types.ReplyParameters(message_id=to_int(message_id, "reply_to_message_id"))
        if (message_id)
        else None
    )


def _sent(message: types.Message | None) -> dict[str, Any]:
    if message is None:
        return {"message_id": None, "chat_id": None}
    return {
        "message_id": str(message.id),
        "chat_id": str(message.chat.id) if message.chat else None,
    }


def message_summary(message: types.Message) -> dict[str, Any]:
    """What reading actions return per message: enough for later nodes, JSON-able."""
    sender = message.from_user
    return {
        "message_id": str(message.id),
        "chat_id": str(message.chat.id) if message.chat else None,
        "date": message.date.isoformat() if message.date else None,
        "text": message.text or message.caption or "",
        "from_user_id": str(sender.id) if sender else None,
        "from_username": sender.username if sender else None,
        "outgoing": bool(message.outgoing),
    }


# -- messages ---------------------------------------------------------------------------------


async def _send_text(client: pyrogram.Client, params: p.SendText) -> dict[str, Any]:
    message = await client.send_message(
        chat_ref(params.chat_id),
        params.text,
        parse_mode=_PARSE_MODES[params.parse_mode],
        link_preview_options=types.LinkPreviewOptions(is_disabled=params.disable_web_page_preview),
        disable_notification=params.disable_notification,
        reply_parameters=_reply_to(params.reply_to_message_id),
    )
    return _sent(message)


actions.action(*node_action("tgu_send_message"))(_send_text)
actions.action(*node_action("tgu_reply"))(_send_text)


@actions.action(*node_action("tgu_send_media"))
async def send_media(client: pyrogram.Client, params: p.SendMediaParams) -> dict[str, Any]:
    method, argument = _MEDIA_METHODS[params.media_type]
    options: dict[str, Any] = {
        argument: _media(params.media),
        "reply_parameters": _reply_to(params.reply_to_message_id),
    }
    if params.media_type != "sticker" or params.caption:
        options.update(caption=params.caption, parse_mode=_PARSE_MODES[params.parse_mode])
    if params.file_name and params.media_type in ("document", "audio", "video", "animation"):
        options["file_name"] = params.file_name
    message = await getattr(client, method)(chat_ref(params.chat_id), **options)
    return _sent(message)


@actions.action(*node_action("tgu_forward_messages"))
async def forward_messages(
    client: pyrogram.Client, params: p.ForwardMessagesParams
) -> dict[str, Any]:
    forwarded = await client.forward_messages(
        chat_ref(params.chat_id),
        chat_ref(params.from_chat_id, "from_chat_id"),
        to_ints(params.message_ids, "message_ids"),
        disable_notification=params.disable_notification,
        hide_sender_name=params.hide_sender_name,
    )
    messages = forwarded if isinstance(forwarded, list) else [forwarded] if forwarded else []
    return {"message_ids": [str(m.id) for m in messages]}


@actions.action(*node_action("tgu_edit_message"))
async def edit_message(client: pyrogram.Client, params: p.EditMessageParams) -> dict[str, Any]:
    message = await client.edit_message_text(
        chat_ref(params.chat_id),
        to_int(params.message_id, "message_id"),
        params.text,
        parse_mode=_PARSE_MODES[params.parse_mode],
        link_preview_options=types.LinkPreviewOptions(is_disabled=params.disable_web_page_preview),
    )
    return _sent(message)


@actions.action(*node_action("tgu_delete_messages"))
async def delete_messages(
    client: pyrogram.Client, params: p.DeleteMessagesParams
) -> dict[str, Any]:
    deleted = await client.delete_messages(
        chat_ref(params.chat_id), to_ints(params.message_ids, "message_ids"), revoke=params.revoke
    )
    return {"deleted": deleted}


@actions.action(*node_action("tgu_read_history"))
async def read_history(client: pyrogram.Client, params: p.ReadHistoryParams) -> dict[str, Any]:
    max_id = to_int(params.max_id, "max_id") if params.max_id else 0
    return {"ok": await client.read_chat_history(chat_ref(params.chat_id), max_id=max_id)}


@actions.action(*node_action("tgu_send_reaction"))
async def send_reaction(client: pyrogram.Client, params: p.SendReactionParams) -> dict[str, Any]:
    ok = await client.send_reaction(
        chat_ref(params.chat_id),
        message_id=to_int(params.message_id, "message_id"),
        emoji=params.emoji or None,
        big=params.big,
    )
    return {"ok": ok}


@actions.action(*node_action("tgu_pin_message"))
async def pin_message(client: pyrogram.Client, params: p.PinParams) -> dict[str, Any]:
    await client.pin_chat_message(
        chat_ref(params.chat_id),
        to_int(params.message_id, "message_id"),
        disable_notification=params.disable_notification,
        both_sides=params.both_sides,
    )
    return {"ok": True}


# -- chats and members ------------------------------------------------------------------------


@actions.action(*node_action("tgu_join_chat"))
async def join_chat(client: pyrogram.Client, params: p.JoinChatParams) -> dict[str, Any]:
    result = await client.join_chat(chat_ref(params.chat_id))
    chat: Any = getattr(result, "chat", result)
    return {"chat_id": str(chat.id) if getattr(chat, "id", None) else None}


@actions.action(*node_action("tgu_leave_chat"))
async def leave_chat(client: pyrogram.Client, params: p.LeaveChatParams) -> dict[str, Any]:
    await client.leave_chat(chat_ref(params.chat_id), delete=params.delete)
    return {"ok": True}


@actions.action(*node_action("tgu_create_group"))
async def create_group(client: pyrogram.Client, params: p.CreateGroupParams) -> dict[str, Any]:
    chat = await client.create_group(params.title, [chat_ref(u, "users") for u in params.users])
    return {"chat_id": str(chat.id), "title": chat.title}


@actions.action(*node_action("tgu_add_members"))
async def add_members(client: pyrogram.Client, params: p.AddMembersParams) -> dict[str, Any]:
    failed = await client.add_chat_members(
        chat_ref(params.chat_id),
        [chat_ref(u, "user_ids") for u in params.user_ids],
        forward_limit=params.forward_limit,
    )
    return {"failed": [str(getattr(f, "user_id", f)) for f in failed or []]}


@actions.action(*node_action("tgu_kick_member"))
async def kick_member(client: pyrogram.Client, params: p.KickMemberParams) -> dict[str, Any]:
    """Telegram has no kick: a ban, lifted at once unless the member should stay banned."""
    chat, user = chat_ref(params.chat_id), chat_ref(params.user_id, "user_id")
    await client.ban_chat_member(chat, user, revoke_messages=params.revoke_messages)
    if not params.ban:
        await client.unban_chat_member(chat, user)
    return {"banned": params.ban}


@actions.action(*node_action("tgu_get_members"))
async def get_members(client: pyrogram.Client, params: p.GetMembersParams) -> dict[str, Any]:
    members = [
        {
            "user_id": str(member.user.id) if member.user else None,
            "username": member.user.username if member.user else None,
            "first_name": member.user.first_name if member.user else None,
            "status": member.status.name.lower() if member.status else None,
        }
        async for member in client.get_chat_members(
            chat_ref(params.chat_id),
            query=params.query,
            limit=params.limit,
            filter=_MEMBER_FILTERS[params.filter],
        )
    ]
    return {"members": members, "count": len(members)}


# -- reading ----------------------------------------------------------------------------------


@actions.action(*node_action("tgu_get_history"))
async def get_history(client: pyrogram.Client, params: p.GetHistoryParams) -> dict[str, Any]:
    """Pages with ``max_id`` (inclusive): kurigram overwrites a given ``offset_id`` with its own,
    so "the messages before N" is ``max_id=N-1``, and before the first message there are none."""
    before = to_int(params.offset_id, "offset_id") if params.offset_id else None
    if before is not None and before <= 1:
        return {"messages": [], "count": 0}
    messages = [
        message_summary(message)
        async for message in client.get_chat_history(
            chat_ref(params.chat_id), limit=params.limit, max_id=before - 1 if before else 0
        )
    ]
    return {"messages": messages, "count": len(messages)}


@actions.action(*node_action("tgu_search_messages"))
async def search_messages(
    client: pyrogram.Client, params: p.SearchMessagesParams
) -> dict[str, Any]:
    messages = [
        message_summary(message)
        async for message in client.search_messages(
            chat_ref(params.chat_id),
            query=params.query,
            filter=_MESSAGE_FILTERS[params.filter],
            limit=params.limit,
            from_user=chat_ref(params.from_user, "from_user") if params.from_user else None,
        )
    ]
    return {"messages": messages, "count": len(messages)}


@actions.action(*node_action("tgu_get_dialogs"))
async def get_dialogs(client: pyrogram.Client, params: p.GetDialogsParams) -> dict[str, Any]:
    dialogs = [
        {
            "chat_id": str(dialog.chat.id),
            "type": dialog.chat.type.name.lower() if dialog.chat.type else None,
            "title": dialog.chat.title or dialog.chat.first_name,
            "username": dialog.chat.username,
            "unread_count": dialog.unread_messages_count,
            "pinned": bool(dialog.is_pinned),
        }
        async for dialog in client.get_dialogs(
            limit=params.limit,
            exclude_pinned=params.exclude_pinned,
            from_archive=params.from_archive,
        )
    ]
    return {"dialogs": dialogs, "count": len(dialogs)}


@actions.action(*node_action("tgu_update_profile"))
async def update_profile(client: pyrogram.Client, params: p.UpdateProfileParams) -> dict[str, Any]:
    ok = await client.update_profile(
        first_name=params.first_name, last_name=params.last_name, bio=params.bio
    )
    return {"ok": ok}


# -- errors -----------------------------------------------------------------------------------


def map_error(error: RPCError) -> ActionError:
    """pyrogram's RPC error → the structured error the pool API returns."""
    text = str(error)  # "Telegram says: [420 FLOOD_WAIT_X] - Please wait 42 seconds ..."
    if isinstance(error, errors.FloodWait):
        wait = float(error.value or 0)
        return ActionError(ErrorKind.rate_limited, text, retry_after=wait)
    if isinstance(error, errors.Unauthorized):
        return ActionError(ErrorKind.unavailable, text)
    if isinstance(error, errors.InternalServerError | errors.ServiceUnavailable):
        return ActionError(ErrorKind.unavailable, text)
    return ActionError(ErrorKind.platform, text)


async def execute_action(
    client: pyrogram.Client, name: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Run one action; Telegram's refusals come back as ActionError, never as pyrogram's."""
    try:
        return await actions.execute(client, name, params)
    except RPCError as error:
        raise map_error(error) from error
    except ConnectionError as error:
        raise ActionError(ErrorKind.unavailable, f"Telegram unreachable: {error}") from error

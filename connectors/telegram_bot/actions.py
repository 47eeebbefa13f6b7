"""Every ``tg_*`` action node, run as the aiogram ``Bot`` method it names.

The params models are the node declarations' own (engine/nodes/telegram_bot.py), so
validation rules live in one place. Their fields mirror the Bot API's parameters;
:func:`bot_kwargs` only converts what differs: ids typed ``str`` become numbers,
durations in seconds become ``until_date``/``expire_date``, and buttons, reactions,
replies and link previews become aiogram objects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.types import (
    ChatInviteLink,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageId,
    ReactionTypeEmoji,
    ReplyParameters,
)
from pydantic import BaseModel

from connectors.kit.actions import ActionRegistry
from connectors.kit.catalogue import declared_actions, node_action
from connectors.kit.convert import chat_ref, seconds_from_now, to_int, url_or_file_id
from connectors.telegram_bot import discovery
from engine.chat_discovery import LIST_CHATS, LIST_MEMBERS, ListChatsParams, ListMembersParams
from engine.nodes import NodePlatform

KIND = "telegram_bot"
ACTIONS: ActionRegistry[Bot] = ActionRegistry(KIND)

_SEND = "send_message"
# Connector action (node id without "tg_") → Bot method.
METHODS: dict[str, str] = {
    "send_message": _SEND,
    "reply": _SEND,
    "send_buttons": _SEND,
    "send_photo": "send_photo",
    "send_document": "send_document",
    "send_video": "send_video",
    "send_voice": "send_voice",
    "send_sticker": "send_sticker",
    "send_poll": "send_poll",
    "send_location": "send_location",
    "edit_message": "edit_message_text",
    "delete_message": "delete_message",
    "forward_message": "forward_message",
    "copy_message": "copy_message",
    "pin_message": "pin_chat_message",
    "unpin_message": "unpin_chat_message",
    "answer_callback": "answer_callback_query",
    "set_reaction": "set_message_reaction",
    "ban_member": "ban_chat_member",
    "unban_member": "unban_chat_member",
    "mute_member": "restrict_chat_member",
    "unmute_member": "restrict_chat_member",
    "promote_member": "promote_chat_member",
    "approve_join_request": "approve_chat_join_request",
    "decline_join_request": "decline_chat_join_request",
    "set_chat_title": "set_chat_title",
    "set_chat_description": "set_chat_description",
    "create_invite_link": "create_chat_invite_link",
    "send_chat_action": "send_chat_action",
}


def _permissions(allowed: bool) -> ChatPermissions:
    """Every right on or off: all on lifts a member's restrictions (Bot API docs)."""
    return ChatPermissions(**{name: allowed for name in ChatPermissions.model_fields})


# Fixed arguments of actions that are one setting of a more general method.
_FIXED: dict[str, dict[str, Any]] = {
    "mute_member": {"permissions": _permissions(False)},
    "unmute_member": {"permissions": _permissions(True)},
}
_INT_FIELDS = ("message_id", "user_id", "message_thread_id")
_CHAT_FIELDS = ("chat_id", "from_chat_id")
# Media given as a file id or URL; never a path (a local Bot API server would read it).
_FILE_FIELDS = ("photo", "document", "video", "voice", "sticker")


def keyboard(rows: list[list[Any]] | None) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(**button.model_dump(exclude_none=True)) for button in row]
            for row in rows
        ]
    )


def bot_kwargs(params: BaseModel) -> dict[str, Any]:
    """The Bot method's keyword arguments for a validated params model."""
    kwargs = params.model_dump(exclude={"instance_id"})
    for name in _CHAT_FIELDS:
        if name in kwargs:
            kwargs[name] = chat_ref(kwargs[name], name)
    for name in _INT_FIELDS:
        if kwargs.get(name) is not None:
            kwargs[name] = to_int(kwargs[name], name)
    for name in _FILE_FIELDS:
        if name in kwargs:
            kwargs[name] = url_or_file_id(kwargs[name], name)
    if (reply_to := kwargs.pop("reply_to_message_id", None)) is not None:
        kwargs["reply_parameters"] = ReplyParameters(
            message_id=to_int(reply_to, "reply_to_message_id"), allow_sending_without_reply=True
        )
    for duration, moment in (("duration_seconds", "until_date"), ("expire_seconds", "expire_date")):
        if duration in kwargs:
            seconds = kwargs.pop(duration)
            kwargs[moment] = None if seconds is None else seconds_from_now(seconds)
    if "buttons" in kwargs:
        kwargs.pop("buttons")
        kwargs["reply_markup"] = keyboard(params.buttons)  # type: ignore[attr-defined]  # the models with "buttons"
    if kwargs.pop("disable_web_page_preview", False):
        kwargs["link_preview_options"] = LinkPreviewOptions(is_disabled=True)
    if "reaction" in kwargs:
        kwargs["reaction"] = [ReactionTypeEmoji(emoji=emoji) for emoji in kwargs["reaction"]]
    return kwargs


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def result_of(value: Any) -> dict[str, Any]:
    """A JSON-able node output; ids as strings, like the trigger's."""
    if isinstance(value, Message):
        out: dict[str, Any] = {
            "message_id": str(value.message_id),
            "chat_id": str(value.chat.id),
            "date": _iso(value.date),
        }
        if value.poll is not None:
            out["poll_id"] = value.poll.id
            out["options"] = [option.text for option in value.poll.options]
        return out
    if isinstance(value, MessageId):
        return {"message_id": str(value.message_id)}
    if isinstance(value, ChatInviteLink):
        return {
            "invite_link": value.invite_link,
            "name": value.name,
            "expire_date": _iso(value.expire_date),
            "member_limit": value.member_limit,
            "creates_join_request": value.creates_join_request,
        }
    if isinstance(value, bool):
        return {"ok": value}
    raise TypeError(f"unexpected Bot API result {type(value).__name__}")


def _handler(action: str) -> Callable[[Bot, BaseModel], Awaitable[dict[str, Any]]]:
    method, fixed = METHODS[action], _FIXED.get(action, {})

    async def run(bot: Bot, params: BaseModel) -> dict[str, Any]:
        return result_of(await getattr(bot, method)(**bot_kwargs(params), **fixed))

    run.__name__ = action
    return run


def _register_all() -> None:
    """One handler per declared tg_* action node (a node without a Bot method fails here),
    and the pool's chat discovery actions."""
    declared = declared_actions(NodePlatform.telegram_bot)
    if missing := declared - METHODS.keys():
        raise RuntimeError(f"tg actions without a Bot method: {sorted(missing)}")
    for action in sorted(declared):
        ACTIONS.action(*node_action(f"tg_{action}"))(_handler(action))
    ACTIONS.action(LIST_MEMBERS, ListMembersParams)(discovery.list_members)
    ACTIONS.action(LIST_CHATS, ListChatsParams)(discovery.list_chats)


_register_all()

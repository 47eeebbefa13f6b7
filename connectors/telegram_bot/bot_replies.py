"""Send what the bot's configuration answers (:class:`engine.bot_config.answers.Reply`)
through aiogram: a message, a photo/video/document with a caption, or the clicked menu
message edited in place; a button press is always acknowledged (``answerCallbackQuery``)
so the member's spinner stops.

A failure is logged with the instance id and dropped: one refused answer must not stop the
connector from reading the next update, and flows still see the update.
"""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from aiohttp import ClientError

from engine.bot_config.answers import Reply, ReplyButton, localized
from engine.bot_config.document import MediaKind, ReplyMode
from engine.message_format import TELEGRAM_CAPTION_LIMIT, render

log = logging.getLogger(__name__)

# Said in the chat when a DM answer cannot reach a member who never opened the bot.
START_THE_BOT = {
    "en": "{member}, I can only answer you privately once you have started a chat with me: "
    "open @{bot} and press Start, then ask again.",
    "de": "{member}, ich kann dir erst privat antworten, wenn du einen Chat mit mir begonnen "
    "hast: öffne @{bot}, tippe auf Starten und frag dann noch einmal.",
    "fr": "{member}, je ne peux vous répondre en privé qu'après que vous avez ouvert une "
    "conversation avec moi : ouvrez @{bot}, appuyez sur Démarrer, puis redemandez.",
    "es": "{member}, solo puedo responderte en privado cuando hayas iniciado un chat conmigo: "
    "abre @{bot}, pulsa Iniciar y vuelve a preguntar.",
}
_SEND_MEDIA = {
    MediaKind.photo: ("send_photo", "photo"),
    MediaKind.video: ("send_video", "video"),
    MediaKind.document: ("send_document", "document"),
}
_FAILURES = (TelegramAPIError, ClientError, TimeoutError)


@dataclass(frozen=True)
class Origin:
    """Where an update happened, as far as answering it goes."""

    chat_id: int
    chat_type: str
    message_id: int | None = None  # the member's message, or the clicked bot message
    topic_id: int | None = None  # the forum topic the message is in
    user_id: int | None = None
    user_name: str = ""
    callback_query_id: str | None = None


def origin_of(update: Update) -> Origin | None:
    """The chat, message and member of a message or a button press; None for other updates."""
    query = update.callback_query
    if query is not None:
        message = query.message
        if message is None:  # a button under an inline-mode message: nothing to answer in
            return None
        return Origin(
            chat_id=message.chat.id,
            chat_type=str(message.chat.type),
            message_id=message.message_id,
            topic_id=_topic_of(message),
            user_id=query.from_user.id,
            user_name=query.from_user.full_name,
            callback_query_id=query.id,
        )
    message = update.message
    if message is None:
        return None
    user = message.from_user
    return Origin(
        chat_id=message.chat.id,
        chat_type=str(message.chat.type),
        message_id=message.message_id,
        topic_id=_topic_of(message),
        user_id=user.id if user else None,
        user_name=user.full_name if user else "",
    )


def _topic_of(message: Any) -> int | None:
    """A forum topic's id (an inaccessible message carries none; a reply thread in a
    plain supergroup is not a topic)."""
    return message.message_thread_id if getattr(message, "is_topic_message", False) else None


def keyboard(rows: list[list[ReplyButton]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(text=b.label, callback_data=b.data)
                for b in row
            ]
            for row in rows
        ]
    )


class BotReplies:
    """Sends one bot's answers; owns the timers that delete answers after a while."""

    def __init__(self, bot: Bot, instance_id: int) -> None:
        self.bot = bot
        self.instance_id = instance_id
        self.username = ""  # the bot's, for the "start the bot" notice
        self._deletions: set[asyncio.Task[None]] = set()

    async def answer(self, reply: Reply | None, origin: Origin) -> None:
        """Send ``reply`` (None: nothing to say) and acknowledge the button press, if any."""
        try:
            if reply is not None:
                await self._deliver(reply, origin)
        except _FAILURES as error:
            self._log_failure("answer", reply.source if reply else "", error)
        finally:
            if origin.callback_query_id is not None:
                await self._acknowledge(origin.callback_query_id)

    async def close(self) -> None:
        """Cancel pending deletions (the connector stops; the messages stay)."""
        pending, self._deletions = self._deletions, set()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- sending ----------------------------------------------------------------------------

    async def _deliver(self, reply: Reply, origin: Origin) -> None:
        if not reply.text.strip() and reply.media is None:
            return  # a flow-start button: the flow speaks for itself
        text = render(reply.text, "telegram")
        if reply.edit and origin.callback_query_id and await self._edited(reply, text, origin):
            return
        if reply.mode is ReplyMode.dm and origin.chat_type != "private":
            await self._direct(reply, text, origin)
            return
        sent = await self._send(reply, text, origin.chat_id, **self._placement(reply, origin))
        self._delete_later(sent, reply.delete_after_seconds)

    def _placement(self, reply: Reply, origin: Origin) -> dict[str, Any]:
        """Quote the message (reply), join its topic (chat, thread), or neither."""
        quote = ReplyParameters(message_id=origin.message_id, allow_sending_without_reply=True)
        if reply.mode is ReplyMode.reply and origin.message_id and not origin.callback_query_id:
            return {"reply_parameters": quote}
        if origin.topic_id is not None:
            return {"message_thread_id": origin.topic_id}
        if reply.mode is ReplyMode.thread and origin.message_id and not origin.callback_query_id:
            return {"reply_parameters": quote}  # no topics here: the nearest thing is a reply
        return {}

    async def _send(self, reply: Reply, text: str, chat_id: int, **where: Any) -> Message:
        """The text, or the media with the text as caption (after the media when too long
        for one); the buttons go under the last message."""
        markup = keyboard(reply.buttons)
        if reply.media is None:
            return await self.bot.send_message(
                chat_id, text, parse_mode="HTML", reply_markup=markup, **where
            )
        method, field = _SEND_MEDIA[reply.media.kind]
        send_media = getattr(self.bot, method)
        if len(render(reply.text, "plain")) <= TELEGRAM_CAPTION_LIMIT:
            sent: Message = await send_media(
                chat_id, reply.media.url, caption=text or None, parse_mode="HTML",
                reply_markup=markup, **where,
            )  # fmt: skip
            return sent
        await send_media(chat_id, reply.media.url, **where)
        where.pop("reply_parameters", None)
        return await self.bot.send_message(
            chat_id, text, parse_mode="HTML", reply_markup=markup, **where
        )

    async def _edited(self, reply: Reply, text: str, origin: Origin) -> bool:
        """Show the menu in the clicked message; False when that message cannot take text
        (a photo's caption), so the menu is sent as a new message instead."""
        try:
            await self.bot.edit_message_text(
                text=text, chat_id=origin.chat_id, message_id=origin.message_id,
                parse_mode="HTML", reply_markup=keyboard(reply.buttons),
            )  # fmt: skip
        except TelegramBadRequest as error:
            if "message is not modified" in error.message:
                return True  # pressed twice: it already shows this menu
            log.info("instance %s: menu sent anew: %s", self.instance_id, error.message)
            return False
        return True

    async def _direct(self, reply: Reply, text: str, origin: Origin) -> None:
        """A private answer; a member who never started the bot is told so in the chat."""
        if origin.user_id is None:
            return
        try:
            sent = await self._send(reply, text, origin.user_id)
        except TelegramForbiddenError:
            await self._ask_to_start(reply.language, origin)
            return
        self._delete_later(sent, reply.delete_after_seconds)

    async def _ask_to_start(self, language: str, origin: Origin) -> None:
        mention = f'<a href="tg://user?id={origin.user_id}">{html.escape(origin.user_name)}</a>'
        notice = localized(START_THE_BOT, language, "en")
        text = notice.format(member=mention, bot=html.escape(self.username))
        markup = None
        if self.username:
            open_bot = InlineKeyboardButton(
                text=f"@{self.username}", url=f"https://t.me/{self.username}"
            )
            markup = InlineKeyboardMarkup(inline_keyboard=[[open_bot]])
        await self.bot.send_message(
            origin.chat_id,
            text,
            parse_mode="HTML",
            reply_markup=markup,
            message_thread_id=origin.topic_id,
        )

    async def _acknowledge(self, callback_query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(callback_query_id)
        except _FAILURES as error:
            self._log_failure("answerCallbackQuery", "", error)

    # -- deleting later ---------------------------------------------------------------------

    def _delete_later(self, message: Message, seconds: int | None) -> None:
        if not seconds:
            return
        task = asyncio.create_task(self._delete(message.chat.id, message.message_id, seconds))
        self._deletions.add(task)
        task.add_done_callback(self._deletions.discard)

    async def _delete(self, chat_id: int, message_id: int, seconds: int) -> None:
        await asyncio.sleep(seconds)
        try:
            await self.bot.delete_message(chat_id, message_id)
        except _FAILURES as error:  # deleted by hand already, or the chat is gone
            self._log_failure("deletion", f"message {message_id}", error)

    def _log_failure(self, what: str, source: str, error: BaseException) -> None:
        """Logged with the instance id; aiogram's messages carry no token (the method name
        and Telegram's description only)."""
        detail = error.message if isinstance(error, TelegramAPIError) else type(error).__name__
        log.warning(
            "instance %s: Telegram did not take the bot's %s%s: %s",
            self.instance_id, what, f" ({source})" if source else "", detail,
        )  # fmt: skip

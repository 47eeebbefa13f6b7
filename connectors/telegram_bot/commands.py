"""Push the bot's live commands to Telegram: ``setMyCommands`` per scope and language.

Each scope (all chats, private chats, groups, group admins, one chat) gets the default
language's list without a language code, which everyone whose language has no list of its
own sees, plus one list per other language of the bot. A (scope, language) pair pushed before
(by this connector, or by any version before it started) and now empty is deleted. Only what
changed since the last push is sent again, so the connector may call
:meth:`CommandSync.sync` as often as it likes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BotCommandScopeUnion,
)
from pydantic import ValidationError
from sqlmodel import Session, select

from engine import db
from engine.bot_config.answers import localized
from engine.bot_config.document import BotConfigDocument, ScopeKind
from engine.models.botconfig import BotConfigVersion

log = logging.getLogger(__name__)

DESCRIPTION_LIMIT = 256
# (scope kind, chat id for the "chat" scope), language code or None for the default list.
ListKey = tuple[tuple[ScopeKind, str], str | None]
CommandLists = dict[ListKey, list[tuple[str, str]]]  # → [(command, description)] in order


def command_lists(document: BotConfigDocument) -> CommandLists:
    """The enabled commands, grouped by Telegram scope and language (Discord's guild scope
    is not Telegram's)."""
    others = [lang for lang in document.languages if lang != document.default_language]
    lists: CommandLists = {}
    for command in document.commands:
        scope = command.scope
        if not command.enabled or scope.kind is ScopeKind.guild:
            continue
        where = (scope.kind, scope.target_id if scope.kind is ScopeKind.chat else "")
        name = command.name.lstrip("/").lower()
        for language in [None, *others]:
            wanted = language or document.default_language
            text = localized(command.description, wanted, document.default_language) or name
            lists.setdefault((where, language), []).append((name, text[:DESCRIPTION_LIMIT]))
    return lists


def telegram_scope(kind: ScopeKind, chat_id: str) -> BotCommandScopeUnion:
    if kind is ScopeKind.private:
        return BotCommandScopeAllPrivateChats()
    if kind is ScopeKind.groups:
        return BotCommandScopeAllGroupChats()
    if kind is ScopeKind.group_admins:
        return BotCommandScopeAllChatAdministrators()
    if kind is ScopeKind.chat:
        return BotCommandScopeChat(
            chat_id=int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        )
    return BotCommandScopeDefault()


def published_lists(instance_id: int) -> set[ListKey]:
    """Every (scope, language) some published version of the bot offered commands in."""
    with Session(db.get_engine()) as session:
        documents = session.exec(
            select(BotConfigVersion.document).where(BotConfigVersion.bot_instance_id == instance_id)
        ).all()
    keys: set[ListKey] = set()
    for document in documents:
        with contextlib.suppress(ValidationError):  # a version the schema no longer reads
            keys.update(command_lists(BotConfigDocument.model_validate(document)))
    return keys


class CommandSync:
    """Remembers what it pushed for one bot so repeated syncs only send changes."""

    def __init__(self, bot: Bot, instance_id: int) -> None:
        self.bot = bot
        self.instance_id = instance_id
        # What Telegram shows, as far as this connector knows: None until the first sync,
        # which takes every list earlier versions may have pushed (before a restart) as
        # there with unknown commands, so the ones the live version empties are deleted.
        self._pushed: dict[ListKey, list[tuple[str, str]] | None] | None = None
        # One sync at a time: two publishes close together (a version, then a rollback)
        # reload at once, and interleaved syncs both deleted the same list (a KeyError that
        # left the rest unsent) or pushed from a stale view of what Telegram shows.
        self._one_at_a_time = asyncio.Lock()

    async def sync(self, document: BotConfigDocument | None) -> bool:
        """Bring Telegram's command menus in line with ``document`` (the live version; None:
        nothing was ever published, so leave Telegram as it is); True if anything was sent.

        A list Telegram refuses (a chat the bot is not in) is logged and set again at the
        next sync; an unreachable Telegram raises, for the connector to be restarted."""
        if document is None:
            return False
        async with self._one_at_a_time:
            return await self._sync(document)

    async def _sync(self, document: BotConfigDocument) -> bool:
        if self._pushed is None:
            earlier = await asyncio.to_thread(published_lists, self.instance_id)
            self._pushed = dict.fromkeys(earlier)
        pushed = self._pushed
        wanted = command_lists(document)
        sent = False
        for key in [key for key in pushed if key not in wanted]:
            (kind, chat_id), language = key
            call = self.bot.delete_my_commands(
                scope=telegram_scope(kind, chat_id), language_code=language
            )
            sent = not await self._refused(call, key) or sent
            del pushed[key]  # refused: a chat the bot left, with no menu left to empty
        for key, commands in wanted.items():
            if pushed.get(key) == commands:
                continue
            (kind, chat_id), language = key
            listed = [BotCommand(command=name, description=text) for name, text in commands]
            call = self.bot.set_my_commands(
                listed, scope=telegram_scope(kind, chat_id), language_code=language
            )
            if await self._refused(call, key):
                continue
            pushed[key] = commands
            sent = True
        return sent

    async def _refused(self, call: Awaitable[Any], key: ListKey) -> bool:
        """Await ``call``; True (logged) when Telegram refused it."""
        try:
            await call
        except (TelegramBadRequest, TelegramForbiddenError) as error:
            (kind, chat_id), language = key
            log.warning(
                "instance %s: Telegram refused the %s commands (%s%s): %s",
                self.instance_id, language or "default", kind.value,
                f" {chat_id}" if chat_id else "", error.message,
            )  # fmt: skip
            return True
        return False

"""Push the instance's BotCommand rows to Telegram (``setMyCommands``), per language.

The default language's commands are also set without a language code, so people
whose language has no translation see them. Only what changed since the last push
is sent again, so the connector may call :meth:`CommandSync.sync` as often as it likes.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from aiogram import Bot
from aiogram.types import BotCommand as TgCommand
from sqlmodel import select

from engine.db import session_scope
from engine.models.botconfig import BotCommand
from engine.models.connections import BotInstance

# Language code (None: the default list) → [(command, description)] in menu order.
CommandSets = dict[str | None, list[tuple[str, str]]]


def load_command_sets(instance_id: int) -> CommandSets:
    """The enabled commands of one instance, grouped as Telegram wants them."""
    with session_scope() as session:
        instance = session.get(BotInstance, instance_id)
        default = instance.default_language if instance else "en"
        rows = session.exec(
            select(BotCommand)
            .where(BotCommand.bot_instance_id == instance_id, BotCommand.is_enabled)
            .order_by(BotCommand.sort_order, BotCommand.command)
        ).all()
    sets: CommandSets = defaultdict(list)
    for row in rows:
        entry = (row.command.lstrip("/").lower(), row.description or row.command)
        sets[row.language].append(entry)
        if row.language == default:
            sets[None].append(entry)
    return dict(sets)


class CommandSync:
    """Remembers what it pushed for one bot so repeated syncs only send changes."""

    def __init__(self, bot: Bot, instance_id: int) -> None:
        self.bot = bot
        self.instance_id = instance_id
        self._pushed: CommandSets = {}

    async def sync(self) -> bool:
        """Bring Telegram's command menus in line with the database; True if anything changed."""
        wanted = await asyncio.to_thread(load_command_sets, self.instance_id)
        changed = False
        for language in [lang for lang in self._pushed if lang not in wanted]:
            await self.bot.delete_my_commands(language_code=language)
            del self._pushed[language]
            changed = True
        for language, commands in wanted.items():
            if self._pushed.get(language) == commands:
                continue
            await self.bot.set_my_commands(
                [TgCommand(command=name, description=text) for name, text in commands],
                language_code=language,
            )
            self._pushed[language] = commands
            changed = True
        return changed

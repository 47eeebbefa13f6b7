"""Push the bot's live commands to Telegram (``setMyCommands``), per language.

The default language's commands are also set without a language code, so people
whose language has no translation see them. Only what changed since the last push
is sent again, so the connector may call :meth:`CommandSync.sync` as often as it likes.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from aiogram import Bot
from aiogram.types import BotCommand as TgCommand

from connectors.kit.bot_answers import live_version

# Language code (None: the default list) → [(command, description)] in menu order.
CommandSets = dict[str | None, list[tuple[str, str]]]


def load_command_sets(instance_id: int) -> CommandSets:
    """The enabled commands of the live configuration, grouped as Telegram wants them."""
    live = live_version(instance_id)
    if live is None:
        return {}
    document = live[1]
    sets: CommandSets = defaultdict(list)
    for command in (c for c in document.commands if c.enabled):
        for language, text in command.description.items():
            entry = (command.name.lower(), text or command.name)
            sets[language].append(entry)
            if language == document.default_language:
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

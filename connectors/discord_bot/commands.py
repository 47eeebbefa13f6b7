"""Slash command registration from the bot's live configuration.

Discord keeps one command list per application (global) and one per guild; each is replaced
whole by a bulk overwrite. The registry remembers the JSON it last pushed per target, so a
reload that changes nothing sends nothing, and a guild whose commands were all removed gets
an empty overwrite instead of keeping them for ever.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import hikari
from sqlmodel import Session, select

from engine import db
from engine.bot_config.answers import localized
from engine.bot_config.document import (
    BotConfigDocument,
    Command,
    CommandOption,
    Localized,
    OptionType,
    ScopeKind,
)
from engine.models.botconfig import BotConfigVersion

log = logging.getLogger(__name__)

Target = str | None  # a guild id; None is the global list
Payload = list[dict[str, Any]]

OPTION_TYPES = {
    OptionType.string: hikari.OptionType.STRING,
    OptionType.integer: hikari.OptionType.INTEGER,
    OptionType.number: hikari.OptionType.FLOAT,
    OptionType.boolean: hikari.OptionType.BOOLEAN,
    OptionType.user: hikari.OptionType.USER,
    OptionType.channel: hikari.OptionType.CHANNEL,
    OptionType.role: hikari.OptionType.ROLE,
}
DESCRIPTION_LIMIT = 100
CHOICE_NAME_LIMIT = 100


def locales_of(language: str) -> list[hikari.Locale]:
    """The Discord locales a configured language covers: ``de`` → de, ``en`` → en-GB and
    en-US, ``pt`` → pt-BR; a regional code (``en-GB``) only its own locale."""
    exact = [loc for loc in hikari.Locale if loc.value.lower() == language.lower()]
    if exact or "-" in language:
        return exact
    return [loc for loc in hikari.Locale if loc.value.split("-")[0] == language.lower()]


def localizations(texts: Localized, default_language: str, limit: int) -> dict[str, str]:
    """Discord's ``*_localizations`` map: every language but the default, by locale; a
    regional text (``en-GB``) wins over its base language's (``en``) for that locale."""
    found: dict[str, str] = {}
    for language in sorted(texts, key=lambda code: "-" in code):
        text = texts[language]
        if language == default_language or not text:
            continue
        for locale in locales_of(language):
            found[locale.value] = text[:limit]
    return found


def target_of(command: Command) -> Target:
    """Guild-scoped commands go to their guild; a Telegram-only scope (which publishing
    refuses for Discord, but an older version may hold) is global."""
    if command.scope.kind is ScopeKind.guild and command.scope.target_id:
        return command.scope.target_id
    return None


def _text(texts: Localized, default_language: str, fallback: str, limit: int) -> str:
    return (localized(texts, default_language, default_language) or fallback)[:limit]


def _choice_value(option_type: OptionType, value: str) -> str | int | float | None:
    try:
        if option_type is OptionType.integer:
            return int(value)
        if option_type is OptionType.number:
            return float(value)
    except ValueError:
        return None
    return value


def build_option(option: CommandOption, default_language: str) -> hikari.CommandOption:
    choices = []
    for choice in option.choices:
        value = _choice_value(option.type, choice.value)
        if value is None:
            log.warning(
                "choice %r of option %s is not a %s", choice.value, option.name, option.type
            )
            continue
        choices.append(
            hikari.CommandChoice(
                name=_text(choice.name, default_language, choice.value, CHOICE_NAME_LIMIT),
                name_localizations=localizations(choice.name, default_language, CHOICE_NAME_LIMIT),
                value=value,
            )
        )
    return hikari.CommandOption(
        type=OPTION_TYPES[option.type],
        name=option.name.lower(),
        description=_text(option.description, default_language, option.name, DESCRIPTION_LIMIT),
        description_localizations=localizations(
            option.description, default_language, DESCRIPTION_LIMIT
        ),
        is_required=option.required,
        choices=choices or None,
    )


def build_command(
    rest: hikari.api.RESTClient, command: Command, default_language: str
) -> hikari.api.SlashCommandBuilder:
    name = command.name.strip().lstrip("/").lower()
    builder = rest.slash_command_builder(
        name, _text(command.description, default_language, name, DESCRIPTION_LIMIT)
    )
    builder.set_description_localizations(
        localizations(command.description, default_language, DESCRIPTION_LIMIT)
    )
    # Discord refuses an optional option before a required one.
    for option in sorted(command.options, key=lambda o: not o.required):
        builder.add_option(build_option(option, default_language))
    return builder


def builders_by_target(
    rest: hikari.api.RESTClient, document: BotConfigDocument
) -> dict[Target, list[hikari.api.SlashCommandBuilder]]:
    """The enabled commands per target; the global list is always there (maybe empty)."""
    wanted: dict[Target, list[hikari.api.SlashCommandBuilder]] = {None: []}
    for command in (c for c in document.commands if c.enabled):
        target = target_of(command)
        if target is not None and not target.isdigit():
            log.warning("command %s skipped: guild id %r is not a number", command.name, target)
            continue
        builder = build_command(rest, command, document.default_language)
        wanted.setdefault(target, []).append(builder)
    return wanted


def guilds_ever_configured(instance_id: int) -> set[str]:
    """Guilds any published version registered commands in: after a restart the registry
    has no memory, and one of them may still hold commands the live version dropped."""
    with Session(db.get_engine()) as session:
        documents = session.exec(
            select(BotConfigVersion.document).where(BotConfigVersion.bot_instance_id == instance_id)
        ).all()
    guilds: set[str] = set()
    for document in documents:
        for command in (document or {}).get("commands", []):
            scope = command.get("scope") or {}
            if scope.get("kind") == ScopeKind.guild and scope.get("target_id"):
                guilds.add(str(scope["target_id"]))
    return guilds


class CommandRegistry:
    """What this connector pushed to Discord, per target, since it started."""

    def __init__(self, rest: hikari.api.RESTClient, entity_factory: Any, instance_id: int) -> None:
        self._rest = rest
        self._entity_factory = entity_factory
        self._instance_id = instance_id
        self._application: hikari.Snowflake | None = None
        self._pushed: dict[Target, Payload] = {}
        self._guilds: set[str] | None = None  # may hold our commands; None: not looked up
        self._lock = asyncio.Lock()  # a publish during the start-up sync waits for it

    async def sync(self, document: BotConfigDocument) -> list[Target]:
        """Bulk-overwrite every target whose commands changed, and empty the guilds that
        had commands and have none now. Returns the targets written; one Discord refuses
        is logged and tried again at the next sync."""
        async with self._lock:
            return await self._sync(document)

    async def _sync(self, document: BotConfigDocument) -> list[Target]:
        if self._guilds is None:
            self._guilds = await asyncio.to_thread(guilds_ever_configured, self._instance_id)
        wanted = builders_by_target(self._rest, document)
        self._guilds |= {target for target in wanted if target is not None}
        for guild in self._guilds:
            wanted.setdefault(guild, [])
        written = []
        for target, builders in wanted.items():
            payload = [dict(builder.build(self._entity_factory)) for builder in builders]
            if self._pushed.get(target) == payload:
                continue
            if await self._overwrite(target, builders):
                self._pushed[target] = payload
                written.append(target)
        return written

    async def _overwrite(self, target: Target, builders: list[Any]) -> bool:
        try:
            if self._application is None:
                self._application = (await self._rest.fetch_application()).id
            await self._rest.set_application_commands(
                self._application, builders, hikari.UNDEFINED if target is None else int(target)
            )
        except hikari.HikariError as error:
            where = f"guild {target}" if target else "global"
            log.error("%s slash commands not registered: %s", where, describe(error))
            return False
        return True


def describe(error: hikari.HikariError) -> str:
    """What went wrong, for the log: status, Discord's message and field errors, never the
    URL (an interaction's holds its token)."""
    if not isinstance(error, hikari.HTTPResponseError):
        return type(error).__name__
    errors = getattr(error, "errors", None)  # only some subclasses carry field errors
    details = f" {errors}" if errors else ""
    return f"{error.status} {error.message}{details}"

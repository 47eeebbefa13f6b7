"""The Discord bot connector: one hikari GatewayBot per instance.

Gateway events go through the mapper to ``emit``; actions run on ``bot.rest``. On start the
bot's live slash commands are registered with Discord, and button clicks
no flow answered in time are acknowledged so Discord does not show "interaction failed".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import hikari

from connectors.discord_bot import discovery, mapper
from connectors.discord_bot.actions import actions, execute_action
from connectors.kit.bot_answers import live_version
from connectors.kit.connector import Connector, EmitEvent, InstanceConfig, ReportStatus
from connectors.kit.errors import CredentialRejected

log = logging.getLogger(__name__)

# What the dc_* triggers need. GUILD_MEMBERS and MESSAGE_CONTENT are privileged: they must be
# switched on for the bot in the Discord developer portal (settings.privileged_intents=false
# runs without them: no member triggers, and message text only where the bot is mentioned).
BASE_INTENTS = (
    hikari.Intents.GUILDS
    | hikari.Intents.GUILD_MESSAGES
    | hikari.Intents.GUILD_MESSAGE_REACTIONS
    | hikari.Intents.DM_MESSAGES
    | hikari.Intents.DM_MESSAGE_REACTIONS
)
PRIVILEGED_INTENTS = hikari.Intents.MESSAGE_CONTENT | hikari.Intents.GUILD_MEMBERS
# Discord wants an answer to a click within 3 s; a flow that answers sooner wins.
BUTTON_ACK_DELAY = 2.0


@dataclass
class CommandSpec:
    """One slash command with its descriptions per language."""

    name: str
    description: str
    localizations: dict[str, str] = field(default_factory=dict)


def load_commands(instance_id: int) -> list[CommandSpec]:
    """The live configuration's enabled commands, described in the default language."""
    live = live_version(instance_id)
    if live is None:
        return []
    document = live[1]
    specs = []
    for command in (c for c in document.commands if c.enabled):
        texts = command.description
        default = texts.get(document.default_language) or next(iter(texts.values()), "")
        others = {lang: t for lang, t in texts.items() if lang != document.default_language}
        specs.append(CommandSpec(command.name.lower(), default or command.name, others))
    return specs


def _locale(language: str) -> hikari.Locale | None:
    """``de`` → Locale.DE, ``pt`` → Locale.PT_BR: Discord knows only its own locale list."""
    for locale in hikari.Locale:
        if locale.value.lower() == language.lower():
            return locale
    return next((loc for loc in hikari.Locale if loc.value.split("-")[0] == language), None)


def command_builders(rest: hikari.api.RESTClient, specs: list[CommandSpec]) -> list[Any]:
    builders = []
    for spec in specs:
        builder = rest.slash_command_builder(spec.name, spec.description[:100] or spec.name)
        localized = {
            locale: text[:100]
            for language, text in spec.localizations.items()
            if text and (locale := _locale(language)) is not None
        }
        if localized:
            builder.set_description_localizations(localized)
        builders.append(builder)
    return builders


class DiscordBotConnector(Connector):
    kind = "discord_bot"
    actions = actions

    def __init__(self, config: InstanceConfig, emit: EmitEvent, report: ReportStatus) -> None:
        super().__init__(config, emit, report)
        if not config.credential:
            raise ValueError("a Discord bot needs its token")
        intents = BASE_INTENTS
        if config.settings.get("privileged_intents", True):
            intents |= PRIVILEGED_INTENTS
        self.bot = hikari.GatewayBot(
            config.credential,
            rest_url=config.api_base_url,
            intents=intents,
            banner=None,
            logs=None,
            suppress_optimization_warning=True,
        )
        self._answered: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        for event_type in mapper.SUBSCRIBED:
            self.bot.subscribe(event_type, self._on_event)
        for event_type in discovery.SUBSCRIBED:
            self.bot.subscribe(event_type, self._on_discovery)

    @property
    def client(self) -> hikari.api.RESTClient:
        return self.bot.rest

    async def run(self) -> None:
        await self.report("connecting", "connecting to Discord", {})
        try:
            await self.bot.start(check_for_updates=False)
        except hikari.UnauthorizedError:
            raise CredentialRejected("Discord rejected the bot token") from None
        try:
            me = self.bot.get_me()
            details = {"bot_id": str(me.id), "username": me.username} if me else {}
            await self.report("connected", "connected to Discord", details)
            await self.sync_commands()
            await self.bot.join()
        finally:
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await self.bot.close()

    async def sync_commands(self) -> list[str]:
        """Register the live configuration's slash commands (global)."""
        specs = await asyncio.to_thread(load_commands, self.config.instance_id)
        application = await self.bot.rest.fetch_application()
        await self.bot.rest.set_application_commands(
            application.id, command_builders(self.bot.rest, specs)
        )
        return [spec.name for spec in specs]

    async def execute(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if action == "respond_interaction" and params.get("interaction_id"):
            self._answered.add(str(params["interaction_id"]))
        return await execute_action(self.bot.rest, action, params)

    async def _on_event(self, event: hikari.Event) -> None:
        if self._is_own(event):
            return
        mapped = mapper.map_event(event, self.config.instance_id)
        if mapped is None:
            return
        if mapped.kind == "dc_button_click":
            assert isinstance(event, hikari.InteractionCreateEvent)
            self._spawn(self._ack_later(event.interaction))  # type: ignore[arg-type]
        await self.emit(mapped)

    async def _on_discovery(self, event: hikari.Event) -> None:
        me = self.bot.get_me()
        for seen in discovery.map_discovery(event, self.config.instance_id, me.id if me else None):
            await self.emit(seen)

    def _is_own(self, event: hikari.Event) -> bool:
        """The bot's own messages start no flow: a reply would otherwise trigger itself."""
        me = self.bot.get_me()
        return (
            me is not None
            and isinstance(event, hikari.MessageCreateEvent)
            and event.author_id == me.id
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ack_later(self, interaction: hikari.ComponentInteraction) -> None:
        """Acknowledge a click with a deferred update unless a flow answered it meanwhile."""
        await asyncio.sleep(float(self.config.settings.get("button_ack_delay", BUTTON_ACK_DELAY)))
        key = str(interaction.id)
        if key in self._answered:
            self._answered.discard(key)
            return
        try:
            await interaction.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)
        except hikari.HTTPResponseError as error:  # answered after all, or expired
            log.debug("button click %s not acknowledged: %s", key, error.status)

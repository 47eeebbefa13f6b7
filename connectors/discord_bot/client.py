"""The Discord bot connector: one hikari GatewayBot per instance.

Gateway events go through the mapper to ``emit``; actions run on ``bot.rest``. The bot's
published configuration answers commands, menu buttons and keywords right here (no flow
execution) and its slash commands are registered with Discord, on start and on every
publish (:meth:`DiscordBotConnector.reload_bot_config`). Button clicks nobody answered in
time are acknowledged so Discord does not show "interaction failed".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import hikari

from connectors.discord_bot import bot_replies, discovery, mapper
from connectors.discord_bot.actions import actions, execute_action
from connectors.discord_bot.commands import CommandRegistry, describe
from connectors.kit.bot_answers import BotAnswers
from connectors.kit.connector import Connector, EmitEvent, InstanceConfig, ReportStatus
from connectors.kit.errors import CredentialRejected
from engine.platform_event import PlatformEvent

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
        self.bot_answers = BotAnswers(config.instance_id, "discord")
        self.command_registry = CommandRegistry(
            self.bot.rest, self.bot.entity_factory, config.instance_id
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
        await self.bot_answers.reload()
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

    async def sync_commands(self) -> None:
        """Register the live configuration's slash commands where they changed (global and
        per guild); without a published configuration Discord is left as it is."""
        document = self.bot_answers.document
        if document is None:
            return
        written = await self.command_registry.sync(document)
        if written:
            where = ", ".join(f"guild {target}" if target else "global" for target in written)
            log.info("instance %s: slash commands registered (%s)", self.config.instance_id, where)

    async def reload_bot_config(self) -> None:
        """A new version was published: answer with it from the next event on, and push
        its commands."""
        await self.bot_answers.reload()
        await self.sync_commands()

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
            self._spawn(self._ack_later(event.interaction))  # type: ignore[arg-type]  # a click
        if not (mapped.user and mapped.user.is_bot):  # two bots must not answer each other
            self._spawn(self._answer(event, mapped))
        await self.emit(mapped)

    async def _answer(self, event: hikari.Event, mapped: PlatformEvent) -> None:
        """The configured answer, if any; a failure is logged and costs only this answer."""
        interaction = getattr(event, "interaction", None)
        clicked = isinstance(interaction, hikari.ComponentInteraction)
        try:
            reply = await self.bot_answers.respond(mapped)
            if reply is None or not bot_replies.has_content(reply):
                return
            rest = self.bot.rest
            if isinstance(interaction, hikari.CommandInteraction | hikari.ComponentInteraction):
                if clicked:  # answered: no deferred acknowledgement after it
                    self._answered.add(str(interaction.id))
                await bot_replies.answer_interaction(rest, interaction, reply, self._spawn)
            elif isinstance(event, hikari.MessageCreateEvent):
                await bot_replies.answer_message(rest, event.message, reply, self._spawn)
        except hikari.HikariError as error:
            if clicked and interaction is not None:  # the deferred acknowledgement still
                self._answered.discard(str(interaction.id))  # spares "interaction failed"
            log.error("bot answer to %s not sent: %s", mapped.kind, describe(error))
        except Exception:
            log.exception("bot answer to %s failed", mapped.kind)

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

"""The Discord bot connector: one hikari GatewayBot per instance.

Gateway events go through the mapper to ``emit``; actions run on ``bot.rest``. The bot's
published configuration answers commands, menu buttons and keywords right here (no flow
execution) and its slash commands are registered with Discord, on start and on every
publish (:meth:`DiscordBotConnector.reload_bot_config`). Slash commands and button clicks
nobody answered in time are acknowledged so Discord does not show "The application did not
respond"; a flow's answer after that edits the acknowledgement (see
:mod:`connectors.discord_bot.interactions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import hikari

from connectors.discord_bot import bot_replies, discovery, mapper
from connectors.discord_bot.actions import actions, execute_action, respond_late
from connectors.discord_bot.commands import CommandRegistry, describe
from connectors.discord_bot.interactions import Interaction, Interactions, initial_sent
from connectors.kit.bot_answers import BotAnswers
from connectors.kit.connector import Connector, EmitEvent, InstanceConfig, ReportStatus
from connectors.kit.errors import CredentialRejected
from engine.bot_config.answers import Reply
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
# Discord wants an answer to an interaction within 3 s; a flow that answers sooner wins.
BUTTON_ACK_DELAY = 2.0
COMMAND_ACK_DELAY = 2.0
# A "thinking…" message nobody answered is deleted before the token expires at 15 minutes.
COMMAND_ANSWER_TIMEOUT = 14 * 60.0
Interactive = hikari.CommandInteraction | hikari.ComponentInteraction
T = TypeVar("T")


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
        self.interactions = Interactions()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
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
            for timer in list(self._timers):
                timer.cancel()
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
            return await self._respond(params)
        return await execute_action(self.bot.rest, action, params)

    async def _respond(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A flow's answer: the initial response if it comes first, else late (an edit of
        the acknowledgement or a follow-up); a flow's own deferral counts as one."""
        key, rest = str(params["interaction_id"]), self.bot.rest
        response_type = str(params.get("response_type", ""))
        deferring = response_type.startswith("deferred")

        async def late(interaction: Interaction) -> dict[str, Any]:
            if deferring:
                return {"ok": True, "message_id": None}  # answered or acknowledged already
            return await respond_late(rest, interaction, params)

        async def initial(taken: Interaction | None) -> dict[str, Any]:
            result = await execute_action(rest, "respond_interaction", params)
            if taken is not None and response_type == "deferred_message_create":
                taken.thinking, taken.ephemeral = True, bool(params.get("ephemeral"))
                self._expire_later(key)
            return result

        return await self._answer_once(key, initial, late)

    async def _answer_once(
        self,
        key: str,
        initial: Callable[[Interaction | None], Awaitable[T]],
        late: Callable[[Interaction], Awaitable[T]],
    ) -> T:
        """Send an answer to interaction ``key`` as the initial response if nothing took
        it yet, else late once the response in flight is through."""
        claim = self.interactions.claim_answer(key)
        while claim.late is not None:
            if await initial_sent(claim.late):
                return await late(claim.late)
            claim = self.interactions.claim_answer(key)  # that one failed: open again
        taken, ok = claim.taken, False
        try:
            result = await initial(taken)
            ok = True
            return result
        finally:  # a failure leaves the acknowledgement to spare Discord's failure notice
            if taken is not None:
                self.interactions.settle(taken, ok)

    async def _on_event(self, event: hikari.Event) -> None:
        if self._is_own(event):
            return
        mapped = mapper.map_event(event, self.config.instance_id)
        if mapped is None:
            return
        interaction = getattr(event, "interaction", None)
        if isinstance(interaction, Interactive):
            command = isinstance(interaction, hikari.CommandInteraction)
            self.interactions.expect(
                str(interaction.id), interaction.application_id, interaction.token, command=command
            )
            self._spawn(self._ack_later(interaction))
        if not (mapped.user and mapped.user.is_bot):  # two bots must not answer each other
            self._spawn(self._answer(event, mapped))
        await self.emit(mapped)

    async def _answer(self, event: hikari.Event, mapped: PlatformEvent) -> None:
        """The configured answer, if any; a failure is logged and costs only this answer."""
        interaction = getattr(event, "interaction", None)
        try:
            reply = await self.bot_answers.respond(mapped)
            if reply is None or not bot_replies.has_content(reply):
                return
            if isinstance(interaction, Interactive):
                await self._reply_to(interaction, reply)
            elif isinstance(event, hikari.MessageCreateEvent):
                await bot_replies.answer_message(self.bot.rest, event.message, reply, self._spawn)
        except hikari.HikariError as error:
            log.error("bot answer to %s not sent: %s", mapped.kind, describe(error))
        except Exception:
            log.exception("bot answer to %s failed", mapped.kind)

    async def _reply_to(self, interaction: Interactive, reply: Reply) -> None:
        """The configuration's answer through the interaction (late when the connector
        acknowledged it first, the database being slow)."""
        rest = self.bot.rest

        async def initial(_: Interaction | None) -> None:
            await bot_replies.answer_interaction(rest, interaction, reply, self._spawn)

        async def late(found: Interaction) -> None:
            await bot_replies.answer_late(rest, found, reply, self._spawn)

        await self._answer_once(str(interaction.id), initial, late)

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

    async def _ack_later(self, interaction: Interactive) -> None:
        """Acknowledge a slash command ("thinking…") or a click (deferred update) unless
        an answer claimed it meanwhile."""
        command = isinstance(interaction, hikari.CommandInteraction)
        setting, default = (
            ("command_ack_delay", COMMAND_ACK_DELAY)
            if command
            else ("button_ack_delay", BUTTON_ACK_DELAY)
        )
        await asyncio.sleep(float(self.config.settings.get(setting, default)))
        key = str(interaction.id)
        claimed = self.interactions.claim_ack(key)
        if claimed is None:
            return
        response_type = (
            hikari.ResponseType.DEFERRED_MESSAGE_CREATE
            if command
            else hikari.ResponseType.DEFERRED_MESSAGE_UPDATE
        )
        ok = False
        try:
            await self.bot.rest.create_interaction_response(
                interaction.id, claimed.token, response_type
            )
            ok = True
        except hikari.HikariError as error:  # answered after all, or expired
            log.debug("interaction %s not acknowledged: %s", key, describe(error))
        finally:
            self.interactions.settle(claimed, ok)
        if ok and command:
            self._expire_later(key)

    def _expire_later(self, key: str) -> None:
        """Delete the thinking message if nothing answers it in time (see interactions)."""
        timeout = float(self.config.settings.get("command_answer_timeout", COMMAND_ANSWER_TIMEOUT))
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            self._spawn(self._expire(key))

        handle = loop.call_later(timeout, fire)
        self._timers.add(handle)

    async def _expire(self, key: str) -> None:
        found = self.interactions.take_thinking(key)
        if found is None:
            return
        try:
            await self.bot.rest.delete_interaction_response(found.application_id, found.token)
        except hikari.HikariError as error:
            log.info("unanswered interaction %s not cleared: %s", key, describe(error))

"""TelegramBotConnector: one aiogram ``Bot`` per instance, long polling or webhook.

Polling is a lean ``getUpdates`` loop rather than aiogram's Dispatcher: network
errors must reach the supervisor (status, breaker, restart with backoff) instead of
being retried silently forever, and each update only needs mapping and forwarding.
In webhook mode the web process receives the updates (engine/api/telegram_webhook.py)
and hands them through the pool API to :meth:`TelegramBotConnector.receive_update`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, ClassVar, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates
from aiogram.methods.base import Response, TelegramMethod, TelegramType
from aiogram.types import Update
from aiogram.utils.token import TokenValidationError
from aiohttp import ClientError
from pydantic import ValidationError

from connectors.kit.bot_answers import BotAnswers
from connectors.kit.connector import Connector, EmitEvent, InstanceConfig, ReportStatus
from connectors.kit.errors import CredentialRejected, redact
from connectors.kit.retry import RetryPolicy, call_with_retries, retry_after_attribute
from connectors.telegram_bot.actions import ACTIONS, KIND
from connectors.telegram_bot.bot_replies import BotReplies, Origin, origin_of
from connectors.telegram_bot.commands import CommandSync
from connectors.telegram_bot.discovery import enrich_chat_seen
from connectors.telegram_bot.mapper import ALLOWED_UPDATES, map_update
from engine.action_errors import ActionError, ErrorKind
from engine.bot_config.answers import PREFIX
from engine.chat_discovery import CHAT_SEEN
from engine.platform_event import PlatformEvent
from engine.settings import get_settings

log = logging.getLogger(__name__)

RETRY = RetryPolicy(retry_after_of=retry_after_attribute(TelegramRetryAfter))
_POLLS_KEPT = 1000


class _Session(AiohttpSession):
    """aiogram reads every answer as ``Response[<the method's result type>]``, a pydantic
    generic class that pydantic caches only weakly: once the garbage collector dropped it,
    the next call built its schema again (10–30 ms of CPU per sendMessage, editMessageText
    or answerCallbackQuery, measured by bench/bot_config.py). Keeping the class of each
    method used (a bounded set) for the life of the process makes it a dict lookup."""

    _responses: ClassVar[dict[type[TelegramMethod[Any]], type[Response[Any]]]] = {}

    def check_response(
        self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int, content: str
    ) -> Response[TelegramType]:
        kind = type(method)
        if kind not in self._responses:
            # the answer's type is the method class's own, known only at run time
            self._responses[kind] = Response[method.__returning__]  # type: ignore[name-defined]
        return super().check_response(bot, method, status_code, content)


def make_bot(token: str, api_base_url: str | None = None) -> Bot:
    """A Bot on the real API, or on ``api_base_url`` (a local Bot API server, a fake)."""
    session = (
        _Session(api=TelegramAPIServer.from_base(api_base_url)) if api_base_url else _Session()
    )
    try:
        return Bot(token, session=session)
    except TokenValidationError:
        raise CredentialRejected("the bot token is not a Telegram bot token") from None


class _GetUpdatesAsJson(GetUpdates):
    """``getUpdates`` with each update left as JSON: aiogram decodes a batch all or nothing, so
    one update it cannot read would fail every poll and the offset would never pass it."""

    __returning__ = list[dict[str, Any]]


def decode_update(raw: dict[str, Any], bot: Bot | None = None) -> Update | None:
    """One update as aiogram reads it, or None (logged by id and field, no content or token)
    when it cannot: a new or odd field must cost that update, not the connection (polling)
    or Telegram's webhook queue, which re-sends a refused update before any later one."""
    try:
        return Update.model_validate(raw, context={"bot": bot})
    except ValidationError as error:
        fields = sorted({".".join(map(str, e["loc"])) for e in error.errors(include_input=False)})
        log.warning(
            "skipped Telegram update %s: aiogram cannot read %s", raw.get("update_id"), fields
        )
        return None


def action_error(exc: Exception, token: str | None) -> ActionError | None:
    """What an aiogram failure means for the flow: the platform refused, or is unreachable.

    None for anything else (a bug), which the caller re-raises."""
    message = redact(str(exc), token)
    if isinstance(exc, TelegramEntityTooLarge):
        return ActionError(ErrorKind.platform, message)
    if isinstance(exc, TelegramNetworkError | TelegramServerError | ClientError | TimeoutError):
        return ActionError(ErrorKind.unavailable, f"Telegram is unreachable: {message}")
    if isinstance(exc, TelegramAPIError):
        return ActionError(ErrorKind.platform, message)
    return None


class TelegramBotConnector(Connector):
    kind = KIND
    actions = ACTIONS

    def __init__(self, config: InstanceConfig, emit: EmitEvent, report: ReportStatus) -> None:
        super().__init__(config, emit, report)
        if not config.credential:
            raise CredentialRejected("no bot token is stored for this instance")
        self._bot = make_bot(config.credential, config.api_base_url)
        self.username: str | None = None
        self.mode = str(config.settings.get("mode", "polling"))
        self.poll_timeout = int(config.settings.get("poll_timeout", 25))
        self.refresh_seconds = float(
            config.settings.get("refresh_seconds", get_settings().reconcile_seconds)
        )
        self._polls: OrderedDict[str, list[str]] = OrderedDict()
        self._commands = CommandSync(self._bot, config.instance_id)
        self._answers = BotAnswers(config.instance_id, "telegram")
        self._replies = BotReplies(self._bot, config.instance_id)

    @property
    def client(self) -> Bot:
        return self._bot

    @property
    def polls(self) -> Mapping[str, list[str]]:
        """Options of recent polls, so poll answers can name the chosen options."""
        return self._polls

    async def run(self) -> None:
        try:
            await self._connect()
            if self.mode == "webhook":
                await self._webhook()
            else:
                await self._poll()
        finally:
            await self._replies.close()
            await self._bot.session.close()

    async def execute(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            result = await call_with_retries(
                lambda: self.actions.execute(self._bot, action, params), RETRY, what="Telegram"
            )
        except ActionError:
            raise
        except Exception as exc:
            if (error := action_error(exc, self.config.credential)) is None:
                raise
            raise error from None
        if "poll_id" in result:
            self._remember_poll(result["poll_id"], result.get("options", []))
        return result

    async def receive_update(self, update: Mapping[str, Any], emit: EmitEvent) -> None:
        """A webhook update: one aiogram cannot read is skipped (logged), not refused, or
        Telegram would send it again before any later one."""
        if (decoded := decode_update(dict(update), self._bot)) is not None:
            await self.handle_update(decoded, emit)

    async def handle_update(self, update: Update, emit: EmitEvent | None = None) -> None:
        """Map one update, answer it from the bot's configuration, and forward its events
        (polling loop and webhook route). The answer goes first: flows and member ingest see
        every update as before, but the member does not wait for the forwarder."""
        if update.poll is not None:
            self._remember_poll(update.poll.id, [option.text for option in update.poll.options])
        events = map_update(
            update,
            instance_id=self.config.instance_id,
            bot_username=self.username,
            polls=self._polls,
        )
        if (origin := origin_of(update)) is not None:
            for event in events:
                await self._answer(event, origin)
        for event in events:
            if event.kind == CHAT_SEEN:
                event = await enrich_chat_seen(self._bot, event)
            await (emit or self.emit)(event)

    async def reload_bot_config(self) -> None:
        """Answer from the live bot configuration and offer its commands (the supervisor
        calls this when a version is published or rolled back)."""
        await self._answers.reload()
        await self._commands.sync(self._answers.document)

    # -- internals --------------------------------------------------------------------------

    async def _connect(self) -> None:
        await self.report("connecting", "", {})
        try:
            me = await self._bot.get_me()
        except TelegramUnauthorizedError:
            raise CredentialRejected("Telegram refused the bot token") from None
        self.username = me.username
        self._answers.bot = {"name": me.full_name, "username": me.username or ""}
        self._replies.username = me.username or ""
        await self.reload_bot_config()
        await self.report(
            "connected",
            f"@{me.username}",
            {"username": me.username, "bot_id": str(me.id), "mode": self.mode},
        )

    async def _poll(self) -> None:
        await self._bot.delete_webhook(drop_pending_updates=False)
        loop = asyncio.get_running_loop()
        offset: int | None = None
        next_refresh = loop.time() + self.refresh_seconds
        while True:
            try:
                # aiogram types the call by GetUpdates, whose answer this subclass changes
                updates = cast(
                    list[dict[str, Any]],
                    await self._bot(
                        _GetUpdatesAsJson(
                            offset=offset,
                            timeout=self.poll_timeout,
                            allowed_updates=ALLOWED_UPDATES,
                        ),
                        request_timeout=self.poll_timeout + 10,
                    ),
                )
            except TelegramRetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
                continue
            for raw in updates:
                offset = int(raw["update_id"]) + 1
                if (update := decode_update(raw, self._bot)) is not None:
                    await self.handle_update(update)
            if loop.time() >= next_refresh:
                await self.reload_bot_config()
                next_refresh = loop.time() + self.refresh_seconds

    async def _webhook(self) -> None:
        if not self.config.webhook_secret:
            raise CredentialRejected("webhook mode needs a webhook secret")
        base = self.config.settings.get("webhook_base_url") or get_settings().effective_public_url
        await self._bot.set_webhook(
            url=f"{base.rstrip('/')}/api/telegram/{self.config.instance_id}/webhook",
            secret_token=self.config.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )
        while True:
            await asyncio.sleep(self.refresh_seconds)
            await self.reload_bot_config()

    async def _answer(self, event: PlatformEvent, origin: Origin) -> None:
        """The configuration's answer to ``event``; a press of one of the configuration's
        own buttons is acknowledged even when its target is gone (a menu since deleted)."""
        try:
            reply = await self._answers.respond(event)
        except Exception:  # the database, most likely: flows still get the update
            log.exception("instance %s: could not answer %s", self.config.instance_id, event.kind)
            reply = None
        own_button = str(event.data.get("callback_data") or "").startswith(PREFIX)
        if reply is not None or (own_button and origin.callback_query_id):
            await self._replies.answer(reply, origin)

    def _remember_poll(self, poll_id: str, options: list[str]) -> None:
        self._polls[poll_id] = options
        self._polls.move_to_end(poll_id)
        while len(self._polls) > _POLLS_KEPT:
            self._polls.popitem(last=False)

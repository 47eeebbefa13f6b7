"""BotAnswers: a connector answers commands, keywords and menu buttons from its bot's live
configuration, in the connector process, without a flow execution.

The live version is loaded when the connector starts and again when the supervisor relays
``bot_config.published`` (:meth:`BotAnswers.reload`). Per update it reads the member's
language override (when the bot speaks several languages) and the chat's communities (kept
for a few seconds per chat), decides with
:func:`engine.bot_config.answers.answer` and hands a :class:`Reply` back to the platform
code that sends it. Flows the configuration starts are launched like any execution.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from engine import db
from engine.bot_config.answers import Facts, Incoming, Reply, answer
from engine.bot_config.document import BotConfigDocument, TriggerKind
from engine.community_rules import CommunityRules
from engine.models import Chat, Community, CommunityConfig, PlatformAccount
from engine.nodes.conditions import REGEX_TIMEOUT, RegexTimeout, regex_worker
from engine.platform_event import EventChat, PlatformEvent
from engine.services import bot_config
from engine.services.executions import NotRunnable, launch

log = logging.getLogger(__name__)

COMMAND_KINDS = {"tg_command", "dc_slash_command"}
BUTTON_KINDS = {"tg_callback_query", "dc_button_click"}
TEXT_KINDS = {"tg_message", "dc_message"}
CHAT_FACTS_SECONDS = 10.0
CHATS_KEPT = 10_000


class BoundedRegex:
    """Keyword regexes run in the engine's killable child interpreter: a pattern that
    backtracks for ever costs one answer, not the connector's event loop."""

    def search(self, pattern: str, text: str) -> bool:
        try:
            return regex_worker.search(pattern, 0, text[:20_000], REGEX_TIMEOUT) is not None
        except (RegexTimeout, ValueError) as error:
            log.warning("response pattern skipped: %s", error)
            return False


def incoming_of(event: PlatformEvent) -> Incoming | None:
    """The update as the bot configuration sees it; None for events it never answers
    (and for a command's plain-message twin: the command event answers it)."""
    chat = event.chat
    common: dict[str, Any] = {
        "chat_id": chat.id if chat else "",
        "chat_type": chat.type if chat else "",
        "trigger": event.as_trigger(),
    }
    if event.kind in COMMAND_KINDS and event.command:
        return Incoming(kind="command", command=event.command, text=event.text or "", **common)
    if event.kind in BUTTON_KINDS:
        data = event.data.get("callback_data") or event.data.get("custom_id") or ""
        return Incoming(kind="button", button_data=str(data), **common) if data else None
    if event.kind in TEXT_KINDS and event.text and not event.text.startswith("/"):
        return Incoming(kind="text", text=event.text, **common)
    return None


def live_version(instance_id: int) -> tuple[int, BotConfigDocument] | None:
    """The highest published version of the bot's configuration, if any (the service's rule,
    in a session of its own: connectors call it from a thread)."""
    with Session(db.get_engine()) as session:
        return bot_config.live_document(session, instance_id)


@dataclass(frozen=True)
class ChatFacts:
    """What the database says about a chat: its communities and the first one's rules."""

    community_ids: tuple[int, ...] = ()
    community: dict[str, Any] = field(default_factory=dict)


def chat_facts(platform: str, chat: EventChat) -> ChatFacts:
    """The communities ``chat`` (or its Discord server) belongs to, from the database."""
    chat_ids = [chat.id] + ([chat.guild_id] if chat.guild_id else [])
    with Session(db.get_engine()) as session:
        rows = session.exec(
            select(db.primary_key(Community), Community.name, CommunityConfig.rules)
            .join(Chat, col(Chat.community_id) == col(Community.id))
            .join(
                CommunityConfig,
                col(CommunityConfig.community_id) == col(Community.id),
                isouter=True,
            )
            .where(Chat.platform == platform, col(Chat.platform_chat_id).in_(chat_ids))
        ).all()
    if not rows:
        return ChatFacts()
    community_id, name, rules = rows[0]
    rules_text = CommunityRules.model_validate(rules or {}).rules_text
    return ChatFacts(
        community_ids=tuple(row[0] for row in rows),
        community={"id": community_id, "name": name, "rules": rules_text},
    )


def language_override(platform: str, user_id: str) -> str | None:
    """The language a flow chose for this member, if any."""
    with Session(db.get_engine()) as session:
        return session.exec(
            select(PlatformAccount.language_override).where(
                PlatformAccount.platform == platform,
                PlatformAccount.platform_user_id == user_id,
            )
        ).first()


def _member(event: PlatformEvent) -> dict[str, Any]:
    user = event.user
    if user is None:
        return {}
    name = user.display_name or " ".join(p for p in (user.first_name, user.last_name) if p)
    return {"id": user.id, "username": user.username or "", "name": name or user.username or ""}


class BotAnswers:
    """The answering side of one bot connection."""

    def __init__(self, instance_id: int, platform: str) -> None:
        self.instance_id = instance_id
        self.platform = platform
        self.version: int | None = None
        self.document: BotConfigDocument | None = None
        self.bot: dict[str, Any] = {}
        self._regex = BoundedRegex()
        self._answers_text = False  # any enabled keyword or regex response
        self._multilingual = False  # more than the default language: overrides matter
        # Chat id (and guild id) → (monotonic expiry, facts): a busy group's answers do not
        # each read the same community rows; a chat moved between communities is seen
        # within CHAT_FACTS_SECONDS.
        self._chats: dict[tuple[str, str | None], tuple[float, ChatFacts]] = {}

    async def reload(self) -> bool:
        """Load the live version; True when it differs from the one answered so far."""
        live = await asyncio.to_thread(live_version, self.instance_id)
        version = live[0] if live else None
        if version == self.version:
            return False
        self.version, self.document = (live[0], live[1]) if live else (None, None)
        document = self.document
        self._answers_text = document is not None and any(
            trigger.kind in (TriggerKind.keyword, TriggerKind.regex)
            for response in document.responses
            if response.enabled
            for trigger in response.triggers
        )
        self._multilingual = document is not None and bool(
            set(document.languages) - {document.default_language}
        )
        return True

    async def respond(self, event: PlatformEvent) -> Reply | None:
        """What the bot says to ``event`` by itself (None: nothing); a flow the answer names
        is started here, so the caller only sends text."""
        document = self.document
        incoming = incoming_of(event) if document is not None else None
        if document is None or incoming is None:
            return None
        if incoming.kind == "text" and not self._answers_text:
            return None  # most group chatter: no database read, no thread
        reply = await asyncio.to_thread(self._decide, document, incoming, event)
        if reply is not None and reply.start_flow is not None:
            await asyncio.to_thread(_start_flow, reply.start_flow, event)
        return reply

    def _decide(
        self, document: BotConfigDocument, incoming: Incoming, event: PlatformEvent
    ) -> Reply | None:
        return answer(document, incoming, self._facts(event), self._regex)

    def _facts(self, event: PlatformEvent) -> Facts:
        """The member's language override and the chat's communities (database reads
        only where they can change the answer)."""
        user, chat = event.user, event.chat
        override = None
        if user is not None and self._multilingual:
            override = language_override(self.platform, user.id)
        found = self._chat_facts(chat) if chat is not None else ChatFacts()
        return Facts(
            platform_language=user.language if user else None,
            language_override=override,
            community_ids=found.community_ids,
            member=_member(event),
            chat={"id": chat.id, "title": chat.title or "", "type": chat.type} if chat else {},
            community=found.community,
            bot=self.bot,
        )

    def _chat_facts(self, chat: EventChat) -> ChatFacts:
        key, now = (chat.id, chat.guild_id), time.monotonic()
        cached = self._chats.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = chat_facts(self.platform, chat)
        if len(self._chats) >= CHATS_KEPT:
            self._chats.clear()
        self._chats[key] = (now + CHAT_FACTS_SECONDS, found)
        return found


def _start_flow(flow_id: int, event: PlatformEvent) -> None:
    """Launch the flow for the event; a paused or deleted flow is logged, not fatal."""
    try:
        launch(flow_id, event.model_copy(update={"event_id": f"{event.event_id}:bot"}))
    except NotRunnable as error:
        log.warning("bot configuration names flow %s: %s", flow_id, error)

"""BotAnswers: a connector answers commands, keywords and menu buttons from its bot's live
configuration, in the connector process, without a flow execution.

The live version is loaded when the connector starts and again when the supervisor relays
``bot_config.published`` (:meth:`BotAnswers.reload`). Per update it reads the member's
language override and the chat's communities (two indexed lookups), decides with
:func:`engine.bot_config.answers.answer` and hands a :class:`Reply` back to the platform
code that sends it. Flows the configuration starts are launched like any execution.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine import db
from engine.bot_config.answers import Facts, Incoming, Reply, answer
from engine.bot_config.document import BotConfigDocument
from engine.community_rules import CommunityRules
from engine.models import Chat, Community, CommunityConfig, PlatformAccount
from engine.models.botconfig import BotConfigVersion
from engine.nodes.conditions import REGEX_TIMEOUT, RegexTimeout, regex_worker
from engine.platform_event import PlatformEvent
from engine.services.executions import NotRunnable, launch

log = logging.getLogger(__name__)

COMMAND_KINDS = {"tg_command", "dc_slash_command"}
BUTTON_KINDS = {"tg_callback_query", "dc_button_click"}
TEXT_KINDS = {"tg_message", "dc_message"}


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
    """The highest published version of the bot's configuration, if any."""
    with Session(db.get_engine()) as session:
        row = session.exec(
            select(BotConfigVersion)
            .where(BotConfigVersion.bot_instance_id == instance_id)
            .order_by(sa.desc(BotConfigVersion.version))
            .limit(1)
        ).first()
    if row is None:
        return None
    return row.version, BotConfigDocument.model_validate(row.document)


def _facts_of(event: PlatformEvent, platform: str) -> Facts:
    """The member's language override and the chat's communities, from the database."""
    user, chat = event.user, event.chat
    override = None
    community: dict[str, Any] = {}
    community_ids: tuple[int, ...] = ()
    with Session(db.get_engine()) as session:
        if user is not None:
            override = session.exec(
                select(PlatformAccount.language_override).where(
                    PlatformAccount.platform == platform,
                    PlatformAccount.platform_user_id == user.id,
                )
            ).first()
        if chat is not None:
            chat_ids = [chat.id] + ([chat.guild_id] if chat.guild_id else [])
            rows = session.exec(
                select(Community, CommunityConfig.rules)
                .join(Chat, Chat.community_id == Community.id)
                .join(CommunityConfig, CommunityConfig.community_id == Community.id, isouter=True)
                .where(Chat.platform == platform, col(Chat.platform_chat_id).in_(chat_ids))
            ).all()
            community_ids = tuple(found.id for found, _ in rows if found.id is not None)
            if rows:
                found, rules = rows[0]
                rules_text = CommunityRules.model_validate(rules or {}).rules_text
                community = {"id": found.id, "name": found.name, "rules": rules_text}
    return Facts(
        platform_language=user.language if user else None,
        language_override=override,
        community_ids=community_ids,
        member=_member(event),
        chat={"id": chat.id, "title": chat.title or "", "type": chat.type} if chat else {},
        community=community,
    )


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

    async def reload(self) -> bool:
        """Load the live version; True when it differs from the one answered so far."""
        live = await asyncio.to_thread(live_version, self.instance_id)
        version = live[0] if live else None
        if version == self.version:
            return False
        self.version, self.document = (live[0], live[1]) if live else (None, None)
        return True

    async def respond(self, event: PlatformEvent) -> Reply | None:
        """What the bot says to ``event`` by itself (None: nothing); a flow the answer names
        is started here, so the caller only sends text."""
        document = self.document
        incoming = incoming_of(event) if document is not None else None
        if document is None or incoming is None:
            return None
        reply = await asyncio.to_thread(self._decide, document, incoming, event)
        if reply is not None and reply.start_flow is not None:
            await asyncio.to_thread(_start_flow, reply.start_flow, event)
        return reply

    def _decide(
        self, document: BotConfigDocument, incoming: Incoming, event: PlatformEvent
    ) -> Reply | None:
        facts = replace(_facts_of(event, self.platform), bot=self.bot)
        return answer(document, incoming, facts, self._regex)


def _start_flow(flow_id: int, event: PlatformEvent) -> None:
    """Launch the flow for the event; a paused or deleted flow is logged, not fatal."""
    try:
        launch(flow_id, event.model_copy(update={"event_id": f"{event.event_id}:bot"}))
    except NotRunnable as error:
        log.warning("bot configuration names flow %s: %s", flow_id, error)

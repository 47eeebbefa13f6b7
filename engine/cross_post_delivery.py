"""Mirroring: what is posted in the source chat of an active cross-post rule is posted in
its target chats, through the rule's template; edits and deletions follow when the rule
says so. The rules themselves are engine/services/cross_posting.py's.

``engine/community_events.py`` hands every routed event to :func:`handle`, which sends the
durable :func:`mirror_message` only when a rule watches the event's chat (one indexed
query). The actor is safe to run twice: a copy already recorded is not posted again, and
every pool call carries a key per (rule, source message, target, action), so a worker that
died between the call and the record repeats the call, and the pool answers it once.

Runtime loop safety besides the refused cycles: a message that is itself a recorded copy
is never mirrored, and (unless a rule's filter says otherwise) neither is a bot's.

Media: a URL the target can fetch is carried (Discord attachments, media events that carry
a URL). A Telegram file id only works for the bot that received it and the Bot API
connector has no ``getFile`` action, so a Telegram photo is carried only to chats of the
same bot; elsewhere, and for other Telegram files, the copy says "(media not carried)".

Edits: Telegram ``edit_message`` changes a copy's text (a copy posted as a photo with a
caption cannot be edited so: the platform's refusal is recorded), Discord and WhatsApp
edit their copies (WhatsApp within its 15 minutes).
Deletions: Discord message deletions delete the copies; WhatsApp copies cannot be deleted
without the account's own id (recorded as such). Telegram bots are not told of deletions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from pydantic import ValidationError
from sqlmodel import Session, col, select

from engine import pool_client
from engine.action_errors import ActionError
from engine.broker import QUEUE, get_broker
from engine.db import in_session, session_scope
from engine.expressions import ExpressionError
from engine.message_format import OutgoingMessage, message_calls, render, sent_message_id
from engine.models import (
    Chat,
    CrossPostAction,
    CrossPostDelivery,
    CrossPostRule,
    CrossPostTemplate,
    Platform,
)
from engine.platform_calls import delete_call
from engine.platform_event import PlatformEvent
from engine.services.cross_posting import (
    CrossPostFilter,
    SourceMessage,
    connector_of,
    render_format,
    source_message,
)
from engine.thread_loop import run_on_thread_loop

log = logging.getLogger(__name__)
get_broker()  # the actor below is declared on the process's broker

EVENT_MAX_AGE_MS = 3_600_000  # as route_event: a copy an hour late would surprise
ACTIONS: dict[str, CrossPostAction] = {
    "tg_message": CrossPostAction.post,
    "tg_channel_post": CrossPostAction.post,
    "tgu_message": CrossPostAction.post,
    "dc_message": CrossPostAction.post,
    "wa_message": CrossPostAction.post,
    "wa_group_message": CrossPostAction.post,
    "wa_media_message": CrossPostAction.post,
    "tg_edited_message": CrossPostAction.edit,
    "dc_message_delete": CrossPostAction.delete,
}
MEDIA_NOT_CARRIED = "(media not carried)"
Call = tuple[str, dict[str, Any]]


@dataclass
class Copy:
    """One target of one rule for one event: the calls that make it happen, or why not."""

    rule_id: int
    action: CrossPostAction
    target_chat_id: int
    target_platform: str
    target_platform_chat_id: str
    kind: str
    instance_id: int | None
    key: str
    calls: list[Call] = field(default_factory=list)
    target_message_id: str | None = None  # the copy an edit or deletion acts on
    error: str | None = None


def handle(event: PlatformEvent) -> None:
    """Send :func:`mirror_message` when an active rule watches the event's chat; best
    effort, like the rest of engine/community_events.py (a failure is logged)."""
    if event.kind not in ACTIONS or event.chat is None or not event.message_id:
        return
    try:
        with session_scope() as session:
            if not _rules_for(session, event):
                return
        mirror_message.send(event.as_trigger())
    except Exception:
        log.exception("event %s not handed to cross-posting", event.event_id)


@dramatiq.actor(queue_name=QUEUE, max_age=EVENT_MAX_AGE_MS, throws=(ValidationError,))
def mirror_message(event: dict[str, Any]) -> None:
    """Post, edit or delete the copies of one source message (safe to run twice)."""

    run_on_thread_loop(mirror(PlatformEvent.model_validate(event)))


async def mirror(event: PlatformEvent) -> list[CrossPostDelivery]:
    """Make and record the event's copies; the recorded rows."""
    copies = await in_session(_plan, event)
    for copy in copies:
        if copy.error is None:
            await _deliver(copy)
    return await in_session(_record, event, copies)


def _rules_for(session: Session, event: PlatformEvent) -> list[tuple[CrossPostRule, Chat]]:
    assert event.chat is not None
    return list(
        session.exec(
            select(CrossPostRule, Chat)
            .join(Chat, col(Chat.id) == CrossPostRule.source_chat_id)
            .where(
                Chat.platform == event.platform,
                Chat.platform_chat_id == event.chat.id,
                col(CrossPostRule.is_active),
            )
            .order_by(col(CrossPostRule.id))
        ).all()
    )


def _plan(session: Session, event: PlatformEvent) -> list[Copy]:
    if event.chat is None or _is_a_copy(session, event):
        return []
    action = ACTIONS[event.kind]
    copies: list[Copy] = []
    for rule, source in _rules_for(session, event):
        message = source_message(event, source)
        if action is CrossPostAction.post:
            copies += _posts(session, event, rule, message)
        elif action is CrossPostAction.edit and rule.mirror_edits:
            copies += _edits(session, event, rule, message)
        elif action is CrossPostAction.delete and rule.mirror_deletes:
            copies += _deletions(session, event, rule)
    return copies


def _is_a_copy(session: Session, event: PlatformEvent) -> bool:
    assert event.chat is not None
    return (
        session.exec(
            select(CrossPostDelivery.id).where(
                CrossPostDelivery.target_platform == event.platform,
                CrossPostDelivery.target_platform_chat_id == event.chat.id,
                CrossPostDelivery.target_message_id == event.message_id,
            )
        ).first()
        is not None
    )


def _has_media(event: PlatformEvent) -> bool:
    return event.media is not None or bool(event.data.get("attachments"))


def _posts(
    session: Session, event: PlatformEvent, rule: CrossPostRule, message: SourceMessage
) -> list[Copy]:
    from_bot = bool(event.user and event.user.is_bot)
    wanted = CrossPostFilter.model_validate(rule.filter or {})
    if not wanted.matches(message.text, has_media=_has_media(event), from_bot=from_bot):
        return []
    done = _recorded_targets(session, event, rule.id or 0)
    formats = _formats(session, rule)
    copies = []
    for target in _targets(session, rule):
        if target.id in done:
            continue
        copy = _copy(session, event, rule, target, CrossPostAction.post)
        try:
            text = render_format(formats, copy.target_platform, message)
        except ExpressionError as exc:
            copy.error = f"The template did not render: {exc}"
            copies.append(copy)
            continue
        media = _media_for(event, copy, message) if rule.include_media else ""
        if rule.include_media and _has_media(event) and not media:
            text = f"{text}\n\n{MEDIA_NOT_CARRIED}"
        outgoing = OutgoingMessage(text=text, media_url=media or None)
        platform_text = render(text, copy.target_platform)
        copy.calls = message_calls(copy.kind, copy.target_platform_chat_id, outgoing, platform_text)
        copies.append(copy)
    return copies


def _media_for(event: PlatformEvent, copy: Copy, message: SourceMessage) -> str:
    """The media a copy can carry: a fetchable URL, or a Telegram photo's file id when the
    same bot posts the copy (file ids only work for the bot that received them)."""
    if message.media:
        return message.media
    photo = event.media if event.media is not None and event.media.type == "photo" else None
    same_bot = copy.kind == event.connector and copy.instance_id == event.instance_id
    return (photo.file_id or "") if photo is not None and same_bot else ""


def _edits(
    session: Session, event: PlatformEvent, rule: CrossPostRule, message: SourceMessage
) -> list[Copy]:
    formats = _formats(session, rule)
    copies = []
    for posted, target in _copies_of(session, event, rule):
        copy = _copy(session, event, rule, target, CrossPostAction.edit, posted)
        try:
            text = render(render_format(formats, copy.target_platform, message), target.platform)
        except ExpressionError as exc:
            copy.error = f"The template did not render: {exc}"
        else:
            copy.calls = [edit_call(copy.kind, copy.target_platform_chat_id, posted, text)]
        copies.append(copy)
    return copies


def _deletions(session: Session, event: PlatformEvent, rule: CrossPostRule) -> list[Copy]:
    copies = []
    for posted, target in _copies_of(session, event, rule):
        copy = _copy(session, event, rule, target, CrossPostAction.delete, posted)
        call = delete_call(copy.kind, copy.target_platform_chat_id, posted, None)
        if call is None:
            copy.error = f"A copy on {copy.target_platform} cannot be deleted by Flowbot."
        else:
            copy.calls = [call]
        copies.append(copy)
    return copies


def edit_call(kind: str, chat_id: str, message_id: str, platform_text: str) -> Call:
    """The call that replaces the text of a message the connector posted."""
    if kind == "discord_bot":
        return "edit_message", {
            "channel_id": chat_id,
            "message_id": message_id,
            "content": platform_text,
        }
    params = {"chat_id": chat_id, "message_id": message_id, "text": platform_text}
    if kind == "telegram_bot":
        return "edit_message", {**params, "parse_mode": "HTML"}
    if kind == "telegram_user":
        return "edit_message", {**params, "parse_mode": "html"}
    return "edit_message", params


def _formats(session: Session, rule: CrossPostRule) -> dict[str, str]:
    template = session.get(CrossPostTemplate, rule.template_id) if rule.template_id else None
    return dict(template.formats) if template else {}


def _targets(session: Session, rule: CrossPostRule) -> list[Chat]:
    rows = session.exec(select(Chat).where(col(Chat.id).in_(rule.target_chat_ids))).all()
    by_id = {c.id: c for c in rows if c.gone_at is None}
    return [by_id[i] for i in rule.target_chat_ids if i in by_id]


def _recorded_targets(session: Session, event: PlatformEvent, rule_id: int) -> set[int | None]:
    """Targets whose copy of this message is recorded (a second run posts none again)."""
    return {d.target_chat_id for d in _posted(session, event, rule_id)}


def _posted(session: Session, event: PlatformEvent, rule_id: int) -> list[CrossPostDelivery]:
    assert event.chat is not None
    return list(
        session.exec(
            select(CrossPostDelivery).where(
                CrossPostDelivery.rule_id == rule_id,
                CrossPostDelivery.action == CrossPostAction.post,
                CrossPostDelivery.source_platform == event.platform,
                CrossPostDelivery.source_chat_id == event.chat.id,
                CrossPostDelivery.source_message_id == event.message_id,
            )
        ).all()
    )


def _copies_of(
    session: Session, event: PlatformEvent, rule: CrossPostRule
) -> list[tuple[str, Chat]]:
    """(copy's message id, its chat) of each copy of this message the rule posted."""
    found = []
    for posted in _posted(session, event, rule.id or 0):
        chat = session.get(Chat, posted.target_chat_id) if posted.target_chat_id else None
        if posted.ok and posted.target_message_id and chat is not None:
            found.append((posted.target_message_id, chat))
    return found


def _copy(
    session: Session,
    event: PlatformEvent,
    rule: CrossPostRule,
    target: Chat,
    action: CrossPostAction,
    target_message_id: str | None = None,
) -> Copy:
    assert event.chat is not None
    kind, instance_id = connector_of(session, target)
    # An edit is keyed by its event: each edit of one message is a call of its own.
    what = f"{action}:{event.event_id}" if action is CrossPostAction.edit else str(action)
    source = f"{event.platform}:{event.chat.id}:{event.message_id}"
    return Copy(
        rule_id=rule.id or 0,
        action=action,
        target_chat_id=target.id or 0,
        target_platform=str(target.platform),
        target_platform_chat_id=target.platform_chat_id,
        kind=kind,
        instance_id=instance_id,
        key=f"crosspost:{rule.id}:{source}:{target.id}:{what}",
        target_message_id=target_message_id,
    )


async def _deliver(copy: Copy) -> None:
    """Make the copy's calls in order; the first answer names a new copy's message."""
    for n, (action, params) in enumerate(copy.calls):
        try:
            result = await pool_client.execute(
                copy.kind,
                action,
                params,
                instance_id=copy.instance_id,
                idempotency_key=f"{copy.key}:{n}",
            )
        except ActionError as exc:
            copy.error = str(exc)
            return
        if n == 0 and copy.action is CrossPostAction.post:
            copy.target_message_id = sent_message_id(result)


def _record(session: Session, event: PlatformEvent, copies: list[Copy]) -> list[CrossPostDelivery]:
    assert event.chat is not None
    rows = [
        CrossPostDelivery(
            rule_id=copy.rule_id,
            action=copy.action,
            source_platform=Platform(event.platform),
            source_chat_id=event.chat.id,
            source_message_id=event.message_id or "",
            target_chat_id=copy.target_chat_id,
            target_platform=Platform(copy.target_platform),
            target_platform_chat_id=copy.target_platform_chat_id,
            target_message_id=copy.target_message_id,
            ok=copy.error is None,
            error=copy.error,
        )
        for copy in copies
    ]
    session.add_all(rows)
    session.flush()
    for row in rows:
        session.refresh(row)
    return rows


__all__ = ["handle", "mirror", "mirror_message"]

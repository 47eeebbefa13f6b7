"""Broadcasts: one announcement to many chats, composed once and shown per platform.

The Broadcast pages, /api/v1/broadcasts and the ``broadcast`` flow node go through these
functions, so the rules hold everywhere: viewers look, editors compose, send, cancel and
retry; every change is audited. A broadcast is a draft (editable, possibly incomplete)
until sent; sending checks it is complete (text, chats, each platform's length limit),
fixes its targets as ``broadcast_target`` rows, one per chat, and hands it to the durable
delivery job (engine/broadcast_delivery.py), at once or at the scheduled time. Targets are
every postable chat of the chosen communities plus the chosen chats, narrowed to the
chosen platforms, each reached through the connection that discovered it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from engine import broadcast_delivery, events
from engine.chat_discovery import VOICE_CHAT_TYPES
from engine.db import affected_rows
from engine.message_format import is_web_url, length_error, platform_text, render
from engine.models import (
    AdminUser,
    BotInstance,
    BroadcastMessage,
    BroadcastStatus,
    BroadcastTarget,
    Chat,
    Community,
    Platform,
    Role,
    TargetStatus,
    utcnow,
)
from engine.nodes.utility import as_utc, stored_time
from engine.services import audit
from engine.services.auth import require_role
from engine.services.community_chats import PLATFORMS, postable_chats
from engine.services.errors import Conflict, NotFound

PlatformName = Literal["telegram", "discord", "whatsapp"]
MAX_TITLE = 256
MAX_TEXT = 65536  # WhatsApp's limit; shorter platforms are checked per platform
MAX_BUTTON_ROWS = 5  # Discord's limits: 5 rows of 5 link buttons, labels up to 80
MAX_ROW_BUTTONS = 5
MAX_BUTTON_TEXT = 80
MAX_PICKS = 500
EDITABLE = (BroadcastStatus.draft, BroadcastStatus.scheduled)
UNDERWAY = (BroadcastStatus.sending, BroadcastStatus.scheduled)
FINISHED = (
    BroadcastStatus.sent,
    BroadcastStatus.partial,
    BroadcastStatus.failed,
    BroadcastStatus.cancelled,
)
PROGRESS_FIGURES = ("total", "sent", "failed", "pending", "cancelled")


class InvalidBroadcast(ValueError):
    """A broadcast refused as it stands, with a message fit to show the admin."""


class BroadcastNotFound(InvalidBroadcast, NotFound):
    """The broadcast does not exist (any more)."""


class BroadcastConflict(Conflict):
    """Not in a state that allows this (editing a sent broadcast, cancelling a finished one)."""


class Button(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_BUTTON_TEXT, examples=["Read more"])
    url: str = Field(max_length=2048, examples=["https://example.org/news"])

    @field_validator("url")
    @classmethod
    def _web(cls, url: str) -> str:
        if not is_web_url(url):
            raise ValueError(f"a button opens an http(s) link; {url!r} is not one")
        return url.strip()


class BroadcastDraft(BaseModel):
    """What an admin composes; a draft may be incomplete, but what it says must be valid."""

    title: str = Field(default="", max_length=MAX_TITLE, examples=["December meetup"])
    text: str = Field(
        default="",
        max_length=MAX_TEXT,
        description="Flowbot markdown: **bold**, _italic_, ~~strike~~, `code`, [label](url)",
        examples=["**Meetup** on Friday, see [the page](https://example.org/meetup)"],
    )
    overrides: dict[PlatformName, str] = Field(
        default_factory=dict,
        description="Replaces the text on that platform",
        examples=[{"discord": "**Meetup** on Friday <@&123>"}],
    )
    media_url: str | None = Field(
        default=None, max_length=2048, examples=["https://example.org/poster.png"]
    )
    buttons: list[list[Button]] = Field(
        default_factory=list,
        max_length=MAX_BUTTON_ROWS,
        description="Link buttons under the message, row by row",
    )
    community_ids: list[int] = Field(default_factory=list, max_length=MAX_PICKS)
    chat_ids: list[int] = Field(default_factory=list, max_length=MAX_PICKS)
    platforms: list[PlatformName] = Field(
        default_factory=list, description="Only these platforms; empty: all"
    )
    scheduled_at: datetime | None = Field(
        default=None, description="When it is meant to go out (sending sets it)"
    )

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, value: dict[str, str]) -> dict[str, str]:
        if any(len(text) > MAX_TEXT for text in value.values()):
            raise ValueError(f"an override is longer than {MAX_TEXT} characters")
        return {platform: text for platform, text in value.items() if text.strip()}

    @field_validator("media_url")
    @classmethod
    def _media(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        if not is_web_url(url):
            raise ValueError(f"the media must be an http(s) link the platforms can fetch: {url!r}")
        return url.strip()

    @field_validator("buttons")
    @classmethod
    def _rows(cls, rows: list[list[Button]]) -> list[list[Button]]:
        if any(not 1 <= len(row) <= MAX_ROW_BUTTONS for row in rows):
            raise ValueError(f"each row of buttons holds 1 to {MAX_ROW_BUTTONS}")
        return rows

    @field_validator("community_ids", "chat_ids", "platforms")
    @classmethod
    def _unique(cls, values: list[Any]) -> list[Any]:
        return list(dict.fromkeys(values))


@dataclass(frozen=True)
class Progress:
    total: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0  # not sent yet, or handed to the platform without an answer yet
    cancelled: int = 0


@dataclass(frozen=True)
class BroadcastView:
    id: int
    title: str
    text: str
    overrides: dict[str, str]
    media_url: str | None
    buttons: list[list[dict[str, str]]]
    community_ids: list[int]
    chat_ids: list[int]
    platforms: list[str]
    status: BroadcastStatus
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    created_by_name: str  # "" when a flow sent it
    progress: Progress

    @property
    def duration(self) -> timedelta | None:
        """How long delivery took, once it finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return as_utc(self.finished_at) - as_utc(self.started_at)


@dataclass(frozen=True)
class ResolvedTarget:
    """A chat a broadcast goes to, and the connection that posts there."""

    chat_id: int
    community_id: int | None
    platform: str
    connector_kind: str
    bot_instance_id: int
    platform_chat_id: str
    title: str


@dataclass(frozen=True)
class TargetView:
    id: int
    chat_id: int | None
    community_id: int | None
    platform: str
    connector_kind: str
    platform_chat_id: str
    title: str
    status: TargetStatus
    attempts: int
    error: str | None
    platform_message_id: str | None
    sent_at: datetime | None
    updated_at: datetime


# --- reading ------------------------------------------------------------------------------------


def list_broadcasts(
    session: Session,
    *,
    status: BroadcastStatus | str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> list[BroadcastView]:
    """The history, newest first, ids below ``before``, each with its totals."""
    query = select(BroadcastMessage)
    if status is not None:
        query = query.where(BroadcastMessage.status == BroadcastStatus(status))
    if before is not None:
        query = query.where(col(BroadcastMessage.id) < before)
    rows = session.exec(query.order_by(col(BroadcastMessage.id).desc()).limit(limit)).all()
    return _views(session, list(rows))


def get(session: Session, broadcast_id: int) -> BroadcastView:
    return _views(session, [_get(session, broadcast_id)])[0]


def progress(session: Session, broadcast_id: int) -> Progress:
    return _progress(session, [broadcast_id])[broadcast_id]


def targets(
    session: Session,
    broadcast_id: int,
    *,
    status: TargetStatus | str | None = None,
    limit: int = 200,
    before: int | None = None,
) -> list[TargetView]:
    """Each chat of a sent broadcast and what happened there, newest id first."""
    _get(session, broadcast_id)
    query = select(BroadcastTarget).where(BroadcastTarget.broadcast_id == broadcast_id)
    if status is not None:
        query = query.where(BroadcastTarget.status == TargetStatus(status))
    if before is not None:
        query = query.where(col(BroadcastTarget.id) < before)
    rows = session.exec(query.order_by(col(BroadcastTarget.id).desc()).limit(limit)).all()
    return [
        TargetView(
            id=t.id or 0,
            chat_id=t.chat_id,
            community_id=t.community_id,
            platform=str(t.platform),
            connector_kind=t.connector_kind,
            platform_chat_id=t.platform_chat_id,
            title=t.title,
            status=TargetStatus(t.status),
            attempts=t.attempts,
            error=t.error,
            platform_message_id=t.platform_message_id,
            sent_at=t.sent_at,
            updated_at=t.updated_at,
        )
        for t in rows
    ]


def _get(session: Session, broadcast_id: int) -> BroadcastMessage:
    row = session.get(BroadcastMessage, broadcast_id)
    if row is None:
        raise BroadcastNotFound(f"Broadcast {broadcast_id} does not exist.")
    return row


def _progress(session: Session, ids: Collection[int]) -> dict[int, Progress]:
    counts = {broadcast_id: dict.fromkeys(TargetStatus, 0) for broadcast_id in ids}
    for broadcast_id, status, count in session.exec(
        select(BroadcastTarget.broadcast_id, BroadcastTarget.status, sa.func.count())
        .where(col(BroadcastTarget.broadcast_id).in_(list(ids)))
        .group_by(col(BroadcastTarget.broadcast_id), col(BroadcastTarget.status))
    ).all():
        counts[broadcast_id][TargetStatus(status)] = count
    return {broadcast_id: _progress_of(by) for broadcast_id, by in counts.items()}


def _progress_of(counts: dict[TargetStatus, int]) -> Progress:
    """The figures the delivery job publishes, from the count of targets per status."""
    figures = broadcast_delivery.progress_payload(0, None, counts)
    return Progress(**{name: figures[name] for name in PROGRESS_FIGURES})


def _views(session: Session, rows: list[BroadcastMessage]) -> list[BroadcastView]:
    ids = [row.id or 0 for row in rows]
    totals = _progress(session, ids)
    author_ids = {row.created_by for row in rows if row.created_by}
    names = dict(
        session.exec(
            select(AdminUser.id, AdminUser.username).where(col(AdminUser.id).in_(author_ids))
        ).all()
    )
    return [
        BroadcastView(
            id=row.id or 0,
            title=row.title,
            text=row.text,
            overrides=dict(row.overrides),
            media_url=row.media_url,
            buttons=[list(r) for r in row.buttons],
            community_ids=list(row.community_ids),
            chat_ids=list(row.chat_ids),
            platforms=list(row.platforms),
            status=BroadcastStatus(row.status),
            scheduled_at=row.scheduled_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            created_by_name=names.get(row.created_by, "") if row.created_by else "",
            progress=totals[row.id or 0],
        )
        for row in rows
    ]


# --- where it goes and how it looks ---------------------------------------------------------


def resolve_targets(session: Session, draft: BroadcastDraft) -> list[ResolvedTarget]:
    """The chats ``draft`` goes to now: the postable chats of its communities and its chosen
    chats (a chosen Discord guild means its text channels, not its voice ones), on its
    platforms, once each.
    Chats that are gone, or that no connection can post to any more, are left out."""
    _known(session, Community, draft.community_ids, "Community")
    chosen = _known(session, Chat, draft.chat_ids, "Chat")
    guilds = [c.platform_chat_id for c in chosen if _is_guild(c)]
    channels = (
        session.exec(
            select(Chat).where(
                Chat.platform == "discord",
                col(Chat.parent_chat_id).in_(guilds),
                col(Chat.gone_at).is_(None),
                sa.not_(col(Chat.type).in_(VOICE_CHAT_TYPES)),
            )
        ).all()
        if guilds
        else []
    )
    chats = [
        *postable_chats(session, draft.community_ids),
        *(c for c in chosen if not _is_guild(c) and c.gone_at is None),
        *channels,
    ]
    kinds = _connector_kinds(session, {c.bot_instance_id for c in chats if c.bot_instance_id})
    found: dict[tuple[str, str], ResolvedTarget] = {}
    for chat in chats:
        platform = str(chat.platform)
        kind = kinds.get(chat.bot_instance_id or 0)
        if kind is None or (draft.platforms and platform not in draft.platforms):
            continue
        found.setdefault(
            (platform, chat.platform_chat_id),
            ResolvedTarget(
                chat_id=chat.id or 0,
                community_id=chat.community_id,
                platform=platform,
                connector_kind=kind,
                bot_instance_id=chat.bot_instance_id or 0,
                platform_chat_id=chat.platform_chat_id,
                title=chat.title,
            ),
        )
    return sorted(found.values(), key=lambda t: (t.platform, t.title.lower(), t.chat_id))


def _is_guild(chat: Chat) -> bool:
    return chat.platform == "discord" and chat.parent_chat_id is None


def _known(session: Session, table: Any, ids: list[int], noun: str) -> list[Any]:
    if not ids:
        return []
    rows = list(session.exec(select(table).where(col(table.id).in_(ids))).all())
    if missing := sorted(set(ids) - {row.id for row in rows}):
        listed = ", ".join(str(i) for i in missing)
        raise InvalidBroadcast(f"{noun} {listed} does not exist.")
    return rows


def _connector_kinds(session: Session, instance_ids: set[int]) -> dict[int, str]:
    """Connector kind of each connection that can still post."""
    if not instance_ids:
        return {}
    rows = session.exec(
        select(BotInstance.id, BotInstance.kind).where(col(BotInstance.id).in_(instance_ids))
    ).all()
    return {instance_id: str(kind) for instance_id, kind in rows if instance_id is not None}


def preview(draft: BroadcastDraft) -> dict[str, str]:
    """The draft as each of its platforms will show it (Telegram HTML, Discord and WhatsApp
    markdown)."""
    return {
        p: render(platform_text(draft.text, draft.overrides, p), p)
        for p in draft.platforms or PLATFORMS
    }


def _check_lengths(draft: BroadcastDraft, platforms: Iterable[str]) -> None:
    problems = [
        error
        for p in sorted(set(platforms))
        if (error := length_error(platform_text(draft.text, draft.overrides, p), p))
    ]
    if problems:
        raise InvalidBroadcast(f"Too long to send: {'; '.join(problems)}.")


def _check_time(at: datetime | None) -> None:
    if at is not None and as_utc(at) <= utcnow():
        raise InvalidBroadcast("The scheduled time is in the past; pick a later one.")


# --- changing -----------------------------------------------------------------------------------


def create_draft(session: Session, user: AdminUser, draft: BroadcastDraft) -> BroadcastView:
    require_role(user, Role.editor)
    row = _create(session, draft, created_by=user.id)
    _audit(session, user.username, "broadcast_created", row.id, title=row.title)
    return get(session, row.id or 0)


def update_draft(
    session: Session, user: AdminUser, broadcast_id: int, draft: BroadcastDraft
) -> BroadcastView:
    """Replace what a draft says; a scheduled broadcast goes back to being a draft (its
    chats are fixed again when it is sent)."""
    require_role(user, Role.editor)
    row = _get(session, broadcast_id)
    if row.status not in EDITABLE:
        raise BroadcastConflict(
            f"Broadcast {broadcast_id} is {row.status}: only drafts and scheduled ones change."
        )
    _checked(session, draft)
    if row.status == BroadcastStatus.scheduled:
        _drop_targets(session, broadcast_id)
    _fill(row, draft)
    row.status, row.updated_at = BroadcastStatus.draft, utcnow()
    session.add(row)
    _audit(session, user.username, "broadcast_updated", broadcast_id, title=row.title)
    _announce(session, row)
    return get(session, broadcast_id)


def delete_draft(session: Session, user: AdminUser, broadcast_id: int) -> None:
    """Delete a draft or a finished broadcast with its per-chat results; one that is
    scheduled or sending is cancelled first."""
    require_role(user, Role.editor)
    row = _get(session, broadcast_id)
    if row.status in UNDERWAY:
        raise BroadcastConflict(f"Broadcast {broadcast_id} is {row.status}: cancel it first.")
    _drop_targets(session, broadcast_id)
    session.delete(row)
    _audit(session, user.username, "broadcast_deleted", broadcast_id, title=row.title)


def send(
    session: Session, user: AdminUser, broadcast_id: int, *, at: datetime | None = None
) -> BroadcastView:
    """Send a draft now, or at ``at``: its chats are fixed now, delivery starts once this
    transaction commits (or when the time comes)."""
    require_role(user, Role.editor)
    row = _send(session, _get(session, broadcast_id), at)
    action = "broadcast_scheduled" if row.status == BroadcastStatus.scheduled else "broadcast_sent"
    _audit(
        session, user.username, action, broadcast_id, targets=progress(session, row.id or 0).total
    )
    return get(session, broadcast_id)


def send_as(session: Session, actor: str, draft: BroadcastDraft) -> BroadcastView:
    """Create and send at once on behalf of ``actor`` (a flow, ``flow:<id>``), which the
    editor role was checked for when the flow was published."""
    row = _create(session, draft, created_by=None)
    _send(session, row, None)
    _audit(session, actor, "broadcast_sent", row.id, targets=progress(session, row.id or 0).total)
    return get(session, row.id or 0)


def cancel(session: Session, user: AdminUser, broadcast_id: int) -> BroadcastView:
    """Stop a scheduled or sending broadcast: chats not reached yet will not be (a message
    already handed to a platform still arrives)."""
    require_role(user, Role.editor)
    row = _get(session, broadcast_id)
    if row.status not in UNDERWAY:
        raise BroadcastConflict(f"Broadcast {broadcast_id} is {row.status}; nothing to cancel.")
    now = utcnow()
    session.execute(
        sa.update(BroadcastTarget)
        .where(
            col(BroadcastTarget.broadcast_id) == broadcast_id,
            col(BroadcastTarget.status) == TargetStatus.pending,
        )
        .values(status=TargetStatus.cancelled, updated_at=now)
    )
    row.status, row.finished_at, row.updated_at = BroadcastStatus.cancelled, now, now
    session.add(row)
    _audit(session, user.username, "broadcast_cancelled", broadcast_id)
    _announce(session, row)
    return get(session, broadcast_id)


def retry_failed(session: Session, user: AdminUser, broadcast_id: int) -> BroadcastView:
    """Send again to the chats where a finished broadcast failed."""
    require_role(user, Role.editor)
    row = _get(session, broadcast_id)
    if row.status not in FINISHED:
        raise BroadcastConflict(f"Broadcast {broadcast_id} is {row.status}: wait until it ends.")
    now = utcnow()
    retried = affected_rows(
        session.execute(
            sa.update(BroadcastTarget)
            .where(
                col(BroadcastTarget.broadcast_id) == broadcast_id,
                col(BroadcastTarget.status) == TargetStatus.failed,
            )
            .values(status=TargetStatus.pending, error=None, updated_at=now)
        )
    )
    if not retried:
        raise BroadcastConflict(f"Broadcast {broadcast_id} has no failed chats to retry.")
    row.status, row.finished_at, row.lease_until = BroadcastStatus.sending, None, None
    row.updated_at = now
    session.add(row)
    _audit(session, user.username, "broadcast_retried", broadcast_id, targets=retried)
    _announce(session, row, start=True)
    return get(session, broadcast_id)


def _create(session: Session, draft: BroadcastDraft, *, created_by: int | None) -> BroadcastMessage:
    _checked(session, draft)
    row = BroadcastMessage(text=draft.text, created_by=created_by)
    _fill(row, draft)
    session.add(row)
    session.flush()
    return row


def _checked(session: Session, draft: BroadcastDraft) -> list[ResolvedTarget]:
    """What every saved broadcast satisfies: known chats and communities, a future time,
    and a text each of its platforms takes."""
    found = resolve_targets(session, draft)
    _check_time(draft.scheduled_at)
    _check_lengths(draft, (t.platform for t in found))
    return found


def _fill(row: BroadcastMessage, draft: BroadcastDraft) -> None:
    row.title = draft.title.strip()
    row.text = draft.text
    row.overrides = {platform: text for platform, text in draft.overrides.items()}
    row.media_url = draft.media_url
    row.buttons = [[b.model_dump() for b in buttons] for buttons in draft.buttons]
    row.community_ids = list(draft.community_ids)
    row.chat_ids = list(draft.chat_ids)
    row.platforms = list(draft.platforms)
    row.scheduled_at = stored_time(draft.scheduled_at) if draft.scheduled_at else None


def draft_of(session: Session, broadcast_id: int) -> BroadcastDraft:
    """What a broadcast says, as the draft it was composed from (to change a few fields)."""
    return _draft_of(_get(session, broadcast_id))


def _draft_of(row: BroadcastMessage) -> BroadcastDraft:
    planned = row.scheduled_at if row.scheduled_at and as_utc(row.scheduled_at) > utcnow() else None
    # Validated, not constructed: the row holds plain JSON (strings, button dicts).
    return BroadcastDraft.model_validate(
        {
            "title": row.title,
            "text": row.text,
            "overrides": row.overrides,
            "media_url": row.media_url,
            "buttons": row.buttons,
            "community_ids": row.community_ids,
            "chat_ids": row.chat_ids,
            "platforms": row.platforms,
            "scheduled_at": planned,
        }
    )


def _send(session: Session, row: BroadcastMessage, at: datetime | None) -> BroadcastMessage:
    if row.status not in EDITABLE:
        raise BroadcastConflict(f"Broadcast {row.id} is {row.status}: it was sent already.")
    _check_time(at)
    draft = _draft_of(row)
    found = _checked(session, draft)
    if not found:
        raise InvalidBroadcast(
            "No chat to send to: pick a community with linked chats, or chats, "
            "on the chosen platforms."
        )
    if missing := sorted(
        {t.platform for t in found if not platform_text(draft.text, draft.overrides, t.platform)}
    ):
        raise InvalidBroadcast(f"Write the text first (nothing to send on {', '.join(missing)}).")
    _drop_targets(session, row.id or 0)
    now = utcnow()
    session.add_all(
        BroadcastTarget(
            broadcast_id=row.id or 0,
            chat_id=t.chat_id,
            community_id=t.community_id,
            platform=Platform(t.platform),
            connector_kind=t.connector_kind,
            bot_instance_id=t.bot_instance_id,
            platform_chat_id=t.platform_chat_id,
            title=t.title[:256],
            updated_at=now,
        )
        for t in found
    )
    later = at is not None
    row.status = BroadcastStatus.scheduled if later else BroadcastStatus.sending
    row.scheduled_at = stored_time(at) if at is not None else None
    row.started_at = None if later else now
    row.finished_at, row.lease_until, row.updated_at = None, None, now
    session.add(row)
    session.flush()
    _announce(session, row, start=not later)
    return row


def _drop_targets(session: Session, broadcast_id: int) -> None:
    session.execute(
        sa.delete(BroadcastTarget).where(col(BroadcastTarget.broadcast_id) == broadcast_id)
    )


def _announce(session: Session, row: BroadcastMessage, *, start: bool = False) -> None:
    """Once this transaction commits: tell the pages watching it, and start delivery."""
    broadcast_id = row.id or 0
    session.flush()
    counts = broadcast_delivery.target_counts(session, broadcast_id)
    payload = broadcast_delivery.progress_payload(broadcast_id, BroadcastStatus(row.status), counts)

    def committed(_: Session) -> None:
        events.publish(broadcast_delivery.TOPIC.format(id=broadcast_id), payload)
        if start:
            broadcast_delivery.start(broadcast_id)

    _after_commit(session, committed)


def _after_commit(session: Session, callback: Callable[[Session], None]) -> None:
    sa.event.listen(session, "after_commit", callback, once=True)


def _audit(
    session: Session, actor: str, action: str, broadcast_id: int | None, **details: Any
) -> None:
    audit.record(session, actor, action, target_type="broadcast", target_id=broadcast_id, **details)

"""Scheduled messages: one post to one discovered chat, later or on a cron schedule.

The Scheduled page, /api/v1/scheduled-messages and the ``schedule_message`` node change
scheduled messages only through these functions, so the rules hold everywhere: viewers look,
editors create, edit, pause, resume and cancel; every change is audited.

Times are stored in UTC; a naive time is read in the message's time zone, and a cron is
evaluated there (so "9:00 every Monday" stays 9:00 across daylight saving). Only pending
and paused messages change: a sent, failed or cancelled one is history. Pausing keeps the
next time; resuming a repeating message whose next time passed meanwhile moves it to the
next cron time after now (missed repetitions are not sent in a burst), while a one-off whose
time passed is sent at the worker's next sweep (engine/scheduled_messages.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from cron_descriptor import get_description
from croniter import croniter
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from engine.db import affected_rows
from engine.message_format import length_error
from engine.models import (
    AdminUser,
    BotInstance,
    Chat,
    Community,
    FlowDefinition,
    Role,
    ScheduledDelivery,
    ScheduledMessage,
    ScheduledStatus,
    utcnow,
)
from engine.platform_calls import CONNECTORS
from engine.services import audit
from engine.services.auth import require_role
from engine.services.errors import Conflict, NotFound

MAX_TITLE = 256
MAX_TEXT = 10_000  # a bound; each platform's own limit is message_format.length_error's
MAX_CRON = 64
NEXT_RUNS = 5
_UTC = ZoneInfo("UTC")
UPCOMING = (ScheduledStatus.pending, ScheduledStatus.paused)
FLOW_PREFIX = "flow:"


class InvalidSchedule(ValueError):
    """A scheduled message refused, with a message fit to show the admin."""


class ScheduledNotFound(InvalidSchedule, NotFound):
    """The scheduled message does not exist (any more)."""


class NotChangeable(Conflict):
    """The message was sent, failed or cancelled: only pending and paused ones change."""


# --- schedules -----------------------------------------------------------------------------


def valid_cron(cron: str) -> str:
    """``cron`` if croniter reads it (five fields), else a refusal that says so."""
    if len(cron) > MAX_CRON or len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise InvalidSchedule(
            f"{cron!r} is not a cron schedule: give five fields, minute hour day-of-month "
            "month day-of-week (e.g. 0 9 * * MON)."
        )
    return cron


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(
            f"Unknown time zone {name!r}: use an IANA name like Europe/Berlin."
        ) from None


def describe_cron(cron: str) -> str:
    """The schedule in words ("At 09:00 AM, only on Monday")."""
    return str(get_description(valid_cron(cron)))


def next_runs(
    cron: str, timezone: str, count: int = NEXT_RUNS, after: datetime | None = None
) -> list[datetime]:
    """The next ``count`` times of ``cron`` strictly after ``after`` (default now), read in
    ``timezone``; each aware, in that zone."""
    runs = croniter(valid_cron(cron), _aware(after or utcnow()).astimezone(zone(timezone)))
    return [runs.get_next(datetime) for _ in range(count)]


def first_send(
    send_at: datetime | None, cron: str | None, timezone: str, now: datetime
) -> datetime:
    """When a new schedule first sends, aware UTC: ``send_at`` (naive: in ``timezone``), or
    else the cron's next time after ``now``."""
    tz = zone(timezone)
    if send_at is not None:
        return (send_at if send_at.tzinfo else send_at.replace(tzinfo=tz)).astimezone(_UTC)
    if cron:
        return next_runs(cron, timezone, 1, now)[0].astimezone(_UTC)
    raise InvalidSchedule("Give a time to send it at, or a cron schedule to repeat it on.")


# --- what the faces see ----------------------------------------------------------------------


class ScheduleFields(BaseModel):
    """A new scheduled message, or (update) the fields to change."""

    title: str = Field(default="", max_length=MAX_TITLE, examples=["Monday reminder"])
    chat_id: int = Field(description="A discovered chat's id (GET /chats).", examples=[3])
    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT,
        description="Flowbot markdown: **bold**, _italic_, ~~strike~~, `code`, [label](url).",
        examples=["**Weekly call** at 18:00: https://meet.example.com/abc"],
    )
    media_url: str | None = Field(
        default=None, max_length=2000, examples=["https://example.com/poster.png"]
    )
    send_at: datetime | None = Field(
        default=None,
        description="One-off: when to send (ISO 8601; without an offset, in `timezone`).",
        examples=["2026-12-24T18:00:00"],
    )
    repeat_cron: str | None = Field(
        default=None,
        description="Repeating: a five-field cron schedule, evaluated in `timezone`.",
        examples=["0 9 * * MON"],
    )
    timezone: str = Field(default="UTC", max_length=64, examples=["Europe/Berlin"])

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_picked(cls, value: Any) -> Any:
        if value is None or value == "":
            raise ValueError("Pick the chat to post in.")
        return value

    @field_validator("media_url", "repeat_cron")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value is not None else None

    @field_validator("repeat_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return valid_cron(value) if value else None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value


def fields_from(data: dict[str, Any]) -> ScheduleFields:
    """``data`` (a form, a merged update) as :class:`ScheduleFields`, or the first problem
    in plain words."""
    try:
        return ScheduleFields.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidSchedule(f"{where}: {message}" if where else message) from None


@dataclass(frozen=True)
class ScheduledView:
    scheduled_id: int
    title: str
    text: str
    media_url: str | None
    status: str
    next_at: datetime  # aware UTC: the next send (or the last one's due time, once finished)
    repeat_cron: str | None
    repeats: str  # the cron in words, "" for a one-off
    timezone: str
    chat_id: int | None  # the discovered chat
    platform_chat_id: str
    platform: str
    chat_title: str
    community_id: int | None
    community_name: str
    last_sent_at: datetime | None
    last_error: str | None
    created_by: str
    flow_id: int | None  # set when a flow's schedule_message node made it
    flow_name: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeliveryView:
    delivery_id: int
    due_at: datetime
    ok: bool
    error: str | None
    platform_message_id: str | None
    created_at: datetime


# --- reading -----------------------------------------------------------------------------------


def _filtered(status: ScheduledStatus | None, community_id: int | None) -> Any:
    query = select(ScheduledMessage)
    if status is not None:
        query = query.where(ScheduledMessage.status == status)
    if community_id is not None:
        query = query.where(ScheduledMessage.community_id == community_id)
    return query


def agenda(
    session: Session,
    *,
    status: ScheduledStatus | None = None,
    community_id: int | None = None,
    limit: int = 500,
) -> list[ScheduledView]:
    """The Scheduled page: pending and paused messages by next time (soonest first), or the
    messages of one ``status`` (finished ones latest first)."""
    query = _filtered(status, community_id)
    if status is None:
        query = query.where(col(ScheduledMessage.status).in_(UPCOMING))
    send_at = col(ScheduledMessage.send_at)
    order = send_at.desc() if status is not None and status not in UPCOMING else send_at.asc()
    rows = session.exec(query.order_by(order, col(ScheduledMessage.id)).limit(limit)).all()
    return _views(session, list(rows))


def page(
    session: Session,
    limit: int,
    *,
    before: int | None = None,
    status: ScheduledStatus | None = None,
    community_id: int | None = None,
) -> list[ScheduledView]:
    """Newest first, ids below ``before`` (keyset paging for the REST API)."""
    query = _filtered(status, community_id)
    if before is not None:
        query = query.where(col(ScheduledMessage.id) < before)
    rows = session.exec(query.order_by(col(ScheduledMessage.id).desc()).limit(limit)).all()
    return _views(session, list(rows))


def get(session: Session, scheduled_id: int) -> ScheduledView:
    return _views(session, [_get(session, scheduled_id)])[0]


def deliveries(
    session: Session, scheduled_id: int, limit: int = 50, *, before: int | None = None
) -> list[DeliveryView]:
    """The message's delivery attempts, newest first."""
    _get(session, scheduled_id)
    query = select(ScheduledDelivery).where(ScheduledDelivery.scheduled_message_id == scheduled_id)
    if before is not None:
        query = query.where(col(ScheduledDelivery.id) < before)
    rows = session.exec(query.order_by(col(ScheduledDelivery.id).desc()).limit(limit)).all()
    return [
        DeliveryView(
            delivery_id=d.id or 0,
            due_at=_aware(d.due_at),
            ok=d.ok,
            error=d.error,
            platform_message_id=d.platform_message_id,
            created_at=_aware(d.created_at),
        )
        for d in rows
    ]


def _views(session: Session, rows: list[ScheduledMessage]) -> list[ScheduledView]:
    chats = _by_id(session, Chat, {r.discovered_chat_id for r in rows})
    communities = _by_id(session, Community, {r.community_id for r in rows})
    bots = _by_id(session, BotInstance, {r.bot_instance_id for r in rows})
    flows = _by_id(session, FlowDefinition, {_flow_id(r) for r in rows})
    views = []
    for r in rows:
        chat = chats.get(r.discovered_chat_id)
        bot = bots.get(r.bot_instance_id)
        community, flow = communities.get(r.community_id), flows.get(_flow_id(r))
        kind = str(bot.kind) if bot else ""
        platform = (
            chat.platform if chat else CONNECTORS[kind].platform if kind in CONNECTORS else ""
        )
        views.append(
            ScheduledView(
                scheduled_id=r.id or 0,
                title=r.title,
                text=r.text,
                media_url=r.media_url,
                status=str(r.status),
                next_at=_aware(r.send_at),
                repeat_cron=r.repeat_cron,
                repeats=describe_cron(r.repeat_cron) if r.repeat_cron else "",
                timezone=r.timezone,
                chat_id=r.discovered_chat_id,
                platform_chat_id=r.chat_id,
                platform=str(chat.platform) if chat else platform,
                chat_title=(chat.title if chat else "") or r.chat_id,
                community_id=r.community_id,
                community_name=community.name if community else "",
                last_sent_at=_aware(r.last_sent_at) if r.last_sent_at else None,
                last_error=r.last_error,
                created_by=r.created_by,
                flow_id=_flow_id(r),
                flow_name=flow.name if flow else "",
                created_at=_aware(r.created_at),
                updated_at=_aware(r.updated_at),
            )
        )
    return views


def _by_id(session: Session, model: Any, ids: set[int | None]) -> dict[int | None, Any]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {row.id: row for row in session.exec(select(model).where(col(model.id).in_(wanted)))}


def _flow_id(row: ScheduledMessage) -> int | None:
    flow = row.created_by.removeprefix(FLOW_PREFIX)
    return int(flow) if row.created_by.startswith(FLOW_PREFIX) and flow.isdigit() else None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)


def _stored(moment: datetime) -> datetime:
    """Aware UTC as the columns expect it (naive UTC where ``utcnow()`` is naive)."""
    return moment if utcnow().tzinfo else moment.replace(tzinfo=None)


# --- changing ------------------------------------------------------------------------------


def create(session: Session, actor: AdminUser, fields: ScheduleFields) -> ScheduledView:
    """A new pending message; a one-off's time must be in the future."""
    require_role(actor, Role.editor)
    row = ScheduledMessage(chat_id="", text="", send_at=utcnow(), created_by=actor.username)
    _apply(session, row, fields)
    session.add(row)
    session.flush()
    _audit(session, actor, "scheduled_message_created", row)
    return get(session, row.id or 0)


def update(
    session: Session, actor: AdminUser, scheduled_id: int, changes: dict[str, Any]
) -> ScheduledView:
    """Change a pending or paused message: ``changes`` holds the fields to change (those of
    :class:`ScheduleFields`); a new schedule gives a new next time."""
    require_role(actor, Role.editor)
    row = _changeable(session, scheduled_id)
    current = {
        "title": row.title,
        "chat_id": row.discovered_chat_id,
        "text": row.text,
        "media_url": row.media_url,
        "send_at": None if row.repeat_cron else _aware(row.send_at),
        "repeat_cron": row.repeat_cron,
        "timezone": row.timezone,
    }
    if "repeat_cron" in changes and changes["repeat_cron"] and "send_at" not in changes:
        changes = {**changes, "send_at": None}
    if changes.get("send_at") is not None and "repeat_cron" not in changes:
        changes = {**changes, "repeat_cron": None}
    fields = fields_from({**current, **changes})
    schedule_changed = any(
        k in changes and changes[k] != current[k] for k in ("send_at", "repeat_cron", "timezone")
    )
    _apply(session, row, fields, reschedule=schedule_changed)
    session.add(row)
    _audit(session, actor, "scheduled_message_updated", row, fields=sorted(changes))
    return get(session, scheduled_id)


def pause(session: Session, actor: AdminUser, scheduled_id: int) -> ScheduledView:
    """Stop sending; the next time is kept for :func:`resume`."""
    return _move(session, actor, scheduled_id, ScheduledStatus.pending, ScheduledStatus.paused)


def resume(
    session: Session, actor: AdminUser, scheduled_id: int, now: datetime | None = None
) -> ScheduledView:
    """Send again: a repeating message's passed time moves to the next cron time after now;
    a one-off whose time passed goes out at the worker's next sweep."""
    view = _move(session, actor, scheduled_id, ScheduledStatus.paused, ScheduledStatus.pending)
    now = _aware(now or utcnow())
    if view.repeat_cron and view.next_at <= now:
        row = _get(session, scheduled_id)
        row.send_at = _stored(next_runs(view.repeat_cron, view.timezone, 1, now)[0])
        session.add(row)
        session.flush()
        return get(session, scheduled_id)
    return view


def cancel(session: Session, actor: AdminUser, scheduled_id: int) -> ScheduledView:
    """Never send it again (kept with its delivery history)."""
    require_role(actor, Role.editor)
    row = _changeable(session, scheduled_id)
    return _move(session, actor, scheduled_id, row.status, ScheduledStatus.cancelled)


def _move(
    session: Session,
    actor: AdminUser,
    scheduled_id: int,
    old: ScheduledStatus,
    new: ScheduledStatus,
) -> ScheduledView:
    """``old`` → ``new`` in one conditional UPDATE, so a worker recording a send at the same
    moment cannot bring an old status back."""
    require_role(actor, Role.editor)
    row = _get(session, scheduled_id)
    moved = session.execute(
        sa.update(ScheduledMessage)
        .where(col(ScheduledMessage.id) == scheduled_id, col(ScheduledMessage.status) == old)
        .values(status=new, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if affected_rows(moved) != 1:
        raise NotChangeable(f"The message is {row.status}, not {old}: it cannot be {new} now.")
    session.expire(row)
    _audit(session, actor, f"scheduled_message_{new}", row)
    return get(session, scheduled_id)


def _apply(
    session: Session, row: ScheduledMessage, fields: ScheduleFields, *, reschedule: bool = True
) -> None:
    chat = session.get(Chat, fields.chat_id)
    if chat is None or chat.gone_at is not None:
        raise InvalidSchedule(f"Chat {fields.chat_id} was never discovered, or is gone.")
    too_long = length_error(fields.text, str(chat.platform))
    if too_long:
        raise InvalidSchedule(f"The message is too long: {too_long}.")
    now = _aware(utcnow())
    if reschedule:
        when = first_send(
            None if fields.repeat_cron else fields.send_at,
            fields.repeat_cron,
            fields.timezone,
            now,
        )
        if when <= now:
            raise InvalidSchedule("That time has passed: pick a time in the future.")
        row.send_at = _stored(when)
    row.title, row.text, row.media_url = fields.title.strip(), fields.text, fields.media_url
    row.repeat_cron, row.timezone = fields.repeat_cron, fields.timezone
    row.discovered_chat_id, row.chat_id = chat.id, chat.platform_chat_id
    row.bot_instance_id, row.community_id = chat.bot_instance_id, chat.community_id
    row.updated_at = utcnow()


def _changeable(session: Session, scheduled_id: int) -> ScheduledMessage:
    row = _get(session, scheduled_id)
    if row.status not in UPCOMING:
        raise NotChangeable(f"The message is {row.status}: only pending or paused ones change.")
    return row


def _get(session: Session, scheduled_id: int) -> ScheduledMessage:
    row = session.get(ScheduledMessage, scheduled_id)
    if row is None:
        raise ScheduledNotFound(f"Scheduled message {scheduled_id} does not exist (any more).")
    return row


def _audit(
    session: Session, actor: AdminUser, action: str, row: ScheduledMessage, **details: Any
) -> None:
    audit.record(
        session,
        actor.username,
        action,
        target_type="scheduled_message",
        target_id=row.id,
        chat_id=row.chat_id,
        **details,
    )


def create_for_flow(
    session: Session,
    flow_id: int | None,
    *,
    platform: str | None,
    bot_instance_id: int | None,
    chat_id: str,
    community_id: int | None,
    text: str,
    media_url: str | None,
    send_at: datetime,
    repeat_cron: str | None,
    timezone: str,
) -> ScheduledMessage:
    """What a flow's ``schedule_message`` node scheduled: the flow acts, not an admin (its
    publisher was checked), and the chat is the platform's id, linked to the discovered chat
    when there is one."""
    chat = session.exec(
        select(Chat).where(Chat.platform == platform, Chat.platform_chat_id == chat_id)
    ).first()
    row = ScheduledMessage(
        community_id=community_id,
        bot_instance_id=bot_instance_id,
        discovered_chat_id=chat.id if chat else None,
        chat_id=chat_id,
        text=text,
        media_url=media_url,
        send_at=_stored(_aware(send_at)),
        repeat_cron=valid_cron(repeat_cron) if repeat_cron else None,
        timezone=timezone,
        created_by=f"{FLOW_PREFIX}{flow_id}",
    )
    session.add(row)
    session.flush()
    return row

"""Scheduled messages: one post to one discovered chat, once or on a cron schedule.

Every rule is engine/services/scheduled_messages.py's (the Scheduled page calls the same
functions). Times without an offset are read in the message's time zone; a cron is
evaluated there. Only pending and paused messages change (409 otherwise); resuming a
repeating message whose time passed moves it to its next cron time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Editor, Viewer, run
from engine.api.v1.errors import ApiError
from engine.api.v1.flows import refusals
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser, ScheduledStatus
from engine.services import scheduled_messages as scheduled
from engine.services.scheduled_messages import (
    DeliveryView,
    InvalidSchedule,
    ScheduledView,
    ScheduleFields,
)

router = APIRouter(prefix="/scheduled-messages", tags=["Scheduled messages"])
ScheduledId = Annotated[int, Path(description="The scheduled message's id.")]
NOT_NOW = refusals(c409="The message was sent, failed or cancelled: it no longer changes.")


class ScheduledOut(BaseModel):
    id: int
    title: str
    text: str = Field(description="Flowbot markdown, rendered per platform when sent.")
    media_url: str | None
    status: ScheduledStatus
    next_at: datetime = Field(
        description="The next send (UTC); once finished, the time of the last one."
    )
    repeat_cron: str | None = Field(examples=["0 9 * * MON"])
    repeats: str = Field(
        description="The cron in words; empty for a one-off.",
        examples=["At 09:00 AM, only on Monday"],
    )
    timezone: str = Field(examples=["Europe/Berlin"])
    chat_id: int | None = Field(
        description="The discovered chat (null: a flow gave only the platform's id)."
    )
    platform: str = Field(examples=["telegram"])
    platform_chat_id: str = Field(examples=["-1001234567890"])
    chat_title: str
    community_id: int | None
    last_sent_at: datetime | None
    last_error: str | None = Field(description="The platform's refusal of the last send.")
    created_by: str = Field(description="The admin's user name, or flow:<id>.")
    flow_id: int | None = Field(description="The flow whose schedule_message node made it.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: ScheduledView) -> ScheduledOut:
        return cls(
            id=view.scheduled_id,
            title=view.title,
            text=view.text,
            media_url=view.media_url,
            status=ScheduledStatus(view.status),
            next_at=view.next_at,
            repeat_cron=view.repeat_cron,
            repeats=view.repeats,
            timezone=view.timezone,
            chat_id=view.chat_id,
            platform=view.platform,
            platform_chat_id=view.platform_chat_id,
            chat_title=view.chat_title,
            community_id=view.community_id,
            last_sent_at=view.last_sent_at,
            last_error=view.last_error,
            created_by=view.created_by,
            flow_id=view.flow_id,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class ScheduledUpdate(BaseModel):
    """Only the fields to change; a new `send_at` makes it a one-off, a new `repeat_cron`
    makes it repeat."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "Call moved to 19:00", "repeat_cron": None}]}
    )

    title: str | None = Field(default=None, max_length=scheduled.MAX_TITLE)
    chat_id: int | None = None
    text: str | None = Field(default=None, min_length=1, max_length=scheduled.MAX_TEXT)
    media_url: str | None = Field(default=None, max_length=2000)
    send_at: datetime | None = None
    repeat_cron: str | None = Field(default=None, max_length=scheduled.MAX_CRON)
    timezone: str | None = Field(default=None, max_length=64)


class DeliveryOut(BaseModel):
    id: int
    due_at: datetime = Field(description="The time this attempt was for.")
    ok: bool
    error: str | None = Field(description="The platform's refusal, verbatim.")
    platform_message_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, view: DeliveryView) -> DeliveryOut:
        return cls(
            id=view.delivery_id,
            due_at=view.due_at,
            ok=view.ok,
            error=view.error,
            platform_message_id=view.platform_message_id,
            created_at=view.created_at,
        )


class CronPreviewOut(BaseModel):
    description: str = Field(examples=["At 09:00 AM, only on Monday"])
    next_runs: list[datetime] = Field(description="The next 5 times, in the given time zone.")


@router.get(
    "", response_model=paging.Page[ScheduledOut], summary="List scheduled messages (newest first)"
)
async def list_scheduled(
    caller: Viewer,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
    status: Annotated[ScheduledStatus | None, Query(description="Only this status.")] = None,
    community_id: Annotated[int | None, Query(description="Only this community's.")] = None,
) -> paging.Page[ScheduledOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[ScheduledOut]:
        views = scheduled.page(
            session, limit + 1, before=before, status=status, community_id=community_id
        )
        rows, after = paging.page_of(views, limit, lambda v: v.scheduled_id)
        return paging.Page(items=[ScheduledOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)


@router.get(
    "/cron-preview",
    response_model=CronPreviewOut,
    summary="A cron schedule in words and its next 5 times",
)
async def cron_preview(
    caller: Viewer,
    cron: Annotated[str, Query(max_length=scheduled.MAX_CRON, examples=["0 9 * * MON"])],
    timezone: Annotated[str, Query(max_length=64, examples=["Europe/Berlin"])] = "UTC",
) -> CronPreviewOut:
    try:
        return CronPreviewOut(
            description=scheduled.describe_cron(cron),
            next_runs=scheduled.next_runs(cron, timezone),
        )
    except InvalidSchedule as refused:
        raise ApiError(422, str(refused)) from None


@router.get("/{scheduled_id}", response_model=ScheduledOut, summary="Get a scheduled message")
async def get_scheduled(scheduled_id: ScheduledId, caller: Viewer) -> ScheduledOut:
    return await run(caller, lambda s, _: ScheduledOut.of(scheduled.get(s, scheduled_id)))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ScheduledOut,
    summary="Schedule a message (a one-off `send_at` or a repeating `repeat_cron`)",
    responses=refusals(c409="A request with this Idempotency-Key is still in progress."),
)
async def create_scheduled(
    body: ScheduleFields,
    caller: Editor,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, Any]:
        return ScheduledOut.of(scheduled.create(session, me, body)).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 201, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)


@router.patch(
    "/{scheduled_id}",
    response_model=ScheduledOut,
    summary="Edit a pending or paused message",
    responses=NOT_NOW,
)
async def update_scheduled(
    scheduled_id: ScheduledId, body: ScheduledUpdate, caller: Editor
) -> ScheduledOut:
    changes = body.model_dump(exclude_unset=True)
    return await run(
        caller, lambda s, me: ScheduledOut.of(scheduled.update(s, me, scheduled_id, changes))
    )


@router.post(
    "/{scheduled_id}/pause",
    response_model=ScheduledOut,
    summary="Pause a pending message (its next time is kept)",
    responses=NOT_NOW,
)
async def pause_scheduled(scheduled_id: ScheduledId, caller: Editor) -> ScheduledOut:
    return await run(caller, lambda s, me: ScheduledOut.of(scheduled.pause(s, me, scheduled_id)))


@router.post(
    "/{scheduled_id}/resume",
    response_model=ScheduledOut,
    summary="Resume a paused message (a passed repetition moves to the next cron time)",
    responses=NOT_NOW,
)
async def resume_scheduled(scheduled_id: ScheduledId, caller: Editor) -> ScheduledOut:
    return await run(caller, lambda s, me: ScheduledOut.of(scheduled.resume(s, me, scheduled_id)))


@router.post(
    "/{scheduled_id}/cancel",
    response_model=ScheduledOut,
    summary="Cancel a pending or paused message (kept with its history)",
    responses=NOT_NOW,
)
async def cancel_scheduled(scheduled_id: ScheduledId, caller: Editor) -> ScheduledOut:
    return await run(caller, lambda s, me: ScheduledOut.of(scheduled.cancel(s, me, scheduled_id)))


@router.get(
    "/{scheduled_id}/deliveries",
    response_model=paging.Page[DeliveryOut],
    summary="A scheduled message's delivery attempts, newest first",
)
async def scheduled_deliveries(
    scheduled_id: ScheduledId,
    caller: Viewer,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[DeliveryOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[DeliveryOut]:
        views = scheduled.deliveries(session, scheduled_id, limit + 1, before=before)
        rows, after = paging.page_of(views, limit, lambda v: v.delivery_id)
        return paging.Page(items=[DeliveryOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)

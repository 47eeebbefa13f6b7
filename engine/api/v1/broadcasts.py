"""Broadcasts: one announcement to many chats, with each chat's result.

Every rule is engine/services/broadcasts.py's (the Broadcast pages call the same functions).
A broadcast is a draft until sent; ``POST /{id}/send`` checks it is complete, fixes its
chats and starts the delivery job (or waits for ``at``); progress is in ``GET /{id}`` and
each chat's result in ``GET /{id}/targets``. Viewers read, editors compose and send.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Editor, Viewer, run
from engine.api.v1.flows import KEY_IN_USE, refusals
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser, BroadcastStatus, TargetStatus
from engine.services import broadcasts
from engine.services.broadcasts import BroadcastDraft, BroadcastView, TargetView

router = APIRouter(prefix="/broadcasts", tags=["Broadcasts"])
BroadcastId = Annotated[int, Path(description="The broadcast's id.")]
NOT_NOW = refusals(c409="Not in a state that allows this (e.g. it was sent already).")


class ProgressOut(BaseModel):
    total: int = Field(description="Chats it goes to (fixed when sent).")
    sent: int
    failed: int
    pending: int = Field(description="Not sent yet, or handed to the platform just now.")
    cancelled: int


class BroadcastOut(BaseModel):
    id: int
    title: str = Field(examples=["December meetup"])
    text: str = Field(description="Flowbot markdown.", examples=["**Meetup** on Friday"])
    overrides: dict[str, str] = Field(description="The text per platform, where it differs.")
    media_url: str | None
    buttons: list[list[dict[str, str]]] = Field(
        description="Link buttons, row by row.",
        examples=[[[{"text": "Details", "url": "https://example.org/meetup"}]]],
    )
    community_ids: list[int]
    chat_ids: list[int]
    platforms: list[str] = Field(description="Only these platforms; empty: all.")
    status: BroadcastStatus
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None = Field(description="How long delivery took, once done.")
    created_at: datetime
    updated_at: datetime
    created_by: str | None = Field(description="Who composed it; null when a flow sent it.")
    progress: ProgressOut

    @classmethod
    def of(cls, view: BroadcastView) -> BroadcastOut:
        took = view.duration
        return cls(
            id=view.id,
            title=view.title,
            text=view.text,
            overrides=view.overrides,
            media_url=view.media_url,
            buttons=view.buttons,
            community_ids=view.community_ids,
            chat_ids=view.chat_ids,
            platforms=view.platforms,
            status=view.status,
            scheduled_at=view.scheduled_at,
            started_at=view.started_at,
            finished_at=view.finished_at,
            duration_seconds=took.total_seconds() if took is not None else None,
            created_at=view.created_at,
            updated_at=view.updated_at,
            created_by=view.created_by_name or None,
            progress=ProgressOut(**vars(view.progress)),
        )


class TargetOut(BaseModel):
    """One chat of a sent broadcast and what happened there."""

    id: int
    chat_id: int | None
    community_id: int | None
    platform: str = Field(examples=["telegram"])
    platform_chat_id: str = Field(examples=["-1001234567890"])
    title: str = Field(description="The chat's title when it was sent.")
    status: TargetStatus
    attempts: int
    error: str | None = Field(description="The platform's refusal, as it said it.")
    platform_message_id: str | None
    sent_at: datetime | None

    @classmethod
    def of(cls, view: TargetView) -> TargetOut:
        return cls(
            id=view.id,
            chat_id=view.chat_id,
            community_id=view.community_id,
            platform=view.platform,
            platform_chat_id=view.platform_chat_id,
            title=view.title,
            status=view.status,
            attempts=view.attempts,
            error=view.error,
            platform_message_id=view.platform_message_id,
            sent_at=view.sent_at,
        )


class SendIn(BaseModel):
    at: datetime | None = Field(
        default=None,
        description="Send at this time (with its offset; UTC if none); empty: now.",
        examples=[None, "2026-12-24T18:00:00+01:00"],
    )


class PreviewOut(BaseModel):
    texts: dict[str, str] = Field(
        description="The text as each platform gets it: Telegram HTML, Discord and WhatsApp "
        "markdown.",
        examples=[{"telegram": "<b>Meetup</b> on Friday", "discord": "**Meetup** on Friday"}],
    )
    targets: dict[str, int] = Field(
        description="Chats it would go to now, per platform.", examples=[{"telegram": 3}]
    )


def _shown(session: Session, broadcast_id: int) -> BroadcastOut:
    return BroadcastOut.of(broadcasts.get(session, broadcast_id))


@router.get("", response_model=paging.Page[BroadcastOut], summary="List broadcasts")
async def list_broadcasts(
    caller: Viewer,
    status_filter: Annotated[
        BroadcastStatus | None, Query(alias="status", description="Only in this state.")
    ] = None,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[BroadcastOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[BroadcastOut]:
        views = broadcasts.list_broadcasts(
            session, status=status_filter, limit=limit + 1, before=before
        )
        rows, after = paging.page_of(views, limit, lambda v: v.id)
        return paging.Page(items=[BroadcastOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BroadcastOut,
    summary="Save a draft (send it with POST /broadcasts/{id}/send)",
    responses=refusals(c409=KEY_IN_USE),
)
async def create_broadcast(
    body: BroadcastDraft,
    caller: Editor,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, Any]:
        made = broadcasts.create_draft(session, me, body)
        return BroadcastOut.of(made).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 201, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)


@router.post(
    "/preview",
    response_model=PreviewOut,
    summary="How a draft looks per platform and where it would go",
)
async def preview(body: BroadcastDraft, caller: Viewer) -> PreviewOut:
    def action(session: Session, _: AdminUser) -> PreviewOut:
        found = broadcasts.resolve_targets(session, body)
        return PreviewOut(
            texts=broadcasts.preview(body), targets=dict(Counter(t.platform for t in found))
        )

    return await run(caller, action)


@router.get("/{broadcast_id}", response_model=BroadcastOut, summary="A broadcast and its progress")
async def get_broadcast(broadcast_id: BroadcastId, caller: Viewer) -> BroadcastOut:
    return await run(caller, lambda s, _: _shown(s, broadcast_id))


@router.patch(
    "/{broadcast_id}",
    response_model=BroadcastOut,
    summary="Change a draft (a scheduled broadcast goes back to draft)",
    responses=NOT_NOW,
)
async def update_broadcast(
    broadcast_id: BroadcastId, body: BroadcastDraft, caller: Editor
) -> BroadcastOut:
    changes = body.model_dump(exclude_unset=True)

    def action(session: Session, me: AdminUser) -> BroadcastOut:
        current = broadcasts.draft_of(session, broadcast_id).model_dump()
        draft = BroadcastDraft.model_validate(current | changes)
        return BroadcastOut.of(broadcasts.update_draft(session, me, broadcast_id, draft))

    return await run(caller, action)


@router.delete(
    "/{broadcast_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a draft or a finished broadcast with its results",
    responses=refusals(c409="It is scheduled or sending: cancel it first."),
)
async def delete_broadcast(broadcast_id: BroadcastId, caller: Editor) -> None:
    await run(caller, lambda s, me: broadcasts.delete_draft(s, me, broadcast_id))


@router.post(
    "/{broadcast_id}/send",
    response_model=BroadcastOut,
    summary="Send now, or at a time: its chats are fixed now",
    responses=NOT_NOW,
)
async def send_broadcast(
    broadcast_id: BroadcastId, caller: Editor, body: SendIn | None = None
) -> BroadcastOut:
    at = body.at if body else None
    return await run(
        caller, lambda s, me: BroadcastOut.of(broadcasts.send(s, me, broadcast_id, at=at))
    )


@router.post(
    "/{broadcast_id}/cancel",
    response_model=BroadcastOut,
    summary="Cancel: chats not reached yet will not be",
    responses=NOT_NOW,
)
async def cancel_broadcast(broadcast_id: BroadcastId, caller: Editor) -> BroadcastOut:
    return await run(caller, lambda s, me: BroadcastOut.of(broadcasts.cancel(s, me, broadcast_id)))


@router.post(
    "/{broadcast_id}/retry-failed",
    response_model=BroadcastOut,
    summary="Send again to the chats where it failed",
    responses=NOT_NOW,
)
async def retry_failed(broadcast_id: BroadcastId, caller: Editor) -> BroadcastOut:
    return await run(
        caller, lambda s, me: BroadcastOut.of(broadcasts.retry_failed(s, me, broadcast_id))
    )


@router.get(
    "/{broadcast_id}/targets",
    response_model=paging.Page[TargetOut],
    summary="Each chat of a sent broadcast and its result",
)
async def broadcast_targets(
    broadcast_id: BroadcastId,
    caller: Viewer,
    status_filter: Annotated[
        TargetStatus | None, Query(alias="status", description="Only chats in this state.")
    ] = None,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[TargetOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[TargetOut]:
        views = broadcasts.targets(
            session, broadcast_id, status=status_filter, limit=limit + 1, before=before
        )
        rows, after = paging.page_of(views, limit, lambda v: v.id)
        return paging.Page(items=[TargetOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)

"""Webhook endpoints: the URLs other systems call to start a flow.

Every rule is engine/services/webhooks.py's (the Webhooks page calls the same functions).
A signing secret is in the answer that made it and nowhere else; a listed endpoint says
only whether it has one. Rotating the token gives the endpoint a new URL (the old one
answers 404 at once).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Caller, Editor, Viewer, run
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser
from engine.services import webhooks
from engine.services.webhooks import (
    MAX_BODY_BYTES,
    MAX_TIMEOUT,
    MIN_BODY_BYTES,
    MIN_TIMEOUT,
    WebhookView,
)

router = APIRouter(prefix="/webhooks", tags=["Webhooks"])
Change = Callable[[Session, AdminUser], object]
WebhookId = Annotated[int, Path(description="The webhook's id.")]
Name = Annotated[str, Field(min_length=1, max_length=webhooks.MAX_NAME, examples=["Shop orders"])]
WaitForResult = Annotated[
    bool,
    Field(description="Answer callers with the run's result (200) instead of only its id (202)."),
]
Timeout = Annotated[
    int,
    Field(
        ge=MIN_TIMEOUT, le=MAX_TIMEOUT, description="How long a waiting caller waits, in seconds."
    ),
]
MaxBody = Annotated[
    int,
    Field(
        ge=MIN_BODY_BYTES,
        le=MAX_BODY_BYTES,
        description="Larger request bodies are refused (413).",
    ),
]


class WebhookOut(BaseModel):
    """An endpoint as listed: whether it is signed, never its secret."""

    id: int
    name: str = Field(examples=["Shop orders"])
    flow_id: int
    flow_name: str
    node_id: str | None = Field(
        description="The flow's Webhook trigger node that owns it (publishing the flow sets "
        "its name, signing and waiting); null: made through this API or the Webhooks page.",
        examples=["hook"],
    )
    node_removed_at: datetime | None = Field(
        description="When a publish removed its node: it is off and answers 410 since."
    )
    url: str = Field(
        description="The address callers POST to; rotating the token changes it.",
        examples=[webhooks.EXAMPLE_URL],
    )
    signed: bool = Field(
        description=f"Calls must carry {webhooks.SIGNATURE_HEADER} and "
        f"{webhooks.TIMESTAMP_HEADER} (HMAC-SHA256 of `<timestamp>.<body>`)."
    )
    active: bool = Field(description="A paused endpoint answers 404.")
    wait_for_result: bool
    timeout_seconds: int
    max_body_bytes: int
    call_count: int
    last_called_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, view: WebhookView) -> WebhookOut:
        return cls(
            id=view.webhook_id,
            name=view.name,
            flow_id=view.flow_id,
            flow_name=view.flow_name,
            node_id=view.node_id,
            node_removed_at=view.node_removed_at,
            url=view.url,
            signed=view.has_secret,
            active=view.is_active,
            wait_for_result=view.wait_for_result,
            timeout_seconds=view.wait_timeout_seconds,
            max_body_bytes=view.max_body_bytes,
            call_count=view.call_count,
            last_called_at=view.last_called_at,
            created_at=view.created_at,
        )


class WebhookCreate(BaseModel):
    name: Name
    flow_id: int = Field(description="The flow each call starts (once published).")
    wait_for_result: WaitForResult = False
    timeout_seconds: Timeout = 10
    max_body_bytes: MaxBody = 1_048_576


class WebhookUpdate(BaseModel):
    """Only the fields to change."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"timeout_seconds": 30, "max_body_bytes": 65536}]}
    )

    name: Name | None = None
    wait_for_result: WaitForResult | None = None
    timeout_seconds: Timeout | None = None
    max_body_bytes: MaxBody | None = None


class WebhookSecret(WebhookOut):
    secret: str = Field(description="The signing secret: shown this once, store it now.")


@router.get("", response_model=paging.Page[WebhookOut], summary="List webhooks")
async def list_webhooks(
    caller: Viewer,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
    flow_id: Annotated[int | None, Query(description="Only the ones starting this flow.")] = None,
) -> paging.Page[WebhookOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[WebhookOut]:
        views = webhooks.webhook_page(session, limit + 1, before=before, flow_id=flow_id)
        rows, after = paging.page_of(views, limit, lambda v: v.webhook_id)
        return paging.Page(items=[WebhookOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)


def _shown(session: Session, webhook_id: int) -> WebhookOut:
    """The endpoint as it is now, in the change's own transaction (its answer)."""
    return WebhookOut.of(webhooks.get_webhook(session, webhook_id))


async def _changed(caller: Caller, webhook_id: int, change: Change) -> WebhookOut:
    """Make the change and answer the endpoint as it is after it, in one transaction."""

    def action(session: Session, me: AdminUser) -> WebhookOut:
        change(session, me)
        return _shown(session, webhook_id)

    return await run(caller, action)


@router.get("/{webhook_id}", response_model=WebhookOut, summary="Get a webhook")
async def get_webhook(webhook_id: WebhookId, caller: Viewer) -> WebhookOut:
    return await run(caller, lambda s, _: _shown(s, webhook_id))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookOut,
    summary="Create a webhook (unsigned; add a secret with POST …/secret)",
)
async def create_webhook(
    body: WebhookCreate, caller: Editor, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, Any]:
        made = webhooks.create_webhook(session, me, body.name, body.flow_id)
        webhook_id = made.id or 0
        if options := body.model_dump(exclude_unset=True, exclude={"name", "flow_id"}):
            webhooks.update_webhook(session, me, webhook_id, **options)
        return _shown(session, webhook_id).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 201, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)


@router.patch("/{webhook_id}", response_model=WebhookOut, summary="Change a webhook's settings")
async def update_webhook(webhook_id: WebhookId, body: WebhookUpdate, caller: Editor) -> WebhookOut:
    changes = body.model_dump(exclude_unset=True)
    return await _changed(
        caller, webhook_id, lambda s, me: webhooks.update_webhook(s, me, webhook_id, **changes)
    )


@router.post(
    "/{webhook_id}/secret",
    response_model=WebhookSecret,
    summary="Set or rotate the signing secret (in this answer only; the old one stops working)",
)
async def rotate_secret(webhook_id: WebhookId, caller: Editor) -> WebhookSecret:
    def action(session: Session, me: AdminUser) -> WebhookSecret:
        secret = webhooks.new_secret(session, me, webhook_id)
        return WebhookSecret(**_shown(session, webhook_id).model_dump(), secret=secret)

    return await run(caller, action)


@router.delete(
    "/{webhook_id}/secret",
    response_model=WebhookOut,
    summary="Remove the signing secret (unsigned calls are accepted again)",
)
async def clear_secret(webhook_id: WebhookId, caller: Editor) -> WebhookOut:
    return await _changed(
        caller, webhook_id, lambda s, me: webhooks.clear_secret(s, me, webhook_id)
    )


@router.post(
    "/{webhook_id}/token",
    response_model=WebhookOut,
    summary="Rotate the token: a new URL (the old one answers 404 at once)",
)
async def rotate_token(webhook_id: WebhookId, caller: Editor) -> WebhookOut:
    return await _changed(
        caller, webhook_id, lambda s, me: webhooks.rotate_token(s, me, webhook_id)
    )


@router.post(
    "/{webhook_id}/pause",
    response_model=WebhookOut,
    summary="Pause a webhook (its URL answers 404 until resumed)",
)
async def pause_webhook(webhook_id: WebhookId, caller: Editor) -> WebhookOut:
    return await _changed(
        caller, webhook_id, lambda s, me: webhooks.set_active(s, me, webhook_id, False)
    )


@router.post("/{webhook_id}/resume", response_model=WebhookOut, summary="Resume a webhook")
async def resume_webhook(webhook_id: WebhookId, caller: Editor) -> WebhookOut:
    return await _changed(
        caller, webhook_id, lambda s, me: webhooks.set_active(s, me, webhook_id, True)
    )


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a webhook")
async def delete_webhook(webhook_id: WebhookId, caller: Editor) -> None:
    await run(caller, lambda s, me: webhooks.delete_webhook(s, me, webhook_id))

"""The ``schedule_message`` node: a flow schedules a message for later, once or on a cron.

The row and its rules (cron, time zone, the first time) are engine/services/scheduled_messages.py's,
shared with the Scheduled page and the REST API; the worker's sweep sends it
(engine/scheduled_messages.py), and the page shows it as "created by flow <name>".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, field_validator
from sqlmodel import Session

from engine.db import in_session
from engine.models import utcnow
from engine.nodes.base import ChatRef, NodeParams, NodeResult, RunContext
from engine.nodes.community_data import community_of_chat
from engine.nodes.cross_platform import TEXT_FIELD, cross_platform
from engine.services import scheduled_messages


class ScheduleMessageParams(NodeParams):
    text: str = TEXT_FIELD
    chat_id: ChatRef | None = Field(
        default=None,
        description="Chat to post in; empty means the trigger's chat",
        examples=["-1001234567890"],
    )
    delay_seconds: int | None = Field(
        default=None,
        ge=0,
        le=366 * 24 * 3600,
        description="Send this long from now",
        examples=[3600],
    )
    send_at: datetime | None = Field(
        default=None,
        description="Or send at this moment (ISO 8601; naive means in the time zone)",
        examples=["2026-12-24T18:00:00"],
    )
    repeat_cron: str | None = Field(
        default=None, description="Repeat on this cron schedule", examples=["0 9 * * MON"]
    )
    timezone: str = Field(
        default="UTC", description="Time zone of send_at and the cron", examples=["Europe/Berlin"]
    )
    media_url: str | None = Field(
        default=None, description="Optional media to attach", examples=["https://example.com/a.png"]
    )

    @field_validator("repeat_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return scheduled_messages.valid_cron(value) if value else value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        scheduled_messages.zone(value)
        return value


def _first_send(p: ScheduleMessageParams) -> datetime:
    """The first send: ``send_at``, or the cron's next time, or ``delay_seconds`` from now."""
    now = utcnow()
    if p.send_at is None and (p.delay_seconds is not None or not p.repeat_cron):
        return now + timedelta(seconds=p.delay_seconds or 0)
    return scheduled_messages.first_send(p.send_at, p.repeat_cron, p.timezone, now)


def _schedule(session: Session, ctx: RunContext, p: ScheduleMessageParams) -> dict[str, Any]:
    chat_id = p.chat_id or (ctx.trigger.get("chat") or {}).get("id")
    if not chat_id:
        raise ValueError("no chat to post in: give chat_id")
    community = community_of_chat(session, ctx.trigger)
    row = scheduled_messages.create_for_flow(
        session,
        ctx.flow_id,
        platform=ctx.trigger.get("platform"),
        bot_instance_id=ctx.trigger.get("instance_id"),
        chat_id=str(chat_id),
        community_id=community.id if community else None,
        text=p.text,
        media_url=p.media_url,
        send_at=_first_send(p),
        repeat_cron=p.repeat_cron,
        timezone=p.timezone,
    )
    return {
        "scheduled_message_id": row.id,
        "chat_id": row.chat_id,
        "send_at": row.send_at.isoformat(),
    }


@cross_platform(
    "schedule_message",
    "Schedule message",
    "Send a message later, once or repeatedly; cancel it by its id.",
    ScheduleMessageParams,
)
async def schedule_message(ctx: RunContext, p: ScheduleMessageParams) -> NodeResult:
    return NodeResult(output=await in_session(_schedule, ctx, p))

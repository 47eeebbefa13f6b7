"""Messages sent later, once or on a cron schedule, and what each delivery did."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, enum_field, fk


class ScheduledStatus(StrEnum):
    pending = "pending"
    paused = "paused"  # kept with its next time; resuming moves a past time to the next one
    sent = "sent"
    failed = "failed"
    cancelled = "cancelled"


class ScheduledMessage(SQLModel, table=True):
    __tablename__ = "scheduled_message"
    __table_args__ = (sa.Index("ix_scheduled_message_due", "status", "send_at"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(default="", sa_type=sa.String(256))
    community_id: int | None = fk("community.id", nullable=True)
    bot_instance_id: int | None = fk("bot_instance.id", nullable=True)
    # The discovered chat it was picked from (chat.id); ``chat_id`` is the platform's id,
    # which is all a flow's schedule_message node may know.
    discovered_chat_id: int | None = fk("chat.id", nullable=True, index=False)
    chat_id: str = Field(sa_type=sa.String(64))
    text: str = Field(sa_type=sa.Text)
    media_url: str | None = Field(default=None, sa_type=sa.Text)
    send_at: datetime
    # Cron expression for repeating messages (croniter), evaluated in ``timezone``.
    repeat_cron: str | None = Field(default=None, sa_type=sa.String(64))
    timezone: str = Field(default="UTC", sa_type=sa.String(64))
    status: ScheduledStatus = enum_field(ScheduledStatus.pending)
    last_sent_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_by: str = Field(default="", sa_type=sa.String(128))
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class ScheduledDelivery(SQLModel, table=True):
    """One attempt to send a scheduled message at one of its times."""

    __tablename__ = "scheduled_delivery"
    __table_args__ = (sa.Index("ix_scheduled_delivery_message", "scheduled_message_id", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    scheduled_message_id: int = fk("scheduled_message.id", index=False, ondelete="CASCADE")
    due_at: datetime
    ok: bool = True
    error: str | None = Field(default=None, sa_type=sa.Text)
    platform_message_id: str | None = Field(default=None, sa_type=sa.String(64))
    created_at: datetime = created_at_field()

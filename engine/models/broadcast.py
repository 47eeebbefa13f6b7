"""Messages sent to many communities at once, and cross-post templates."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, enum_field, fk, json_field


class BroadcastStatus(StrEnum):
    draft = "draft"
    queued = "queued"
    sending = "sending"
    sent = "sent"
    partial = "partial"
    failed = "failed"


class BroadcastMessage(SQLModel, table=True):
    __tablename__ = "broadcast_message"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(default="", sa_type=sa.String(256))
    text: str = Field(sa_type=sa.Text)
    media_url: str | None = Field(default=None, sa_type=sa.Text)
    parse_mode: str | None = Field(default=None, sa_type=sa.String(16))
    community_ids: list[int] = json_field(list)
    platforms: list[str] = json_field(list)
    status: BroadcastStatus = enum_field(BroadcastStatus.draft, index=True)
    scheduled_at: datetime | None = None
    sent_at: datetime | None = None
    # Per target: {"community": 1, "platform": "telegram", "chat": "...", "ok": true, "error": ...}
    results: list[dict[str, Any]] = json_field(list)
    created_by: int | None = fk("admin_user.id", nullable=True, index=False)
    created_at: datetime = created_at_field()


class CrossPostTemplate(SQLModel, table=True):
    """Where a message posted in one chat is syndicated, formatted per platform."""

    __tablename__ = "cross_post_template"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(128))
    source_community_id: int | None = fk("community.id", nullable=True)
    # [{"platform": "discord", "instance_id": 3, "chat_id": "..."}]
    targets: list[dict[str, Any]] = json_field(list)
    # {"telegram": "<b>{{text}}</b>", "discord": "**{{text}}**"}
    formats: dict[str, str] = json_field()
    is_active: bool = True
    created_at: datetime = created_at_field()

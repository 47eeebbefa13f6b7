"""Announcements to many chats (broadcasts), cross-posting between chats, and their history.

A broadcast is a draft until sent; sending fixes its targets as ``broadcast_target`` rows,
one per chat, so delivery can pace itself per platform, resume after a worker died, report
each chat's result and retry only the failed ones. Cross-posting is split in two: a
template says how a message looks on each platform, a rule says which chat's messages go
where through which template; ``cross_post_delivery`` remembers what was posted where, so
edits and deletions can follow and the rule's history can be shown.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import Platform, created_at_field, enum_field, fk, json_field


class BroadcastStatus(StrEnum):
    draft = "draft"
    scheduled = "scheduled"  # sent for a later time: targets fixed, waiting for it
    sending = "sending"
    sent = "sent"  # every target sent
    partial = "partial"  # finished, some targets failed
    failed = "failed"  # finished, no target sent
    cancelled = "cancelled"


class BroadcastMessage(SQLModel, table=True):
    """One announcement: what it says, where it goes, and where delivery stands."""

    __tablename__ = "broadcast_message"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(default="", sa_type=sa.String(256))
    # Written once in Flowbot's markdown (engine/message_format.py), shown per platform.
    text: str = Field(sa_type=sa.Text)
    # {"discord": "...", "whatsapp": "..."}: replaces ``text`` on that platform.
    overrides: dict[str, str] = json_field()
    media_url: str | None = Field(default=None, sa_type=sa.Text)
    # Link buttons under the message, row by row: [[{"text": "Docs", "url": "https://..."}]]
    buttons: list[list[dict[str, str]]] = json_field(list)
    # Who gets it: every linked chat of these communities, these discovered chats (chat.id),
    # narrowed to these platforms (empty: all).
    community_ids: list[int] = json_field(list)
    chat_ids: list[int] = json_field(list)
    platforms: list[str] = json_field(list)
    status: BroadcastStatus = enum_field(BroadcastStatus.draft, index=True)
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # The delivery job holding it renews this; once past, another worker resumes it.
    lease_until: datetime | None = None
    created_by: int | None = fk("admin_user.id", nullable=True, index=False)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class TargetStatus(StrEnum):
    pending = "pending"
    sending = "sending"  # handed to the pool; a resumed job sends it again under the same key
    sent = "sent"
    failed = "failed"
    cancelled = "cancelled"


class BroadcastTarget(SQLModel, table=True):
    """One chat of a sent broadcast and what happened there."""

    __tablename__ = "broadcast_target"
    __table_args__ = (
        sa.UniqueConstraint("broadcast_id", "platform", "platform_chat_id"),
        sa.Index("ix_broadcast_target_progress", "broadcast_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = fk("broadcast_message.id", index=False, ondelete="CASCADE")
    chat_id: int | None = fk("chat.id", nullable=True, index=False)
    community_id: int | None = fk("community.id", nullable=True, index=False)
    platform: Platform = enum_field(Platform.telegram)
    connector_kind: str = Field(sa_type=sa.String(32))
    bot_instance_id: int | None = fk("bot_instance.id", nullable=True, index=False)
    platform_chat_id: str = Field(sa_type=sa.String(64))
    title: str = Field(default="", sa_type=sa.String(256))  # the chat's title when sent
    status: TargetStatus = enum_field(TargetStatus.pending)
    attempts: int = 0
    error: str | None = Field(default=None, sa_type=sa.Text)
    platform_message_id: str | None = Field(default=None, sa_type=sa.String(64))
    sent_at: datetime | None = None
    updated_at: datetime = created_at_field()


class CrossPostTemplate(SQLModel, table=True):
    """How a mirrored message looks on each platform.

    ``formats`` maps a platform (or ``default``) to a template over the source message:
    ``{{ text }}``, ``{{ author }}``, ``{{ chat }}``, ``{{ link }}``, ``{{ media }}``.
    """

    __tablename__ = "cross_post_template"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(128))
    formats: dict[str, str] = json_field()
    is_active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class CrossPostRule(SQLModel, table=True):
    """When something is posted in one chat, post it to others through a template."""

    __tablename__ = "cross_post_rule"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(128))
    source_chat_id: int = fk("chat.id", ondelete="CASCADE")
    target_chat_ids: list[int] = json_field(list)  # chat.id of each target
    template_id: int | None = fk("cross_post_template.id", nullable=True)
    # Which messages: {"contains": "...", "regex": "...", "media_only": false, ...}
    # (validated by the cross-posting service).
    filter: dict[str, Any] = json_field()
    include_media: bool = True
    mirror_edits: bool = False
    mirror_deletes: bool = False
    is_active: bool = True
    created_by: int | None = fk("admin_user.id", nullable=True, index=False)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class CrossPostAction(StrEnum):
    post = "post"
    edit = "edit"
    delete = "delete"


class CrossPostDelivery(SQLModel, table=True):
    """One mirrored message (or its edit or deletion) in one target chat."""

    __tablename__ = "cross_post_delivery"
    __table_args__ = (
        sa.Index("ix_cross_post_delivery_rule", "rule_id", "created_at"),
        # Edits and deletions find the copies of their source message.
        sa.Index(
            "ix_cross_post_delivery_source",
            "source_platform",
            "source_chat_id",
            "source_message_id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = fk("cross_post_rule.id", index=False, ondelete="CASCADE")
    action: CrossPostAction = enum_field(CrossPostAction.post)
    source_platform: Platform = enum_field(Platform.telegram)
    source_chat_id: str = Field(sa_type=sa.String(64))
    source_message_id: str = Field(sa_type=sa.String(64))
    target_chat_id: int | None = fk("chat.id", nullable=True, index=False)
    target_platform: Platform = enum_field(Platform.telegram)
    target_platform_chat_id: str = Field(sa_type=sa.String(64))
    target_message_id: str | None = Field(default=None, sa_type=sa.String(64))
    ok: bool = True
    error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = created_at_field()

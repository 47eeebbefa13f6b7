"""Warnings and the moderation log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import Platform, created_at_field, enum_field, fk, json_field


class Warning(SQLModel, table=True):  # noqa: A001 - the domain's own word
    __tablename__ = "warning"
    __table_args__ = (
        sa.Index("ix_warning_member_active", "community_id", "platform_account_id", "revoked_at"),
        sa.Index("ix_warning_community_created", "community_id", "created_at"),  # analytics
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("community.id", index=False)
    platform_account_id: int = fk("platform_account.id")
    reason: str = Field(default="", sa_type=sa.Text)
    issued_by: str = Field(default="", sa_type=sa.String(128))
    created_at: datetime = created_at_field()
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    @staticmethod
    def active_at(now: datetime) -> sa.ColumnElement[bool]:
        """The one definition of an active warning: it counts until revoked or expired."""
        columns = Warning.__table__.c  # type: ignore[attr-defined]  # SQLModel's table
        return sa.and_(
            columns.revoked_at.is_(None),
            sa.or_(columns.expires_at.is_(None), columns.expires_at > now),
        )


class ModerationAction(StrEnum):
    warn = "warn"
    unwarn = "unwarn"
    mute = "mute"
    unmute = "unmute"
    kick = "kick"
    ban = "ban"
    unban = "unban"
    delete_message = "delete_message"
    reputation = "reputation"
    note = "note"


class ModerationLog(SQLModel, table=True):
    __tablename__ = "moderation_log"
    __table_args__ = (
        sa.Index("ix_moderation_log_community_created", "community_id", "created_at"),
        sa.Index("ix_moderation_log_created", "created_at", "id"),  # the activity feed
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int | None = fk("community.id", nullable=True, index=False)
    action: ModerationAction = enum_field(ModerationAction.note)
    platform: Platform | None = Field(default=None, sa_type=sa.String(32))
    target_account_id: int | None = fk("platform_account.id", nullable=True)
    actor: str = Field(default="", sa_type=sa.String(128))
    reason: str = Field(default="", sa_type=sa.Text)
    details: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()

"""Daily community figures and per-member reputation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, fk, json_field


class CommunityAnalyticsSnapshot(SQLModel, table=True):
    __tablename__ = "community_analytics_snapshot"
    __table_args__ = (sa.UniqueConstraint("community_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("community.id")
    day: date
    member_count: int = 0
    joined: int = 0
    left: int = 0
    messages: int = 0
    active_members: int = 0
    warnings: int = 0
    bans: int = 0
    by_platform: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()


class ReputationScore(SQLModel, table=True):
    __tablename__ = "reputation_score"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "platform_account_id"),
        sa.Index("ix_reputation_score_leaderboard", "community_id", "score"),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("community.id", index=False)
    platform_account_id: int = fk("platform_account.id")
    score: int = 0
    given_up: int = 0
    given_down: int = 0
    updated_at: datetime = created_at_field()


class ReputationEvent(SQLModel, table=True):
    """One change of a member's reputation: its history, and what daily caps count."""

    __tablename__ = "reputation_event"
    __table_args__ = (
        sa.Index("ix_reputation_event_member", "community_id", "platform_account_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("community.id", index=False)
    platform_account_id: int = fk("platform_account.id")
    delta: int
    reason: str = Field(default="", sa_type=sa.Text)
    actor: str = Field(default="", sa_type=sa.String(128))
    # The earning rule that gave it (its index in the community's rules), None if manual.
    rule: str | None = Field(default=None, sa_type=sa.String(64))
    created_at: datetime = created_at_field()

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


class FlowDailyStats(SQLModel, table=True):
    """One flow's executions on one UTC day, rolled up so that analytics over a year read
    365 rows per flow instead of every execution (executions are pruned after 30 days).

    Percentiles cannot be summed, so durations are kept as a histogram (upper bound of a
    bucket in ms → count) that merges across days.

    Once a month is over, each flow also gets one ``span="month"`` row (``day``: the 1st)
    merging its days: a year's summary then opens 12 rows' JSON per flow, not 365.
    """

    __tablename__ = "flow_daily_stats"
    __table_args__ = (
        sa.UniqueConstraint("flow_id", "day", "span"),
        sa.Index("ix_flow_daily_stats_day", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    flow_id: int = fk("flow_definition.id", index=False)
    day: date
    span: str = Field(default="day", sa_type=sa.String(8))  # "day" or "month"
    executions: int = 0
    succeeded: int = 0
    failed: int = 0
    stopped: int = 0
    duration_ms_sum: float = 0.0
    duration_histogram: dict[str, Any] = json_field()  # {"50": 12, "100": 3, ...}
    triggers: dict[str, Any] = json_field()  # {"tg_message": 40, "webhook": 2}
    # {"send1": {"count": 3, "errors": {"chat not found": 3}}}
    failed_nodes: dict[str, Any] = json_field()
    # {"send1": [runs, total_ms]}
    node_time: dict[str, Any] = json_field()
    updated_at: datetime = created_at_field()

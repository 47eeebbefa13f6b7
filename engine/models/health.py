"""What the health check sees: processes that beat, checks taken, incidents, and the
settings an admin chooses (where incident notices go)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, fk, json_field, optional_json_field, utcnow


class ProcessHeartbeat(SQLModel, table=True):
    """A running Flowbot process (web, worker, connector supervisor) and when it last
    said so; the status page shows all three kinds alike, in either mode."""

    __tablename__ = "process_heartbeat"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=sa.String(200), unique=True)  # "worker:host:pid"
    kind: str = Field(sa_type=sa.String(16), index=True)  # web | worker | supervisor
    host: str = Field(default="", sa_type=sa.String(128))
    pid: int = 0
    version: str = Field(default="", sa_type=sa.String(64))
    details: dict[str, Any] = json_field()
    started_at: datetime = created_at_field()
    heartbeat_at: datetime = created_at_field()


class HealthCheck(SQLModel, table=True):
    """One run of the periodic health check: every component's state at that moment."""

    __tablename__ = "health_check"

    id: int | None = Field(default=None, primary_key=True)
    checked_at: datetime = Field(default_factory=utcnow, index=True)
    ok: bool = True
    # [{"component": "connection:3", "label": "Support bot", "ok": false, "error": "..."}]
    results: list[Any] = json_field(list)


class HealthIncident(SQLModel, table=True):
    """A component down from ``started_at`` until ``resolved_at``: admins are told once
    when it starts and once when it ends, not at every check."""

    __tablename__ = "health_incident"
    __table_args__ = (sa.Index("ix_health_incident_open", "component", "resolved_at"),)

    id: int | None = Field(default=None, primary_key=True)
    component: str = Field(sa_type=sa.String(128))  # "database", "redis", "connection:3"
    label: str = Field(default="", sa_type=sa.String(200))
    error: str = Field(default="", sa_type=sa.Text)
    started_at: datetime = created_at_field()
    resolved_at: datetime | None = None
    notified_down_at: datetime | None = None
    notified_up_at: datetime | None = None
    notify_error: str | None = Field(default=None, sa_type=sa.Text)


class AppSetting(SQLModel, table=True):
    """Instance-wide settings an admin changes in the UI (not deployment configuration,
    which is environment variables): one JSON value per key."""

    __tablename__ = "app_setting"

    key: str = Field(sa_type=sa.String(64), primary_key=True)
    value: Any = optional_json_field()
    updated_by: int | None = fk("admin_user.id", nullable=True, index=False)
    updated_at: datetime = created_at_field()

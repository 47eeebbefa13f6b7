"""People who run Flowbot: admin accounts, API tokens and the audit trail."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, enum_field, fk, json_field, utcnow


class Role(StrEnum):
    """viewer reads; editor changes flows and communities; admin also manages people."""

    viewer = "viewer"
    editor = "editor"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class AdminUser(SQLModel, table=True):
    __tablename__ = "admin_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_type=sa.String(64), unique=True, index=True)
    display_name: str = Field(default="", sa_type=sa.String(128))
    password_hash: str = Field(sa_type=sa.String(256), repr=False)
    role: Role = enum_field(Role.viewer)
    is_active: bool = True
    created_at: datetime = created_at_field()
    last_login_at: datetime | None = None


class UserSession(SQLModel, table=True):
    """One browser sign-in; the session cookie names it, so logout can revoke just this one."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    # Random; the signed cookie carries it. Unique so a lookup is one index probe.
    key: str = Field(sa_type=sa.String(64), unique=True, index=True, repr=False)
    admin_id: int = fk("admin_user.id")
    ip: str = Field(default="", sa_type=sa.String(64))
    user_agent: str = Field(default="", sa_type=sa.String(256))
    created_at: datetime = created_at_field()
    expires_at: datetime
    revoked_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    """A bearer token for the REST API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    admin_id: int = fk("admin_user.id")
    name: str = Field(sa_type=sa.String(128))
    token_hash: str = Field(sa_type=sa.String(64), unique=True, index=True, repr=False)
    prefix: str = Field(sa_type=sa.String(16))
    role: Role = enum_field(Role.editor)
    created_at: datetime = created_at_field()
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class AuditLog(SQLModel, table=True):
    """Who changed what; failed logins are counted from here for rate limiting."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_action_actor_created", "action", "actor", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(sa_type=sa.String(64))
    action: str = Field(sa_type=sa.String(64))
    target_type: str | None = Field(default=None, sa_type=sa.String(64))
    target_id: str | None = Field(default=None, sa_type=sa.String(64))
    ip: str | None = Field(default=None, sa_type=sa.String(64))
    details: dict[str, Any] = json_field()
    created_at: datetime = Field(default_factory=utcnow, index=True)

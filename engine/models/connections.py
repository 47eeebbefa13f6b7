"""Bots and accounts Flowbot drives, and the live connections the supervisor runs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, enum_field, fk, json_field, secret_field


class ConnectorKind(StrEnum):
    """One connector per platform identity (bot or user account)."""

    telegram_bot = "telegram_bot"
    telegram_user = "telegram_user"
    discord_bot = "discord_bot"
    whatsapp_user = "whatsapp_user"


class ConnectionStatus(StrEnum):
    stopped = "stopped"
    connecting = "connecting"
    connected = "connected"
    auth_required = "auth_required"
    error = "error"


class BotInstance(SQLModel, table=True):
    """A bot or user account an admin connected, with its credential encrypted."""

    __tablename__ = "bot_instance"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(128))
    kind: ConnectorKind = enum_field(ConnectorKind.telegram_bot, index=True)
    # Bot token (Telegram, Discord) or session string (Telegram user, WhatsApp).
    credential: str | None = secret_field()
    webhook_secret: str | None = secret_field()
    platform_username: str | None = Field(default=None, sa_type=sa.String(128))
    platform_id: str | None = Field(default=None, sa_type=sa.String(64))
    default_language: str = Field(default="en", sa_type=sa.String(16))
    settings: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class PlatformConnection(SQLModel, table=True):
    """Desired and observed state of one instance's client, plus the supervisor's lease."""

    __tablename__ = "platform_connection"

    id: int | None = Field(default=None, primary_key=True)
    bot_instance_id: int = fk("bot_instance.id")
    is_active: bool = Field(default=False, index=True)
    status: ConnectionStatus = enum_field(ConnectionStatus.stopped)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    lease_owner: str | None = Field(default=None, sa_type=sa.String(128), index=True)
    lease_expires_at: datetime | None = None
    heartbeat_at: datetime | None = None
    restart_count: int = 0
    connected_at: datetime | None = None
    details: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class PlatformConnectionLog(SQLModel, table=True):
    __tablename__ = "platform_connection_log"
    __table_args__ = (
        sa.Index("ix_platform_connection_log_conn_created", "connection_id", "created_at"),
        sa.Index("ix_platform_connection_log_created", "created_at", "id"),  # the activity feed
    )

    id: int | None = Field(default=None, primary_key=True)
    connection_id: int = fk("platform_connection.id", index=False)
    level: str = Field(default="info", sa_type=sa.String(16))
    event: str = Field(sa_type=sa.String(64))
    message: str = Field(default="", sa_type=sa.Text)
    details: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()

"""Communities: a group of chats across platforms, their settings and members."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, enum_field, fk, json_field


class MemberRole(StrEnum):
    member = "member"
    moderator = "moderator"
    admin = "admin"
    owner = "owner"


class Community(SQLModel, table=True):
    __tablename__ = "community"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(128), index=True)
    description: str = Field(default="", sa_type=sa.Text)
    bot_instance_id: int | None = fk("bot_instance.id", nullable=True)
    is_active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class CommunityConfig(SQLModel, table=True):
    """Moderation and engagement rules that apply on every platform of a community."""

    __tablename__ = "community_config"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", ondelete="CASCADE", unique=True)
    language: str = Field(default="en", sa_type=sa.String(16))
    welcome_enabled: bool = False
    welcome_message: str = Field(default="", sa_type=sa.Text)
    rules: str = Field(default="", sa_type=sa.Text)
    warn_threshold_mute: int = 3
    warn_threshold_ban: int = 5
    mute_minutes: int = 60
    warning_expiry_days: int = 30
    antispam_enabled: bool = False
    antilink_enabled: bool = False
    reputation_enabled: bool = True
    banned_words: list[str] = json_field(list)
    extra: dict[str, Any] = json_field()


class CommunityTelegramConfig(SQLModel, table=True):
    __tablename__ = "community_telegram_config"
    __table_args__ = (sa.UniqueConstraint("community_id", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("community.id")
    chat_id: str = Field(sa_type=sa.String(32), index=True)
    chat_type: str = Field(default="supergroup", sa_type=sa.String(16))
    title: str = Field(default="", sa_type=sa.String(256))
    username: str | None = Field(default=None, sa_type=sa.String(128))
    log_chat_id: str | None = Field(default=None, sa_type=sa.String(32))
    delete_service_messages: bool = False


class CommunityDiscordConfig(SQLModel, table=True):
    __tablename__ = "community_discord_config"
    __table_args__ = (sa.UniqueConstraint("community_id", "guild_id"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("community.id")
    guild_id: str = Field(sa_type=sa.String(32), index=True)
    guild_name: str = Field(default="", sa_type=sa.String(256))
    announcement_channel_id: str | None = Field(default=None, sa_type=sa.String(32))
    log_channel_id: str | None = Field(default=None, sa_type=sa.String(32))
    welcome_channel_id: str | None = Field(default=None, sa_type=sa.String(32))
    moderator_role_id: str | None = Field(default=None, sa_type=sa.String(32))
    muted_role_id: str | None = Field(default=None, sa_type=sa.String(32))


class CommunityWhatsAppConfig(SQLModel, table=True):
    """WhatsApp groups of a community (the reference system had none; Flowbot does)."""

    __tablename__ = "community_whatsapp_config"
    __table_args__ = (sa.UniqueConstraint("community_id", "group_jid"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("community.id")
    group_jid: str = Field(sa_type=sa.String(64), index=True)
    subject: str = Field(default="", sa_type=sa.String(256))


class CommunityMember(SQLModel, table=True):
    __tablename__ = "community_member"
    __table_args__ = (sa.UniqueConstraint("community_id", "platform_account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("community.id")
    platform_account_id: int = fk("platform_account.id")
    role: MemberRole = enum_field(MemberRole.member)
    joined_at: datetime = created_at_field()
    left_at: datetime | None = None
    last_active_at: datetime | None = None
    message_count: int = 0
    is_banned: bool = False
    muted_until: datetime | None = None

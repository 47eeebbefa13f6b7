"""Communities: a group of chats across platforms, their settings and members."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import Platform, created_at_field, enum_field, fk, json_field


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
    """A community's rules: one JSON document validated by ``engine.community_rules``.

    One document rather than a column per setting, so per-platform overrides have the same
    shape as the rules they override and a new rule needs no migration.
    """

    __tablename__ = "community_config"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", ondelete="CASCADE", unique=True)
    rules: dict[str, Any] = json_field()
    updated_at: datetime = created_at_field()


class Chat(SQLModel, table=True):
    """A chat a connection is in, discovered from the platform and never typed by hand.

    Telegram groups and channels, Discord guilds and their text channels (a channel names
    its guild in ``parent_chat_id``), WhatsApp groups. A chat belongs to at most one
    community; ``gone_at`` is set when the bot or account leaves it.
    """

    __tablename__ = "chat"
    __table_args__ = (sa.UniqueConstraint("platform", "platform_chat_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: Platform = enum_field(Platform.telegram)
    platform_chat_id: str = Field(sa_type=sa.String(64))
    bot_instance_id: int | None = fk("bot_instance.id", nullable=True)
    parent_chat_id: str | None = Field(default=None, sa_type=sa.String(64), index=True)
    type: str = Field(default="group", sa_type=sa.String(32))
    title: str = Field(default="", sa_type=sa.String(256))
    username: str | None = Field(default=None, sa_type=sa.String(128))
    member_count: int | None = None
    bot_is_admin: bool = False
    bot_rights: dict[str, Any] = json_field()
    community_id: int | None = fk("community.id", nullable=True)
    gone_at: datetime | None = None
    first_seen_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class CommunityMember(SQLModel, table=True):
    """One platform account in one community: recorded from joins, leaves and messages."""

    __tablename__ = "community_member"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "platform_account_id"),
        # The Members page sorts and pages by these within one community.
        sa.Index("ix_community_member_recent", "community_id", "last_active_at", "id"),
        sa.Index("ix_community_member_joined", "community_id", "joined_at", "id"),
        # Analytics: leaves of a day and members present at its end.
        sa.Index("ix_community_member_left", "community_id", "left_at", "joined_at", "is_banned"),
        # The activity feed: the newest joins and leaves across communities.
        sa.Index("ix_community_member_joined_at", "joined_at", "id"),
        sa.Index("ix_community_member_left_at", "left_at", "id"),
    )

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

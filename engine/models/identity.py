"""People in the communities, across platforms: one identity, many platform accounts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import Platform, created_at_field, enum_field, fk


class UserIdentity(SQLModel, table=True):
    """A person; their Telegram, Discord and WhatsApp accounts link to it."""

    __tablename__ = "user_identity"

    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(default="", sa_type=sa.String(128))
    preferred_platform: Platform | None = Field(default=None, sa_type=sa.String(32))
    notes: str = Field(default="", sa_type=sa.Text)
    # One-time code the person sends from another platform to link that account.
    link_code: str | None = Field(default=None, sa_type=sa.String(16), unique=True)
    link_code_expires_at: datetime | None = None
    created_at: datetime = created_at_field()


class PlatformAccount(SQLModel, table=True):
    __tablename__ = "platform_account"
    __table_args__ = (sa.UniqueConstraint("platform", "platform_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int | None = fk("user_identity.id", nullable=True)
    platform: Platform = enum_field(Platform.telegram)
    platform_user_id: str = Field(sa_type=sa.String(64))
    username: str | None = Field(default=None, sa_type=sa.String(128), index=True)
    display_name: str = Field(default="", sa_type=sa.String(256))
    language: str | None = Field(default=None, sa_type=sa.String(16))
    # Chosen for the person by a flow (db_query set_member_language); wins over ``language``.
    language_override: str | None = Field(default=None, sa_type=sa.String(16))
    # Where the platform gives it (WhatsApp, Telegram contacts): a hint for linking accounts.
    phone: str | None = Field(default=None, sa_type=sa.String(32), index=True)
    is_bot: bool = False
    first_seen_at: datetime = created_at_field()
    last_seen_at: datetime = created_at_field()


class LinkSuggestionDismissal(SQLModel, table=True):
    """An admin said two accounts are not the same person: never suggest the pair again."""

    __tablename__ = "link_suggestion_dismissal"
    __table_args__ = (sa.UniqueConstraint("account_low_id", "account_high_id"),)

    id: int | None = Field(default=None, primary_key=True)
    # The pair in id order, so (a, b) and (b, a) are one row.
    account_low_id: int = fk("platform_account.id", index=False)
    account_high_id: int = fk("platform_account.id")
    dismissed_by: str = Field(default="", sa_type=sa.String(128))
    created_at: datetime = created_at_field()

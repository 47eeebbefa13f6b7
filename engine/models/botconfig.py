"""A bot's own answers (commands, responses, menus, translations): a draft and its versions.

Both hold a :class:`engine.bot_config.document.BotConfigDocument` as JSON. Admins edit the
draft; publishing copies it into a new version, which the connectors answer from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, fk, json_field


class BotConfigDraft(SQLModel, table=True):
    """What admins are editing; ``revision`` grows with each saved edit (stale-write check)."""

    __tablename__ = "bot_config_draft"

    id: int | None = Field(default=None, primary_key=True)
    bot_instance_id: int = Field(foreign_key="bot_instance.id", ondelete="CASCADE", unique=True)
    document: dict[str, Any] = json_field()
    revision: int = 0
    updated_by: str = Field(default="", sa_type=sa.String(128))
    updated_at: datetime = created_at_field()


class BotConfigVersion(SQLModel, table=True):
    """One published configuration; the highest version of a bot is the live one."""

    __tablename__ = "bot_config_version"
    __table_args__ = (sa.UniqueConstraint("bot_instance_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    bot_instance_id: int = fk("bot_instance.id", index=False)
    version: int
    document: dict[str, Any] = json_field()
    published_by: str = Field(default="", sa_type=sa.String(128))
    published_at: datetime = created_at_field()
    # "Rollback to v3", or what the admin wrote when publishing.
    note: str = Field(default="", sa_type=sa.String(256))

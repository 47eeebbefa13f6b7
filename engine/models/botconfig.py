"""What a bot says: commands, canned responses and button menus, per language."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, fk, json_field


class BotCommand(SQLModel, table=True):
    """A slash command; one row per language (Telegram scopes, Discord localisations)."""

    __tablename__ = "bot_command"
    __table_args__ = (sa.UniqueConstraint("bot_instance_id", "command", "language"),)

    id: int | None = Field(default=None, primary_key=True)
    bot_instance_id: int = fk("bot_instance.id", index=False)
    command: str = Field(sa_type=sa.String(32))
    language: str = Field(default="en", sa_type=sa.String(16))
    description: str = Field(default="", sa_type=sa.String(256))
    is_enabled: bool = True
    sort_order: int = 0


class BotResponse(SQLModel, table=True):
    """A named text a flow or command answers with, translated per language."""

    __tablename__ = "bot_response"
    __table_args__ = (sa.UniqueConstraint("bot_instance_id", "key", "language"),)

    id: int | None = Field(default=None, primary_key=True)
    bot_instance_id: int = fk("bot_instance.id", index=False)
    key: str = Field(sa_type=sa.String(64))
    language: str = Field(default="en", sa_type=sa.String(16))
    text: str = Field(sa_type=sa.Text)
    updated_at: datetime = created_at_field()


class BotMenu(SQLModel, table=True):
    __tablename__ = "bot_menu"
    __table_args__ = (sa.UniqueConstraint("bot_instance_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    bot_instance_id: int = fk("bot_instance.id", index=False)
    name: str = Field(sa_type=sa.String(64))
    # {"en": "Main menu", "de": "Hauptmenü"}
    titles: dict[str, str] = json_field()
    created_at: datetime = created_at_field()


class BotMenuButton(SQLModel, table=True):
    __tablename__ = "bot_menu_button"

    id: int | None = Field(default=None, primary_key=True)
    menu_id: int = fk("bot_menu.id")
    labels: dict[str, str] = json_field()
    # "url", "callback", "submenu" or "flow"
    action: str = Field(default="callback", sa_type=sa.String(16))
    value: str = Field(default="", sa_type=sa.Text)
    row: int = 0
    position: int = 0

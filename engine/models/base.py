"""Shared column helpers so every table stores times, JSON, enums and secrets alike."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel

from engine.crypto import EncryptedText

# Deterministic constraint names: Alembic can then alter them on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def utcnow() -> datetime:
    """Aware UTC; SQLModel stores it as timestamptz (PostgreSQL) or UTC text (SQLite)."""
    return datetime.now(UTC)


def created_at_field() -> Any:
    return Field(default_factory=utcnow, nullable=False)


def json_field(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_type=JSONType, nullable=False)


def optional_json_field() -> Any:
    return Field(default=None, sa_type=JSONType, nullable=True)


def enum_field(default: StrEnum, *, index: bool = False) -> Any:
    """Enums stored as plain strings: no database enum types to migrate."""
    return Field(default=default, sa_type=sa.String(32), nullable=False, index=index)


def secret_field() -> Any:
    """An encrypted column, hidden from repr so it never reaches a log line."""
    return Field(default=None, sa_type=EncryptedText, nullable=True, repr=False)


def fk(
    target: str,
    *,
    nullable: bool = False,
    ondelete: Literal["CASCADE", "SET NULL", "RESTRICT"] = "CASCADE",
    index: bool = True,
) -> Any:
    """A foreign key; optional ones default to None and are nulled when the target goes."""
    if nullable:
        return Field(
            default=None, foreign_key=target, nullable=True, ondelete="SET NULL", index=index
        )
    return Field(foreign_key=target, nullable=False, ondelete=ondelete, index=index)


class Platform(StrEnum):
    telegram = "telegram"
    discord = "discord"
    whatsapp = "whatsapp"

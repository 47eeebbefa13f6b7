"""What the REST API remembers between calls: answers to requests sent with an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import fk, json_field, utcnow


class ApiIdempotentAnswer(SQLModel, table=True):
    """The first answer to (token, key): a retry of the same POST gets it again."""

    __tablename__ = "api_idempotent_answer"
    __table_args__ = (sa.UniqueConstraint("token_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    token_id: int = fk("api_token.id", index=False)
    key: str = Field(sa_type=sa.String(128))
    # What was asked: the same key with another request is refused, not answered wrongly.
    fingerprint: str = Field(sa_type=sa.String(64))
    status_code: int
    body: dict[str, Any] = json_field()
    created_at: datetime = Field(default_factory=utcnow, index=True)

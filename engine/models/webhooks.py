"""Inbound webhook endpoints that start flows."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, fk, secret_field, utcnow


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(128))
    # Random, URL-safe; the only thing a caller needs besides the optional signature.
    token: str = Field(sa_type=sa.String(64), unique=True, index=True)
    flow_id: int = fk("flow_definition.id")
    # HMAC-SHA256 key for X-Flowbot-Signature; unset means no signature required.
    secret: str | None = secret_field()
    is_active: bool = True
    wait_for_result: bool = False
    wait_timeout_seconds: int = 10
    max_body_bytes: int = 1_048_576
    call_count: int = 0
    last_called_at: datetime | None = None
    created_at: datetime = created_at_field()


class WebhookSignatureSeen(SQLModel, table=True):
    """A signature accepted within the replay window: the same signed request twice is refused."""

    __tablename__ = "webhook_signature_seen"
    __table_args__ = (sa.UniqueConstraint("endpoint_id", "signature"),)

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = fk("webhook_endpoint.id", index=False)
    signature: str = Field(sa_type=sa.String(128))
    seen_at: datetime = Field(default_factory=utcnow, index=True)

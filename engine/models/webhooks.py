"""Inbound webhook endpoints that start flows."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.models.base import created_at_field, fk, secret_field, utcnow


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"
    # One endpoint per webhook trigger node: republishing updates it instead of adding one.
    __table_args__ = (sa.UniqueConstraint("flow_id", "node_id"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(128))
    # Random, URL-safe; the only thing a caller needs besides the optional signature.
    token: str = Field(sa_type=sa.String(64), unique=True, index=True)
    flow_id: int = fk("flow_definition.id")
    # The webhook trigger node whose settings publishing copies here; None: made by hand on
    # the Webhooks page (before nodes owned their endpoints), changed only there.
    node_id: str | None = Field(default=None, sa_type=sa.String(64))
    # Set when a publish no longer had the node: the endpoint is off and answers 410 (its
    # calls' history is kept); a publish with the node again turns it back on.
    node_removed_at: datetime | None = None
    # HMAC-SHA256 key for X-Flowbot-Signature; unset means no signature required.
    secret: str | None = secret_field()
    # A secret a publish generated, not shown yet: the node panel shows it once.
    secret_unseen: bool = False
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

"""Webhook endpoints: the URLs other systems call to start a flow.

The Webhooks page and the tests change endpoints only through these functions, so the rules
hold everywhere: editors change, viewers look; every change is audited; the signing secret
is generated here, returned once to the caller who asked for it, stored encrypted (by the
column type) and never listed again. The receiving side is engine/api/webhooks.py.
"""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from engine.models import AdminUser, FlowDefinition, Role, WebhookEndpoint
from engine.services import audit
from engine.services.auth import require_role
from engine.settings import get_settings

TOKEN_BYTES = 24  # 32 URL-safe characters: unguessable, and fits the 64-character column
SECRET_BYTES = 32
MIN_TIMEOUT, MAX_TIMEOUT = 1, 60
MAX_NAME = 128
EXAMPLE_BODY = '{"hello": "world"}'


class InvalidWebhook(ValueError):
    """A webhook change refused, with a message fit to show the admin."""


@dataclass(frozen=True)
class WebhookView:
    """What the UI may show of an endpoint: whether a secret is set, never the secret."""

    webhook_id: int
    name: str
    flow_id: int
    flow_name: str
    url: str
    has_secret: bool
    is_active: bool
    wait_for_result: bool
    wait_timeout_seconds: int
    max_body_bytes: int
    call_count: int
    last_called_at: datetime | None
    created_at: datetime


# --- reading ----------------------------------------------------------------------------------


def url_for(token: str) -> str:
    """The address callers use; public_url when set, else the local host and port."""
    return f"{get_settings().effective_public_url.rstrip('/')}/api/webhooks/{token}"


def list_webhooks(session: Session) -> list[WebhookView]:
    rows = session.exec(
        select(WebhookEndpoint, FlowDefinition)
        .join(FlowDefinition, col(FlowDefinition.id) == WebhookEndpoint.flow_id)
        .order_by(col(WebhookEndpoint.name), col(WebhookEndpoint.id))
    ).all()
    return [_view(endpoint, flow) for endpoint, flow in rows]


def _view(endpoint: WebhookEndpoint, flow: FlowDefinition) -> WebhookView:
    return WebhookView(
        webhook_id=endpoint.id or 0,
        name=endpoint.name,
        flow_id=endpoint.flow_id,
        flow_name=flow.name,
        url=url_for(endpoint.token),
        has_secret=bool(endpoint.secret),
        is_active=endpoint.is_active,
        wait_for_result=endpoint.wait_for_result,
        wait_timeout_seconds=endpoint.wait_timeout_seconds,
        max_body_bytes=endpoint.max_body_bytes,
        call_count=endpoint.call_count,
        last_called_at=endpoint.last_called_at,
        created_at=endpoint.created_at,
    )


def flow_choices(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every flow, for the create dialog's picker."""
    rows = session.exec(
        select(FlowDefinition.id, FlowDefinition.name).order_by(col(FlowDefinition.name))
    ).all()
    return [(flow_id or 0, name) for flow_id, name in rows]


def curl_example(url: str, *, signed: bool, secret_var: str = "WEBHOOK_SECRET") -> str:
    """A ready-to-paste call; when signed, the HMAC is computed with openssl from ``$secret_var``
    (the secret itself is shown only once, so the example never contains it)."""
    lines = [f"BODY={shlex.quote(EXAMPLE_BODY)}"]
    if signed:
        lines.append(
            f'SIG=$(printf %s "$BODY" | openssl dgst -sha256 -hmac "${secret_var}" '
            "| sed 's/^.* //')"
        )
    call = [f"curl -X POST {shlex.quote(url)}", '-H "Content-Type: application/json"']
    if signed:
        call.append('-H "X-Flowbot-Signature: sha256=$SIG"')
    call.append('--data "$BODY"')
    lines.append(" \\\n  ".join(call))
    return "\n".join(lines)


# --- changes ----------------------------------------------------------------------------------


def create_webhook(
    session: Session, actor: AdminUser, name: str, flow_id: int | None
) -> WebhookEndpoint:
    """A new active endpoint without a secret; its URL works as soon as the flow is published."""
    require_role(actor, Role.editor)
    flow = session.get(FlowDefinition, flow_id) if flow_id else None
    if flow is None:
        raise InvalidWebhook("Pick the flow this webhook starts (it must exist).")
    endpoint = WebhookEndpoint(name=_clean_name(name), token=_new_token(), flow_id=flow.id)
    session.add(endpoint)
    session.flush()
    _audit(session, actor, "webhook_created", endpoint, flow_id=flow.id)
    return endpoint


def rotate_token(session: Session, actor: AdminUser, webhook_id: int) -> str:
    """A new URL; the old one answers 404 from the moment this commits."""
    require_role(actor, Role.editor)
    endpoint = _get(session, webhook_id)
    endpoint.token = _new_token()
    session.add(endpoint)
    _audit(session, actor, "webhook_token_rotated", endpoint)
    return url_for(endpoint.token)


def new_secret(session: Session, actor: AdminUser, webhook_id: int) -> str:
    """Generate (or replace) the signing secret; the plaintext is returned only here."""
    require_role(actor, Role.editor)
    endpoint = _get(session, webhook_id)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    endpoint.secret = secret  # EncryptedText: encrypted on the way in
    session.add(endpoint)
    _audit(session, actor, "webhook_secret_set", endpoint)
    return secret


def clear_secret(session: Session, actor: AdminUser, webhook_id: int) -> None:
    """Stop requiring a signature."""
    require_role(actor, Role.editor)
    endpoint = _get(session, webhook_id)
    endpoint.secret = None
    session.add(endpoint)
    _audit(session, actor, "webhook_secret_cleared", endpoint)


def set_active(session: Session, actor: AdminUser, webhook_id: int, active: bool) -> None:
    """A paused endpoint answers 404, as if it did not exist."""
    require_role(actor, Role.editor)
    endpoint = _get(session, webhook_id)
    endpoint.is_active = active
    session.add(endpoint)
    _audit(session, actor, "webhook_activated" if active else "webhook_paused", endpoint)


def set_wait(
    session: Session, actor: AdminUser, webhook_id: int, wait: bool, timeout_seconds: int
) -> None:
    """Whether the caller gets the run's result (200) instead of only its id (202)."""
    require_role(actor, Role.editor)
    if not MIN_TIMEOUT <= timeout_seconds <= MAX_TIMEOUT:
        raise InvalidWebhook(
            f"The wait timeout is {MIN_TIMEOUT} to {MAX_TIMEOUT} seconds, not {timeout_seconds}."
        )
    endpoint = _get(session, webhook_id)
    endpoint.wait_for_result = wait
    endpoint.wait_timeout_seconds = timeout_seconds
    session.add(endpoint)
    _audit(session, actor, "webhook_wait_changed", endpoint, wait=wait, timeout=timeout_seconds)


def delete_webhook(session: Session, actor: AdminUser, webhook_id: int) -> None:
    require_role(actor, Role.editor)
    endpoint = _get(session, webhook_id)
    _audit(session, actor, "webhook_deleted", endpoint, name=endpoint.name)
    session.delete(endpoint)
    session.flush()


# --- internals --------------------------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidWebhook("Give the webhook a name, e.g. 'Shop orders'.")
    if len(name) > MAX_NAME:
        raise InvalidWebhook(f"The name is too long ({MAX_NAME} characters at most).")
    return name


def _get(session: Session, webhook_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, webhook_id)
    if endpoint is None:
        raise InvalidWebhook(f"Webhook {webhook_id} does not exist (any more).")
    return endpoint


def _audit(
    session: Session, actor: AdminUser, action: str, endpoint: WebhookEndpoint, **details: Any
) -> None:
    audit.record(
        session, actor.username, action, target_type="webhook", target_id=endpoint.id, **details
    )

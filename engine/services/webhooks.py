"""Webhook endpoints: the URLs other systems call to start a flow.

The Webhooks page and the tests change endpoints only through these functions, so the rules
hold everywhere: editors change, viewers look; every change is audited; the signing secret
is generated here, returned once to the caller who asked for it, stored encrypted (by the
column type) and never listed again. The receiving side is engine/api/webhooks.py.

A flow's Webhook trigger node owns its endpoint: publishing the flow calls
:func:`sync_flow_endpoints`, which makes or updates the endpoint from the node's settings
(name, signature required, wait for the result) and switches off the endpoint of a node
the flow no longer has (410 to its callers, its history kept). Endpoints without a node
were made by hand on the Webhooks page before nodes owned them; they keep working.

The signature scheme lives here too, so the receiver, the examples on the Webhooks page and
the README describe one thing: ``X-Flowbot-Timestamp`` carries the Unix time in seconds,
``X-Flowbot-Signature`` carries ``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` keyed
with the secret. A request stamped more than ``SIGNATURE_WINDOW`` away from the server's
clock is refused, and so is a signature already accepted: a captured request cannot be
replayed, neither later nor at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.db import insert_ignore, saved_id, table_of
from engine.models import (
    AdminUser,
    FlowDefinition,
    Role,
    WebhookEndpoint,
    WebhookSignatureSeen,
    utcnow,
)
from engine.nodes.triggers import WebhookTrigger
from engine.services import audit, webhook_cache  # noqa: F401  (it announces changes)
from engine.services.auth import require_role
from engine.services.errors import NotFound
from engine.settings import get_settings

TOKEN_BYTES = 24  # 32 URL-safe characters: unguessable, and fits the 64-character column
SECRET_BYTES = 32
MIN_TIMEOUT, MAX_TIMEOUT = 1, 60
MIN_BODY_BYTES, MAX_BODY_BYTES = 1024, 10 * 1024 * 1024  # the receiver holds a body in memory
MAX_NAME = 128
EXAMPLE_BODY = '{"hello": "world"}'
# The address the documentation's examples (Webhooks page, README) call.
EXAMPLE_URL = "https://flowbot.example.com/api/webhooks/<token>"

SIGNATURE_HEADER = "X-Flowbot-Signature"
TIMESTAMP_HEADER = "X-Flowbot-Timestamp"
SIGNATURE_PREFIX = "sha256="
SIGNATURE_WINDOW = timedelta(minutes=5)
# A request stamped up to one window in the future stays acceptable until one window after
# its stamp, so an accepted signature is remembered for two windows from when it was seen.
SEEN_RETENTION = 2 * SIGNATURE_WINDOW
MAX_TIMESTAMP_DIGITS = 12


class InvalidWebhook(ValueError):
    """A webhook change refused, with a message fit to show the admin."""


class WebhookNotFound(InvalidWebhook, NotFound):
    """The endpoint does not exist (any more)."""


class WebhookRemoved(InvalidWebhook):
    """The endpoint's trigger node was removed from its flow: it starts nothing any more."""


class InvalidSignature(ValueError):
    """A signed endpoint's request without a valid, current signature; says what is wrong."""


class ReplayedSignature(ValueError):
    """A signature accepted once already: the same signed request sent again."""


@dataclass(frozen=True)
class WebhookView:
    """What the UI may show of an endpoint: whether a secret is set, never the secret."""

    webhook_id: int
    name: str
    flow_id: int
    flow_name: str
    # The webhook trigger node it belongs to; None: made by hand on the Webhooks page.
    node_id: str | None
    node_removed_at: datetime | None
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


def _joined() -> Any:
    return select(WebhookEndpoint, FlowDefinition).join(
        FlowDefinition, col(FlowDefinition.id) == WebhookEndpoint.flow_id
    )


def list_webhooks(session: Session) -> list[WebhookView]:
    """Every endpoint by name (the Webhooks page)."""
    rows = session.exec(_joined().order_by(col(WebhookEndpoint.name), col(WebhookEndpoint.id)))
    return [_view(endpoint, flow) for endpoint, flow in rows.all()]


def webhook_page(
    session: Session, limit: int, *, before: int | None = None, flow_id: int | None = None
) -> list[WebhookView]:
    """Newest first, ids below ``before`` (keyset paging for the REST API)."""
    query = _joined()
    if before is not None:
        query = query.where(col(WebhookEndpoint.id) < before)
    if flow_id is not None:
        query = query.where(WebhookEndpoint.flow_id == flow_id)
    rows = session.exec(query.order_by(col(WebhookEndpoint.id).desc()).limit(limit)).all()
    return [_view(endpoint, flow) for endpoint, flow in rows]


def get_webhook(session: Session, webhook_id: int) -> WebhookView:
    endpoint = _get(session, webhook_id)
    flow = session.get(FlowDefinition, endpoint.flow_id)
    if flow is None:  # the foreign key keeps this from happening
        raise WebhookNotFound(f"Webhook {webhook_id} has no flow.")
    return _view(endpoint, flow)


def _view(endpoint: WebhookEndpoint, flow: FlowDefinition) -> WebhookView:
    return WebhookView(
        webhook_id=endpoint.id or 0,
        name=endpoint.name,
        flow_id=endpoint.flow_id,
        flow_name=flow.name,
        node_id=endpoint.node_id,
        node_removed_at=endpoint.node_removed_at,
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


def node_endpoint(session: Session, flow_id: int, node_id: str) -> WebhookView | None:
    """The endpoint of one webhook trigger node (its panel in the editor); None before the
    flow was first published with that node."""
    row = session.exec(
        _joined().where(WebhookEndpoint.flow_id == flow_id, WebhookEndpoint.node_id == node_id)
    ).first()
    return _view(*row) if row else None


def removed_notice(endpoint: WebhookEndpoint) -> str | None:
    """What a caller of an endpoint whose node was removed is told (410); None otherwise."""
    if endpoint.node_removed_at is None:
        return None
    return (
        f"This webhook ({endpoint.name}) no longer starts anything: its trigger node "
        f"'{endpoint.node_id}' was removed from the flow on {endpoint.node_removed_at:%Y-%m-%d}."
    )


def flow_choices(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every flow, for the create dialog's picker."""
    rows = session.exec(
        select(FlowDefinition.id, FlowDefinition.name).order_by(col(FlowDefinition.name))
    ).all()
    return [(flow_id or 0, name) for flow_id, name in rows]


def curl_example(url: str, *, signed: bool, secret_var: str = "WEBHOOK_SECRET") -> str:
    """A ready-to-paste call; when signed, the HMAC of ``timestamp.body`` is computed with
    openssl from ``$secret_var`` (the secret is shown only once, so the example never
    contains it)."""
    lines = [f"BODY={shlex.quote(EXAMPLE_BODY)}"]
    if signed:
        lines.append("TS=$(date +%s)")
        lines.append(
            f'SIG=$(printf %s "$TS.$BODY" | openssl dgst -sha256 -hmac "${secret_var}" '
            "| sed 's/^.* //')"
        )
    call = [f"curl -X POST {shlex.quote(url)}", '-H "Content-Type: application/json"']
    if signed:
        call.append(f'-H "{TIMESTAMP_HEADER}: $TS"')
        call.append(f'-H "{SIGNATURE_HEADER}: {SIGNATURE_PREFIX}$SIG"')
    call.append('--data "$BODY"')
    lines.append(" \\\n  ".join(call))
    return "\n".join(lines)


def python_example(url: str, *, secret_var: str = "WEBHOOK_SECRET") -> str:
    """The same signed call in Python with only the standard library."""
    return f"""import hashlib, hmac, os, time, urllib.request

secret = os.environ[{json.dumps(secret_var)}].encode()
body = {EXAMPLE_BODY.encode()!r}
timestamp = str(int(time.time()))  # Unix seconds; sign each request (and each retry) anew
digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
request = urllib.request.Request(
    {json.dumps(url)},
    data=body,
    headers={{
        "Content-Type": "application/json",
        "{TIMESTAMP_HEADER}": timestamp,
        "{SIGNATURE_HEADER}": "{SIGNATURE_PREFIX}" + digest,
    }},
)
print(urllib.request.urlopen(request).status)
"""


# --- signatures -------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256, keyed with ``secret``, of ``<timestamp>.<body>``: the timestamp is
    signed with the body, so an old request cannot be sent again with a new stamp."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str, body: bytes, timestamp: str | None, given: str | None, now: float
) -> str:
    """The signature of a request stamped within the window of ``now`` (Unix seconds), to be
    remembered; raises InvalidSignature naming what is missing, stale or wrong."""
    stamp = (timestamp or "").strip()
    # isdigit() alone also takes "²" (which int() refuses: a 500) and other scripts' digits.
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > MAX_TIMESTAMP_DIGITS:
        raise InvalidSignature(
            f"Missing or malformed {TIMESTAMP_HEADER}: send the Unix time in seconds at which "
            "the request was signed."
        )
    window = int(SIGNATURE_WINDOW.total_seconds())
    skew = int(now) - int(stamp)
    if abs(skew) > window:
        age = f"{skew} s old" if skew > 0 else f"{-skew} s in the future"
        raise InvalidSignature(
            f"Stale request: {TIMESTAMP_HEADER} is {age}, outside the ±{window // 60}-minute "
            "window. Sign each request when sending it, from a clock that is on time."
        )
    expected = signature(secret, stamp, body)
    claimed = (given or "").strip().lower()
    if not hmac.compare_digest(
        (SIGNATURE_PREFIX + expected).encode(), claimed.encode("latin-1", "replace")
    ):
        raise InvalidSignature(
            f"Missing or wrong {SIGNATURE_HEADER}: expected {SIGNATURE_PREFIX}<hex HMAC-SHA256 "
            f'of "<{TIMESTAMP_HEADER} value>.<body>"> keyed with the webhook\'s secret.'
        )
    return expected


def remember_signature(session: Session, endpoint_id: int, signed: str) -> None:
    """Record an accepted signature; ReplayedSignature if it was recorded before. The unique
    (endpoint, signature) row makes this hold across processes: of two concurrent copies,
    the second waits for the first's commit and then inserts nothing."""
    row = {"endpoint_id": endpoint_id, "signature": signed, "seen_at": utcnow()}
    keys = ["endpoint_id", "signature"]
    if not insert_ignore(session, table_of(WebhookSignatureSeen), row, keys):
        raise ReplayedSignature(
            "Replayed request: this signature was already accepted. Each request is accepted "
            f"once; send a new one with a fresh {TIMESTAMP_HEADER} and signature."
        )


def forget_signature(session: Session, endpoint_id: int, signed: str) -> None:
    """Give back a signature whose request was refused after all, so it may be sent again."""
    session.exec(
        sa.delete(WebhookSignatureSeen).where(
            col(WebhookSignatureSeen.endpoint_id) == endpoint_id,
            col(WebhookSignatureSeen.signature) == signed,
        )
    )


# --- changes ----------------------------------------------------------------------------------


def create_webhook(
    session: Session, actor: AdminUser, name: str, flow_id: int | None
) -> WebhookEndpoint:
    """A new active endpoint without a secret; its URL works as soon as the flow is published."""
    require_role(actor, Role.editor)
    flow = session.get(FlowDefinition, flow_id) if flow_id else None
    if flow is None:
        raise InvalidWebhook("Pick the flow this webhook starts (it must exist).")
    endpoint = WebhookEndpoint(name=_clean_name(name), token=_new_token(), flow_id=saved_id(flow))
    session.add(endpoint)
    session.flush()
    _audit(session, actor, "webhook_created", endpoint, flow_id=flow.id)
    return endpoint


def sync_flow_endpoints(
    session: Session, actor: AdminUser, flow_id: int, graph: dict[str, Any]
) -> None:
    """Publishing ``graph``: each of its webhook trigger nodes gets an endpoint set from its
    params, and an endpoint whose node is gone is switched off and marked removed (not
    deleted: its callers get 410 and its call history stays). A publish with the node
    back turns its endpoint on again, with the same URL."""
    require_role(actor, Role.editor)
    nodes = {
        str(node["id"]): WebhookTrigger.model_validate(node.get("params") or {})
        for node in graph.get("nodes", [])
        if node.get("type") == "webhook"
    }
    owned = session.exec(
        select(WebhookEndpoint).where(
            WebhookEndpoint.flow_id == flow_id, col(WebhookEndpoint.node_id).is_not(None)
        )
    ).all()
    by_node = {endpoint.node_id: endpoint for endpoint in owned}
    for node_id, params in nodes.items():
        endpoint = by_node.get(node_id)
        if endpoint is None:
            endpoint = WebhookEndpoint(
                name=params.endpoint_name, token=_new_token(), flow_id=flow_id, node_id=node_id
            )
            _apply_node(endpoint, params)
            session.add(endpoint)
            session.flush()
            _audit(session, actor, "webhook_created", endpoint, flow_id=flow_id, node_id=node_id)
        elif changed := _apply_node(endpoint, params):
            session.add(endpoint)
            _audit(session, actor, "webhook_updated", endpoint, node_id=node_id, **changed)
    for owner, endpoint in by_node.items():
        if owner not in nodes and endpoint.node_removed_at is None:
            endpoint.is_active = False
            endpoint.node_removed_at = utcnow()
            session.add(endpoint)
            _audit(session, actor, "webhook_node_removed", endpoint, node_id=owner)


def _apply_node(endpoint: WebhookEndpoint, params: WebhookTrigger) -> dict[str, Any]:
    """Copy a node's settings onto its endpoint; what changed (for the audit). Requiring a
    signature makes a secret (shown once, on the node's panel); not requiring one drops it."""
    wanted: dict[str, Any] = {
        "name": params.endpoint_name,
        "wait_for_result": params.wait_for_result,
        "wait_timeout_seconds": params.wait_timeout_seconds,
    }
    changed = {key: value for key, value in wanted.items() if getattr(endpoint, key) != value}
    for key, value in changed.items():
        setattr(endpoint, key, value)
    if params.require_signature and not endpoint.secret:
        endpoint.secret = secrets.token_urlsafe(SECRET_BYTES)
        endpoint.secret_unseen = True
        changed["require_signature"] = True
    elif not params.require_signature and endpoint.secret:
        endpoint.secret = None
        endpoint.secret_unseen = False
        changed["require_signature"] = False
    if endpoint.node_removed_at is not None:
        endpoint.node_removed_at = None
        endpoint.is_active = changed["restored"] = True
    return changed


def delete_flow_endpoints(session: Session, actor: AdminUser, flow_id: int) -> None:
    """The flow is being deleted: its trigger nodes' endpoints go with it (404 from then
    on). Hand-made ones are not touched: deleting the flow is refused while they exist."""
    require_role(actor, Role.editor)
    owned = session.exec(
        select(WebhookEndpoint).where(
            WebhookEndpoint.flow_id == flow_id, col(WebhookEndpoint.node_id).is_not(None)
        )
    ).all()
    for endpoint in owned:
        _audit(session, actor, "webhook_deleted", endpoint, name=endpoint.name, with_flow=True)
        session.exec(
            sa.delete(WebhookSignatureSeen).where(
                col(WebhookSignatureSeen.endpoint_id) == endpoint.id
            )
        )
        session.delete(endpoint)
    session.flush()


def take_unseen_secret(session: Session, actor: AdminUser, webhook_id: int) -> str | None:
    """The secret a publish generated, the first time it is asked for (the node's panel
    shows it once); None once it was shown, or when there is none."""
    require_role(actor, Role.editor)
    endpoint = _get(session, webhook_id)
    if not (endpoint.secret_unseen and endpoint.secret):
        return None
    endpoint.secret_unseen = False
    session.add(endpoint)
    _audit(session, actor, "webhook_secret_shown", endpoint)
    return endpoint.secret


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
    if endpoint.node_id is not None and not endpoint.secret:
        _set_on_node(endpoint, "Turn on “Require signature”")
    secret = secrets.token_urlsafe(SECRET_BYTES)
    endpoint.secret = secret  # EncryptedText: encrypted on the way in
    endpoint.secret_unseen = False
    session.add(endpoint)
    _audit(session, actor, "webhook_secret_set", endpoint)
    return secret


def clear_secret(session: Session, actor: AdminUser, webhook_id: int) -> None:
    """Stop requiring a signature."""
    require_role(actor, Role.editor)
    endpoint = _get(session, webhook_id)
    if endpoint.node_id is not None:
        _set_on_node(endpoint, "Turn off “Require signature”")
    endpoint.secret = None
    session.add(endpoint)
    _audit(session, actor, "webhook_secret_cleared", endpoint)


def set_active(session: Session, actor: AdminUser, webhook_id: int, active: bool) -> None:
    """A paused endpoint answers 404, as if it did not exist."""
    require_role(actor, Role.editor)
    endpoint = _get(session, webhook_id)
    if active and (notice := removed_notice(endpoint)):
        raise WebhookRemoved(f"{notice} Add a Webhook trigger back and publish the flow.")
    endpoint.is_active = active
    session.add(endpoint)
    _audit(session, actor, "webhook_activated" if active else "webhook_paused", endpoint)


def set_wait(
    session: Session, actor: AdminUser, webhook_id: int, wait: bool, timeout_seconds: int
) -> None:
    """Whether the caller gets the run's result (200) instead of only its id (202)."""
    require_role(actor, Role.editor)
    _check_timeout(timeout_seconds)
    endpoint = _get(session, webhook_id)
    if endpoint.node_id is not None:
        _set_on_node(endpoint, "Set “Wait for result”")
    endpoint.wait_for_result = wait
    endpoint.wait_timeout_seconds = timeout_seconds
    session.add(endpoint)
    _audit(session, actor, "webhook_wait_changed", endpoint, wait=wait, timeout=timeout_seconds)


def update_webhook(
    session: Session,
    actor: AdminUser,
    webhook_id: int,
    *,
    name: str | None = None,
    wait_for_result: bool | None = None,
    timeout_seconds: int | None = None,
    max_body_bytes: int | None = None,
) -> None:
    """Change any of these at once (None: unchanged), as one audited change."""
    require_role(actor, Role.editor)
    endpoint = _get(session, webhook_id)
    if endpoint.node_id is not None and (name, wait_for_result, timeout_seconds) != (None,) * 3:
        _set_on_node(endpoint, "Change the name and waiting")
    changed: dict[str, Any] = {}
    if name is not None:
        endpoint.name = changed["name"] = _clean_name(name)
    if wait_for_result is not None:
        endpoint.wait_for_result = changed["wait"] = wait_for_result
    if timeout_seconds is not None:
        endpoint.wait_timeout_seconds = changed["timeout"] = _check_timeout(timeout_seconds)
    if max_body_bytes is not None:
        if not MIN_BODY_BYTES <= max_body_bytes <= MAX_BODY_BYTES:
            raise InvalidWebhook(
                f"The body limit is {MIN_BODY_BYTES} to {MAX_BODY_BYTES} bytes, "
                f"not {max_body_bytes}."
            )
        endpoint.max_body_bytes = changed["max_body_bytes"] = max_body_bytes
    session.add(endpoint)
    _audit(session, actor, "webhook_updated", endpoint, **changed)


def delete_webhook(session: Session, actor: AdminUser, webhook_id: int) -> None:
    require_role(actor, Role.editor)
    endpoint = _get(session, webhook_id)
    if endpoint.node_id is not None and endpoint.node_removed_at is None:
        raise InvalidWebhook(
            f"{endpoint.name} belongs to the Webhook trigger '{endpoint.node_id}' of its flow: "
            "remove that node and publish the flow (its endpoint is then switched off), or "
            "pause the endpoint here."
        )
    _audit(session, actor, "webhook_deleted", endpoint, name=endpoint.name)
    session.delete(endpoint)
    session.flush()


# --- internals --------------------------------------------------------------------------------


def _check_timeout(seconds: int) -> int:
    if not MIN_TIMEOUT <= seconds <= MAX_TIMEOUT:
        raise InvalidWebhook(
            f"The wait timeout is {MIN_TIMEOUT} to {MAX_TIMEOUT} seconds, not {seconds}."
        )
    return seconds


def _new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidWebhook("Give the webhook a name, e.g. 'Shop orders'.")
    if len(name) > MAX_NAME:
        raise InvalidWebhook(f"The name is too long ({MAX_NAME} characters at most).")
    return name


def _set_on_node(endpoint: WebhookEndpoint, what: str) -> NoReturn:
    """Refuse changing here what the endpoint's trigger node decides (the next publish
    would undo it): say where to change it instead."""
    raise InvalidWebhook(
        f"{what} on the Webhook trigger '{endpoint.node_id}' of this endpoint's flow, then "
        "publish the flow: the node's settings decide this."
    )


def _get(session: Session, webhook_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, webhook_id)
    if endpoint is None:
        raise WebhookNotFound(f"Webhook {webhook_id} does not exist (any more).")
    return endpoint


def _audit(
    session: Session, actor: AdminUser, action: str, endpoint: WebhookEndpoint, **details: Any
) -> None:
    audit.record(
        session, actor.username, action, target_type="webhook", target_id=endpoint.id, **details
    )

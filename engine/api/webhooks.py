"""``POST /api/webhooks/{token}``: an HTTP request starts the endpoint's flow.

Checks run cheapest first and nothing is started until all pass: unknown token (404),
body over the endpoint's limit (413, counted while reading, whatever Content-Length
says), bad HMAC signature (401), flow not published or not active (409).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session, select

from engine.db import session_scope
from engine.models import WebhookEndpoint, utcnow
from engine.platform_event import PlatformEvent
from engine.services import executions

SIGNATURE_HEADER = "x-flowbot-signature"
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 64
# Never handed to a flow: credentials of the caller, not data.
DROPPED_HEADERS = frozenset(
    {"cookie", "authorization", "proxy-authorization", "x-api-key", SIGNATURE_HEADER}
)

router = APIRouter()


@router.post("/api/webhooks/{token}", status_code=202)
async def receive(token: str, request: Request) -> JSONResponse:
    endpoint = await asyncio.to_thread(_active_endpoint, token)
    if endpoint is None:
        raise HTTPException(404, "No active webhook at this address.")
    body = await read_capped(request, endpoint.max_body_bytes)
    if endpoint.secret and not signature_ok(
        endpoint.secret, body, request.headers.get(SIGNATURE_HEADER, "")
    ):
        raise HTTPException(401, "Missing or wrong X-Flowbot-Signature (sha256=<hex HMAC>).")
    event = _event(endpoint, request, body)
    try:
        execution_id = await asyncio.to_thread(
            executions.launch, endpoint.flow_id, event, on_created=_count_call(endpoint.id)
        )
    except executions.NotRunnable as exc:
        raise HTTPException(409, str(exc)) from None
    if not endpoint.wait_for_result:
        return JSONResponse({"execution_id": execution_id}, status_code=202)
    execution = await executions.wait_for_finish(execution_id, endpoint.wait_timeout_seconds)
    if execution is None or execution.status not in executions.TERMINAL:
        return JSONResponse({"execution_id": execution_id}, status_code=202)
    return JSONResponse(executions.execution_view(execution), status_code=200)


def _active_endpoint(token: str) -> WebhookEndpoint | None:
    with session_scope() as session:
        return session.exec(
            select(WebhookEndpoint).where(
                WebhookEndpoint.token == token, WebhookEndpoint.is_active.is_(True)
            )
        ).first()


def _count_call(endpoint_id: int | None):  # type: ignore[no-untyped-def]
    def count(session: Session) -> None:
        session.exec(
            sa.update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(call_count=WebhookEndpoint.call_count + 1, last_called_at=utcnow())
        )

    return count


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"The body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"The body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is ``sha256=<hex HMAC-SHA256 of body>``, compared in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = header.strip().lower().encode("latin-1", "replace")
    return hmac.compare_digest(expected.encode(), given)


def _event(endpoint: WebhookEndpoint, request: Request, body: bytes) -> PlatformEvent:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise HTTPException(400, f"Idempotency-Key: at most {MAX_IDEMPOTENCY_KEY} characters.")
    return PlatformEvent(
        # Namespaced by endpoint: two senders' keys never collide.
        event_id=f"webhook:{endpoint.id}:{key or uuid.uuid4().hex}",
        kind="webhook",
        platform="flowbot",
        data={
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": {
                name: value
                for name, value in request.headers.items()
                if name.lower() not in DROPPED_HEADERS
            },
            "body": _parse(body, request.headers.get("content-type", "")),
        },
    )


def _parse(body: bytes, content_type: str) -> Any:
    """JSON when it is JSON, else the text."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type or not content_type:
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            pass
    return text

"""``POST /api/webhooks/{token}``: an HTTP request starts the endpoint's flow.

Checks run cheapest first and nothing is started until all pass: unknown token or paused
endpoint (404), endpoint whose trigger node was removed from its flow (410),
body over the endpoint's limit (413, counted while reading, whatever Content-Length
says) or not sent in time (408), missing, stale or wrong signature (401; the scheme is in
engine/services/webhooks.py), JSON nested too deep (400), flow not published or not active
(409), signature already accepted (409, a replay).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.api.outage import OUTAGES, unavailable
from engine.db import session_scope, table_of
from engine.models import WebhookEndpoint, utcnow
from engine.platform_event import PlatformEvent
from engine.services import executions, webhook_cache, webhooks
from engine.settings import get_settings

SIGNATURE_HEADER = webhooks.SIGNATURE_HEADER.lower()
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 64
# Deeper JSON is refused before parsing: flows never need it, and past a few hundred levels
# the parser and everything that walks the data afterwards run out of recursion.
MAX_JSON_DEPTH = 100
_JSON_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_JSON_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
_OPENING = frozenset(b"[{")
# Never handed to a flow: credentials of the caller, not data.
DROPPED_HEADERS = frozenset(
    {"cookie", "authorization", "proxy-authorization", "x-api-key", SIGNATURE_HEADER}
)

PREFIX = "/api/webhooks/"
log = logging.getLogger(__name__)


async def answer(token: str, request: Request) -> tuple[int, dict[str, Any]]:
    """Every check, then the start (and, if the endpoint says so, the wait for the end):
    the status and JSON to answer with; a refusal raises HTTPException."""
    endpoint = await webhook_cache.endpoint(token)
    if endpoint is not None and (removed := webhooks.removed_notice(endpoint)):
        raise HTTPException(410, removed)
    if endpoint is None or not endpoint.is_active:
        raise HTTPException(404, "No active webhook at this address.")
    body = await read_capped(
        request, endpoint.max_body_bytes, get_settings().webhook_read_timeout_seconds
    )
    signed = _verified_signature(endpoint, request, body)
    key = _idempotency_key(request)
    event = _event(endpoint, request, body, key)
    try:
        version_id = await _runnable_version(endpoint.flow_id)
        execution_id = await asyncio.to_thread(
            _launch_once, endpoint, event, signed, not key, version_id
        )
    except (executions.NotRunnable, webhooks.ReplayedSignature) as exc:
        raise HTTPException(409, str(exc)) from None
    if not endpoint.wait_for_result:
        return 202, {"execution_id": execution_id}
    execution = await executions.wait_for_finish(execution_id, endpoint.wait_timeout_seconds)
    if execution is None or execution.status not in executions.TERMINAL:
        return 202, {"execution_id": execution_id}
    return 200, executions.execution_view(execution)


class Receiver:
    """``POST /api/webhooks/{token}`` as a plain ASGI app (an instance, so that Starlette's
    route calls it as one): the route's endpoint and the fast path's. Refusals answer as
    FastAPI's handlers would (``{"detail": ...}``; 503 with Retry-After for an outage,
    engine/api/outage.py)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            status, content = await answer(_route_path(scope).removeprefix(PREFIX), request)
            response = JSONResponse(content, status_code=status)
        except HTTPException as exc:
            response = JSONResponse({"detail": exc.detail}, exc.status_code, exc.headers)
        except OUTAGES as exc:
            response = unavailable(request, exc)
        await response(scope, receive, send)


receiver = Receiver()


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class FastPath:
    """ASGI middleware sending ``POST /api/webhooks/<token>`` straight to :data:`receiver`,
    past the routing and middleware between (a fifth of a call's CPU under FastAPI;
    issue 15). The same-origin check never applied to ingress (engine/api/origins.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = _route_path(scope)
            token = path.removeprefix(PREFIX)
            if len(token) < len(path) and token and "/" not in token:
                await receiver(scope, receive, send)
                return
        await self.app(scope, receive, send)


router = APIRouter()
# Listed with the app's routes (and reached through them where FastPath is not installed).
router.routes.append(Route(PREFIX + "{token}", receiver, methods=["POST"]))


_ENDPOINTS = table_of(WebhookEndpoint)
_COUNT_CALL = (
    sa.update(_ENDPOINTS)
    .where(_ENDPOINTS.c.id == sa.bindparam("endpoint_id"))
    .values(call_count=_ENDPOINTS.c.call_count + 1, last_called_at=sa.bindparam("now"))
)


def _count_call(endpoint_id: int | None) -> Callable[[Session], None]:
    """The endpoint's call counter, bumped in the launch's transaction (a Core statement
    prepared once: this runs on every call)."""

    def count(session: Session) -> None:
        session.connection().execute(_COUNT_CALL, {"endpoint_id": endpoint_id, "now": utcnow()})

    return count


async def _runnable_version(flow_id: int) -> int:
    """The flow's published version, kept between calls while it is runnable (the
    endpoint cache's; forgotten when a flow changes); NotRunnable when it is not."""
    try:
        return await webhook_cache.runnable_version(flow_id, executions.runnable_version)
    except executions.UNREACHABLE as exc:
        raise executions.Unavailable("The database cannot be reached.") from exc


def _launch_once(
    endpoint: WebhookEndpoint,
    event: PlatformEvent,
    signed: str | None,
    new_event: bool,
    version_id: int,
) -> int:
    """Start the flow; a signed request first uses up its signature, in a transaction of its
    own that commits before anything starts, so of two copies sent at once only one gets
    through. If the start is then refused (flow not published, database or broker down),
    the signature is given back: the sender's retry of that very request still works.
    ``new_event``: the request has no idempotency key (its event id is made up);
    ``version_id``: the flow's runnable version, as checked before."""
    launch = partial(
        executions.launch,
        endpoint.flow_id,
        event,
        on_created=_count_call(endpoint.id),
        new_event=new_event,
        version_id=version_id,
    )
    if signed is None:
        return launch()
    endpoint_id = endpoint.id or 0
    try:
        with session_scope() as session:
            webhooks.remember_signature(session, endpoint_id, signed)
    except executions.UNREACHABLE as exc:
        raise executions.Unavailable("The database cannot be reached.") from exc
    try:
        return launch()
    except BaseException:
        try:
            with session_scope() as session:
                webhooks.forget_signature(session, endpoint_id, signed)
        except Exception:  # the refusal matters more; the signature stays used up
            log.warning("webhook %s: signature not given back", endpoint_id, exc_info=True)
        raise


def _verified_signature(endpoint: WebhookEndpoint, request: Request, body: bytes) -> str | None:
    """The request's valid signature when the endpoint has a secret (else None); 401 naming
    the reason when it is missing, stale or wrong."""
    if not endpoint.secret:
        return None
    try:
        return webhooks.verify_signature(
            endpoint.secret,
            body,
            request.headers.get(webhooks.TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            time.time(),
        )
    except webhooks.InvalidSignature as exc:
        raise HTTPException(401, str(exc)) from None


async def read_capped(request: Request, limit: int, timeout: float) -> bytes:
    """The body, refused with 413 as soon as it grows past ``limit`` bytes, and with 408 if
    it has not all arrived after ``timeout`` seconds (a trickling sender would otherwise
    hold the connection open for as long as it likes)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"The body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"The body is larger than {limit} bytes.")
                chunks.append(chunk)
    except TimeoutError:
        raise HTTPException(
            408, f"The body did not arrive within {timeout:g} s.", {"Connection": "close"}
        ) from None
    return b"".join(chunks)


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects in ``body`` nest deeper than ``limit``, found by counting
    brackets without parsing: escapes and then strings are removed first (their brackets
    are text). Linear in the body, so 100 000 levels cost a scan, not a RecursionError."""
    brackets = _JSON_STRING.sub(b"", _JSON_ESCAPE.sub(b"", body)).translate(None, _NOT_BRACKET)
    depth = 0
    for bracket in brackets:
        if bracket in _OPENING:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _idempotency_key(request: Request) -> str:
    """The sender's Idempotency-Key ("" without one); 400 when it is too long."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise HTTPException(400, f"Idempotency-Key: at most {MAX_IDEMPOTENCY_KEY} characters.")
    return key


_RUN_ID = uuid.uuid4().hex  # this import's; with the pid and a count, a call's own id
_CALLS = itertools.count()


def _call_id() -> str:
    """An id no other call has, here or in any other process (forked ones included),
    without a random draw on every call."""
    return f"{_RUN_ID}-{os.getpid()}-{next(_CALLS)}"


def _event(endpoint: WebhookEndpoint, request: Request, body: bytes, key: str) -> PlatformEvent:
    return PlatformEvent(
        # Namespaced by endpoint: two senders' keys never collide.
        event_id=f"webhook:{endpoint.id}:{key or _call_id()}",
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
    """JSON when it is JSON, else the text; 400 for JSON nested deeper than MAX_JSON_DEPTH."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type or not content_type:
        if json_too_deep(body):
            raise HTTPException(
                400, f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels."
            )
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            pass
    return text

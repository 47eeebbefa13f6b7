"""``Idempotency-Key`` on POSTs that create or start something.

The first request with a key is carried out and its answer kept (per token, 24 hours);
the same request again gets that answer instead of a second effect; the same key with a
different request is refused (422); while the first is still running, 409.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Header, Request
from fastapi.responses import JSONResponse
from sqlmodel import select

from engine import crypto
from engine.api.v1.caller import Caller
from engine.api.v1.errors import ApiError
from engine.db import session_scope
from engine.models import ApiIdempotentAnswer, utcnow

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        description="Any unique string: a retry with the same key is answered once.",
    ),
]
KEPT = timedelta(hours=24)
IN_PROGRESS = 0
SEALED = "sealed"


async def fingerprint(request: Request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.url.path}?{request.url.query}\n".encode())
    digest.update(await request.body())
    return digest.hexdigest()


def _claim(token_id: int, key: str, print_: str) -> ApiIdempotentAnswer | None:
    """None when this request may go ahead; else the earlier answer (or its placeholder)."""
    with session_scope() as session:
        found = session.exec(
            select(ApiIdempotentAnswer).where(
                ApiIdempotentAnswer.token_id == token_id, ApiIdempotentAnswer.key == key
            )
        ).first()
        if found is not None and found.created_at >= utcnow() - KEPT:
            return found
        if found is not None:
            session.delete(found)
            session.flush()
        try:
            with session.begin_nested():
                session.add(
                    ApiIdempotentAnswer(
                        token_id=token_id,
                        key=key,
                        fingerprint=print_,
                        status_code=IN_PROGRESS,
                        body={},
                    )
                )
        except sa.exc.IntegrityError:
            return ApiIdempotentAnswer(
                token_id=token_id, key=key, fingerprint=print_, status_code=IN_PROGRESS
            )
    return None


def _settle(
    token_id: int, key: str, status: int | None, body: dict[str, Any] | None = None
) -> None:
    """Keep the answer; a failure (None) frees the key for a retry."""
    with session_scope() as session:
        row = session.exec(
            select(ApiIdempotentAnswer).where(
                ApiIdempotentAnswer.token_id == token_id, ApiIdempotentAnswer.key == key
            )
        ).first()
        if row is None:
            return
        if status is None or status >= 500:
            session.delete(row)
        else:
            # Sealed: the answer may carry a secret shown once (a new token, a webhook secret).
            row.status_code, row.body = status, {SEALED: crypto.encrypt(json.dumps(body))}
            session.add(row)


def _unsealed(stored: dict[str, Any]) -> Any:
    return json.loads(crypto.decrypt(stored[SEALED])) if SEALED in stored else stored


async def once(
    caller: Caller,
    key: str | None,
    request: Request,
    produce: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> JSONResponse:
    """Answer ``produce()``'s (status, body), at most once per Idempotency-Key."""
    if not key:
        status, body = await produce()
        return JSONResponse(body, status_code=status)
    print_ = await fingerprint(request)
    earlier = await asyncio.to_thread(_claim, caller.token_id, key, print_)
    if earlier is not None:
        if earlier.fingerprint != print_:
            raise ApiError(422, "This Idempotency-Key was used for a different request.")
        if earlier.status_code == IN_PROGRESS:
            raise ApiError(409, "A request with this Idempotency-Key is still in progress.")
        return JSONResponse(
            _unsealed(earlier.body),
            status_code=earlier.status_code,
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        status, body = await produce()
    except ApiError as exc:
        await asyncio.to_thread(_settle, caller.token_id, key, None)
        raise exc
    except BaseException:
        await asyncio.to_thread(_settle, caller.token_id, key, None)
        raise
    await asyncio.to_thread(_settle, caller.token_id, key, status, body)
    return JSONResponse(body, status_code=status)

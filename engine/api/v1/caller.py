"""Who calls the REST API, what they may do, and how often.

Every route depends on :func:`viewer`, :func:`editor` or :func:`admin`: the Bearer token is
resolved to its owner, the caller acts with the lesser of the token's and the owner's role
(a read-only token is a viewer's), and the same ``require_role`` the UI uses decides.
Each token has its own request budget per minute (Redis when scaled, so every web process
counts together); past it the answer is 429 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.exceptions import RedisError
from sqlmodel import Session

from engine.api.v1.errors import ApiError
from engine.broker import get_broker
from engine.db import session_scope
from engine.execution_store import ExecutionNotFound
from engine.models import AdminUser, Role
from engine.services import auth
from engine.services.errors import Conflict, NotFound
from engine.services.executions import UNREACHABLE, NotRunnable, Unavailable
from engine.services.flows import StaleRevision
from engine.settings import get_settings

T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """The token's owner and what the token lets them do (the lesser of the two roles)."""

    user_id: int
    username: str
    token_id: int
    token_role: Role
    role: Role


_windows: dict[tuple[int, int], int] = {}
_windows_lock = threading.Lock()


def _count_request(token_id: int) -> int:
    """Requests this token made in the current minute, this one included."""
    minute = int(time.time() // 60)
    broker = get_broker()
    client = getattr(broker, "client", None)
    if client is not None:
        key = f"{get_settings().redis_namespace}:api-rate:{token_id}:{minute}"
        count = int(client.incr(key))
        if count == 1:
            client.expire(key, 120)
        return count
    with _windows_lock:
        for stale in [k for k in _windows if k[1] < minute]:
            del _windows[stale]
        _windows[(token_id, minute)] = _windows.get((token_id, minute), 0) + 1
        return _windows[(token_id, minute)]


def _rate_limit(token_id: int) -> None:
    limit = get_settings().api_requests_per_minute
    try:
        count = _count_request(token_id)
    except RedisError:
        return  # no counter: serve rather than refuse everyone
    if count > limit:
        retry = str(60 - int(time.time()) % 60)
        raise ApiError(
            429,
            f"More than {limit} requests this minute with this token; slow down.",
            headers={"Retry-After": retry},
        )


def _resolve(authorization: str) -> Caller:
    scheme, _, plaintext = authorization.partition(" ")
    if scheme.lower() != "bearer" or not plaintext.strip():
        raise ApiError(
            401,
            "Send an API token: Authorization: Bearer fbt_…",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with session_scope() as session:
        found = auth.user_for_api_token(session, plaintext.strip())
        if found is None:
            raise ApiError(
                401,
                "The API token is invalid, expired or revoked.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        user, token = found
        role = min(Role(user.role), Role(token.role), key=lambda r: r.rank)
        if not user.is_active:
            raise ApiError(401, "The token's owner is deactivated.")
        return Caller(
            user_id=user.id or 0,
            username=user.username,
            token_id=token.id or 0,
            token_role=Role(token.role),
            role=role,
        )


# Declared as an OpenAPI security scheme (so clients and the docs page know how to sign
# requests); without auto_error, a missing or non-Bearer header gets our own 401 envelope.
bearer = HTTPBearer(
    scheme_name="ApiToken",
    bearerFormat="fbt_…",
    description="An API token from Settings → API tokens: `Authorization: Bearer fbt_…`.",
    auto_error=False,
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _needs(role: Role) -> Callable[..., Any]:
    async def dependency(credentials: Credentials) -> Caller:
        authorization = f"Bearer {credentials.credentials}" if credentials else ""
        caller = await asyncio.to_thread(_resolve, authorization)
        await asyncio.to_thread(_rate_limit, caller.token_id)
        if not caller.role.allows(role):
            raise ApiError(
                403, f"This needs the {role.value} role; this token acts as {caller.role.value}."
            )
        return caller

    return dependency


Viewer = Annotated[Caller, Depends(_needs(Role.viewer))]
Editor = Annotated[Caller, Depends(_needs(Role.editor))]
Admin = Annotated[Caller, Depends(_needs(Role.admin))]


def _refusal(exc: Exception) -> ApiError | None:
    """The API's answer to a service's refusal (None: not a refusal, a bug)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, auth.PermissionDenied):
        return ApiError(403, str(exc))
    if isinstance(exc, NotFound | ExecutionNotFound):
        return ApiError(404, str(exc))
    if isinstance(exc, StaleRevision):
        return ApiError(412, str(exc))
    if isinstance(exc, Conflict | NotRunnable):
        return ApiError(409, str(exc))
    if isinstance(exc, (Unavailable, *UNREACHABLE)):
        return ApiError(503, "A backing service is unreachable.", headers={"Retry-After": "5"})
    if isinstance(exc, ValueError | auth.AuthError):
        return ApiError(422, str(exc))
    return None


def _in_transaction(caller: Caller, action: Callable[[Session, AdminUser], T]) -> T:
    with auth.capped_by_token(caller.token_role), session_scope() as session:
        user = session.get(AdminUser, caller.user_id)
        if user is None:
            raise ApiError(401, "The token's owner no longer exists.")
        return action(session, user)


async def run(caller: Caller, action: Callable[[Session, AdminUser], T]) -> T:
    """Run a service action as the caller, in one transaction off the event loop; a
    refusal becomes the matching API error."""
    try:
        return await asyncio.to_thread(_in_transaction, caller, action)
    except Exception as exc:
        refusal = _refusal(exc)
        if refusal is None:
            raise
        raise refusal from None


async def run_async(caller: Caller, action: Callable[[AdminUser], Awaitable[T]]) -> T:
    """Run an async service action (one that opens its own sessions and calls the pool,
    like engine/services/moderation.py) as the caller, capped by the token's role; a
    refusal becomes the matching API error."""
    user = await run(caller, lambda _, me: me)
    try:
        with auth.capped_by_token(caller.token_role):
            return await action(user)
    except Exception as exc:
        refusal = _refusal(exc)
        if refusal is None:
            raise
        raise refusal from None

"""The engine's one client of the connector pool API (``POST /execute``).

Errors always arrive as :class:`ActionError`, whatever went wrong (a refusal by the
platform, a pool that cannot be reached, a malformed answer), so the executor records
one kind of failure. Rate limits are retried by the connector itself, which knows the
platform's rules; this client only retries ``unavailable`` a couple of times. Retrying
is safe because every call carries an idempotency key the pool deduplicates on.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import Any

import httpx

from engine.action_errors import ActionError, ErrorKind
from engine.settings import get_settings

TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=10.0)
"""Reads are long: the connector may wait out a platform's rate limit before answering."""
RETRY_DELAYS = (0.2, 1.0)
"""Backoff before each retry of an ``unavailable`` answer; its length is the retry count."""

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _client() -> httpx.AsyncClient:
    """One AsyncClient per event loop: its connections belong to the loop that opened them."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(timeout=TIMEOUT)
        _clients[loop] = client
    return client


async def aclose() -> None:
    """Close this loop's client (at worker shutdown and in tests)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


async def execute(
    kind: str,
    action: str,
    params: Mapping[str, Any],
    *,
    instance_id: int | None,
    idempotency_key: str,
) -> dict[str, Any]:
    """Run one platform action; the result dict, or ActionError."""
    settings = get_settings()
    url = settings.pool_url.rstrip("/") + "/execute"
    body = {
        "instance_id": instance_id,
        "kind": kind,
        "action": action,
        "params": dict(params),
        "idempotency_key": idempotency_key,
    }
    headers = {"Authorization": f"Bearer {settings.effective_pool_token}"}
    for delay in (*RETRY_DELAYS, None):
        try:
            return await _post(url, body, headers)
        except ActionError as exc:
            if exc.kind is not ErrorKind.unavailable or delay is None:
                raise
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises


async def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    try:
        response = await _client().post(url, json=body, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise ActionError(
            ErrorKind.unavailable, f"connector pool unreachable at {url}: {exc}"
        ) from None
    except httpx.TimeoutException:
        raise ActionError(
            ErrorKind.unavailable, f"connector pool at {url} did not answer in time"
        ) from None
    except httpx.HTTPError as exc:
        raise ActionError(ErrorKind.unavailable, f"connector pool at {url} failed: {exc}") from None
    if response.status_code in (401, 403):
        raise ActionError(
            ErrorKind.platform,
            f"connector pool at {url} refused the token (check FLOWBOT_POOL_TOKEN)",
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "ok" not in answer:
        kind = ErrorKind.unavailable if response.status_code >= 500 else ErrorKind.platform
        raise ActionError(
            kind, f"connector pool at {url} answered HTTP {response.status_code} without a result"
        )
    if not answer["ok"]:
        raise _action_error(answer.get("error"))
    result = answer.get("result")
    return result if isinstance(result, dict) else {"value": result}


def _action_error(error: Any) -> ActionError:
    """The pool's structured error; an unknown kind (a newer pool) reads as ``platform``."""
    body = error if isinstance(error, dict) else {}
    try:
        return ActionError.from_dict(body)
    except ValueError:
        return ActionError.from_dict({**body, "kind": ErrorKind.platform})


# --- instance control: restart and logins, asked by the Connections page ------------------------


async def call(path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``POST`` a pool API route (``/instances/3/restart``…); its result, or ActionError.

    Not retried: a login step must not be sent twice (Telegram would send a second code).
    """
    settings = get_settings()
    url = settings.pool_url.rstrip("/") + path
    headers = {"Authorization": f"Bearer {settings.effective_pool_token}"}
    return await _post(url, dict(body or {}), headers)


async def push_update(instance_id: int, update: Mapping[str, Any]) -> dict[str, Any]:
    """Hand a Telegram webhook update to the supervisor running the bot (not retried here:
    Telegram sends an update again until it is accepted)."""
    return await call(f"/instances/{instance_id}/update", update)


async def restart_instance(instance_id: int) -> dict[str, Any]:
    return await call(f"/instances/{instance_id}/restart")


async def telegram_login(instance_id: int, step: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """One step of a Telegram account login: ``send_code``, ``submit_code``, ``submit_password``."""
    return await call(f"/instances/{instance_id}/login/telegram/{step}", body)


async def whatsapp_pair(instance_id: int, phone: str) -> dict[str, Any]:
    """Ask the running WhatsApp connector for a pairing code for ``phone``."""
    return await call(f"/instances/{instance_id}/login/whatsapp/pair", {"phone": phone})

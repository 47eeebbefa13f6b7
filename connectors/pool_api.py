"""The pool HTTP API the engine calls (``POST /execute``) and operators look at.

Every route but ``/health`` needs ``Authorization: Bearer <pool token>``; ``/health``
answers only ``{"status": "ok"}`` without it (the details name the host and process). Action
outcomes are always HTTP 200 with ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": ActionError.to_dict()}``; ``/execute`` answers a repeated
``idempotency_key`` from the cache instead of acting twice.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.login import add_login_routes
from connectors.supervisor import Supervisor
from engine.action_errors import ActionError, ErrorKind

SUPERVISOR: web.AppKey[Supervisor] = web.AppKey("supervisor", Supervisor)
TOKEN: web.AppKey[str] = web.AppKey("token", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    instance_id: int | None = None
    kind: str = Field(min_length=1)
    action: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None


def _failure(error: ActionError) -> web.Response:
    return web.json_response({"ok": False, "error": error.to_dict()})


def _authorized(request: web.Request) -> bool:
    """Whether the request carries the pool token (compared in constant time)."""
    expected = f"Bearer {request.app[TOKEN]}".encode()
    given = request.headers.get("Authorization", "").encode()
    return hmac.compare_digest(given, expected)


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/health":
        return await handler(request)
    if not _authorized(request):
        return web.json_response(
            {"ok": False, "error": {"kind": "unauthorized", "message": "missing or wrong token"}},
            status=401,
        )
    return await handler(request)


async def execute(request: web.Request) -> web.Response:
    supervisor = request.app[SUPERVISOR]
    try:
        body = ExecuteRequest.model_validate(await request.json())
    except (ValueError, ValidationError) as exc:
        return _failure(ActionError(ErrorKind.validation, f"malformed /execute request: {exc}"))
    outcome = await supervisor.dedupe.run(
        body.idempotency_key,
        lambda: supervisor.execute(body.instance_id, body.kind, body.action, body.params),
    )
    return web.json_response(outcome)


async def health(request: web.Request) -> web.Response:
    """Liveness for anyone; the owner (host:pid), pools and counters only with the token."""
    if not _authorized(request):
        return web.json_response({"status": "ok"})
    supervisor = request.app[SUPERVISOR]
    return web.json_response(
        {
            "status": "ok",
            "owner": supervisor.owner,
            "instances": len(supervisor.instances),
            "pools": supervisor.pools(),
            "events": supervisor.forwarder.stats(),
        }
    )


async def pools(request: web.Request) -> web.Response:
    return web.json_response({"pools": request.app[SUPERVISOR].pools()})


async def instances(request: web.Request) -> web.Response:
    return web.json_response({"instances": request.app[SUPERVISOR].snapshot()})


async def restart(request: web.Request) -> web.Response:
    try:
        instance_id = int(request.match_info["instance_id"])
        await request.app[SUPERVISOR].restart(instance_id)
    except ValueError:
        return _failure(ActionError(ErrorKind.validation, "the instance id must be a number"))
    except ActionError as exc:
        return _failure(exc)
    return web.json_response({"ok": True, "result": {"restarted": instance_id}})


async def receive_update(request: web.Request) -> web.Response:
    """A Telegram webhook update, handed over by the web server (engine/api/telegram_webhook.py)."""
    try:
        instance_id = int(request.match_info["instance_id"])
        update = await request.json()
        if not isinstance(update, dict):
            raise ValueError("not an update")
        await request.app[SUPERVISOR].receive_update(instance_id, "telegram_bot", update)
    except ValueError as exc:
        return _failure(ActionError(ErrorKind.validation, f"malformed update request: {exc}"))
    except ActionError as exc:
        return _failure(exc)
    return web.json_response({"ok": True, "result": {"received": True}})


def build_app(supervisor: Supervisor, token: str) -> web.Application:
    app = web.Application(middlewares=[_auth])
    app[SUPERVISOR] = supervisor
    app[TOKEN] = token
    app.router.add_post("/execute", execute)
    app.router.add_get("/health", health)
    app.router.add_get("/pools", pools)
    app.router.add_get("/instances", instances)
    app.router.add_post("/instances/{instance_id}/restart", restart)
    app.router.add_post("/instances/{instance_id}/update", receive_update)
    add_login_routes(app, supervisor)  # Telegram account login steps, WhatsApp pairing code
    return app


async def start_api(supervisor: Supervisor, token: str, host: str, port: int) -> web.AppRunner:
    """Listen on ``host:port`` (port 0: any free port, see ``runner.addresses``)."""
    runner = web.AppRunner(build_app(supervisor, token), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner

"""Logins driven from the UI through the supervisor's pool API.

Telegram account: ``send_code`` → ``submit_code`` → (2FA) ``submit_password``, one request
each. The :class:`TelegramLogin` between the steps lives here, in the supervisor process,
one per instance; the finished session string goes straight into the database (encrypted
by the column type) and never back over HTTP. In scaled mode the web process reaches the
supervisor at ``pool_url``, so every step of one login lands on the same supervisor.

WhatsApp: QR login needs no route (an active connection reports rotating QR codes on the
bus); ``pair`` asks the running connector for a pairing code instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pyrogram
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from connectors.telegram_user.client import TelegramLogin, api_credentials
from engine.action_errors import ActionError, ErrorKind
from engine.db import session_scope
from engine.models import ConnectorKind
from engine.services import connections

LOGIN_TTL_SECONDS = 15 * 60
"""A login left half-way is dropped after this long (Telegram's codes expire sooner)."""

client_factory: Callable[..., pyrogram.Client] = pyrogram.Client
"""Builds the login's pyrogram client; tests replace it with a recording fake."""


class PhoneBody(BaseModel):
    phone: str = Field(min_length=1, max_length=32)


class CodeBody(BaseModel):
    code: str = Field(min_length=1, max_length=16)


class PasswordBody(BaseModel):
    password: str = Field(min_length=1, max_length=256)


class TelegramLogins:
    """The logins in progress, by instance id."""

    def __init__(self) -> None:
        self._logins: dict[int, tuple[TelegramLogin, float]] = {}

    async def start(self, instance_id: int, phone: str) -> dict[str, Any]:
        settings = await asyncio.to_thread(_telegram_settings, instance_id)
        try:
            api_id, api_hash = api_credentials(settings)
        except ValueError as exc:
            raise ActionError(ErrorKind.validation, str(exc)) from None
        await self.cancel(instance_id)  # a new attempt replaces an unfinished one
        login = TelegramLogin(api_id, api_hash, phone, client_factory=client_factory)
        self._logins[instance_id] = (login, time.monotonic())
        return await self._step(instance_id, login.send_code())

    async def submit_code(self, instance_id: int, code: str) -> dict[str, Any]:
        return await self._step(instance_id, self._current(instance_id).submit_code(code))

    async def submit_password(self, instance_id: int, password: str) -> dict[str, Any]:
        login = self._current(instance_id)
        return await self._step(instance_id, login.submit_password(password))

    async def cancel(self, instance_id: int) -> None:
        entry = self._logins.pop(instance_id, None)
        if entry is not None:
            await entry[0].cancel()

    def _current(self, instance_id: int) -> TelegramLogin:
        entry = self._logins.get(instance_id)
        if entry is None or time.monotonic() - entry[1] > LOGIN_TTL_SECONDS:
            self._logins.pop(instance_id, None)
            raise ActionError(ErrorKind.validation, "no login in progress: send a code first")
        return entry[0]

    async def _step(self, instance_id: int, step: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """Run a step; a finished login is stored and leaves only the account's name."""
        try:
            result = await step
        except ActionError:
            raise
        except Exception as exc:  # a network problem reaching Telegram, most likely
            await self.cancel(instance_id)
            raise ActionError(ErrorKind.unavailable, f"Telegram login failed: {exc}") from None
        if result.get("step") != "done":
            return result
        self._logins.pop(instance_id, None)
        session_string = result.pop("session_string")
        await asyncio.to_thread(_store, instance_id, session_string, result.get("user") or {})
        return result


def _telegram_settings(instance_id: int) -> dict[str, Any]:
    with session_scope() as session:
        instance = _instance(session, instance_id, ConnectorKind.telegram_user)
        return dict(instance.settings or {})


def _store(instance_id: int, session_string: str, account: dict[str, Any]) -> None:
    with session_scope() as session:
        connections.store_login_session(session, instance_id, session_string, account)


def _instance(session: Any, instance_id: int, kind: ConnectorKind) -> Any:
    try:
        instance = connections.get_instance(session, instance_id)
    except connections.InvalidConnection as exc:
        raise ActionError(ErrorKind.validation, str(exc)) from None
    if instance.kind != kind:
        raise ActionError(ErrorKind.validation, f"instance {instance_id} is not a {kind.value}")
    return instance


async def whatsapp_pair(supervisor: Any, instance_id: int, phone: str) -> dict[str, Any]:
    """A pairing code from the running connector (it also reports it on the bus)."""
    managed = supervisor.instances.get(instance_id)
    connector = managed.connector if managed is not None else None
    if connector is None or not hasattr(connector, "pair_phone"):
        raise ActionError(
            ErrorKind.unavailable,
            "the WhatsApp connection is not running here: activate it, wait for the QR code, "
            "then ask for a pairing code",
        )
    try:
        code = await connector.pair_phone(phone)
    except Exception as exc:
        raise ActionError(ErrorKind.platform, f"WhatsApp refused pairing: {exc}") from None
    return {"pair_code": code}


# --- routes -----------------------------------------------------------------------------------

LOGINS: web.AppKey[TelegramLogins] = web.AppKey("telegram_logins", TelegramLogins)
Route = Callable[[web.Request, int, Any], Awaitable[dict[str, Any]]]


def _route(
    body_model: type[BaseModel], run: Route
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The JSON shape every pool route answers with: ``{ok, result}`` or ``{ok, error}``."""

    async def handler(request: web.Request) -> web.Response:
        try:
            try:
                instance_id = int(request.match_info["instance_id"])
                body = body_model.model_validate(await request.json())
            except (ValueError, ValidationError) as exc:
                raise ActionError(ErrorKind.validation, f"malformed request: {exc}") from None
            try:
                result = await run(request, instance_id, body)
            except connections.InvalidConnection as exc:  # the connection went meanwhile
                raise ActionError(ErrorKind.validation, str(exc)) from None
        except ActionError as exc:
            return web.json_response({"ok": False, "error": exc.to_dict()})
        return web.json_response({"ok": True, "result": result})

    return handler


def add_login_routes(app: web.Application, supervisor: Any) -> None:
    app[LOGINS] = logins = TelegramLogins()
    base = "/instances/{instance_id}/login"
    routes: dict[str, Callable[[web.Request], Awaitable[web.Response]]] = {
        "telegram/send_code": _route(PhoneBody, lambda _, i, b: logins.start(i, b.phone)),
        "telegram/submit_code": _route(CodeBody, lambda _, i, b: logins.submit_code(i, b.code)),
        "telegram/submit_password": _route(
            PasswordBody, lambda _, i, b: logins.submit_password(i, b.password)
        ),
        "whatsapp/pair": _route(PhoneBody, lambda _, i, b: whatsapp_pair(supervisor, i, b.phone)),
    }
    for path, handler in routes.items():
        app.router.add_post(f"{base}/{path}", handler)

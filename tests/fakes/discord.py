"""A fake Discord (REST API v10 + gateway websocket on one port) that real hikari talks to.

Point hikari at it with ``hikari.GatewayBot(fake.token, rest_url=fake.rest_url, ...)`` (or
``hikari.RESTApp(url=fake.rest_url)``): the gateway URL then comes from ``GET /gateway/bot``.
Calls are recorded with their route template (``/channels/{channel}/messages``) so tests match
them the way the Discord docs name them.
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import discord_objects as dc
from tests.fakes._server import CallLog, FakeServer, UploadedFile, read_multipart
from tests.fakes.discord_gateway import FakeGateway
from tests.fakes.discord_rest import DiscordAPIError, DiscordREST

Json = dict[str, Any]

# Interaction callbacks and webhook calls authenticate by the token in the path.
_TOKEN_AUTHENTICATED = ("/interactions/", "/webhooks/")
DEFAULT_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.FakeDc.Flowbot-test-token-0123456789abcdef"


@dataclass
class DiscordCall:
    """One REST request: route template, path parameters, JSON body (or ``payload_json``)."""

    method: str
    path: str
    route: str
    params: dict[str, str]
    json: Any
    query: dict[str, str]
    headers: dict[str, str]
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int = 200

    @property
    def reason(self) -> str | None:
        """The audit log reason (``X-Audit-Log-Reason``, sent URL-encoded)."""
        raw = self.headers.get("X-Audit-Log-Reason")
        return urllib.parse.unquote(raw) if raw is not None else None

    @property
    def summary(self) -> str:
        return f"{self.method} {self.path} {self.json!r} -> {self.status}"


@dataclass(frozen=True)
class _Fault:
    method: str | None
    route: str
    status: int
    body: Json
    headers: dict[str, str]


def _parse_route(route: str) -> tuple[str | None, str]:
    """``"POST /channels/{channel}/messages"`` → (``POST``, template); no method matches any."""
    method, _, template = route.strip().rpartition(" ")
    return (method.upper() or None), template


class FakeDiscord(DiscordREST, FakeGateway, FakeServer):
    """Discord on 127.0.0.1: REST under ``/api/v10`` and the gateway at ``/gateway``."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_id: int = 1_100_000_000_000_000_001,
        username: str = "flowbot-test",
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        FakeServer.__init__(self)
        FakeGateway.__init__(self, heartbeat_interval_ms)
        DiscordREST.__init__(self)
        self.token = token
        self.application_id = str(bot_id)
        self.me = dc.user(bot_id, username, bot=True)
        self.log: CallLog[DiscordCall] = CallLog()
        self._faults: list[_Fault] = []

    @property
    def rest_url(self) -> str:
        """What hikari takes as ``rest_url`` (the API root, version included)."""
        return f"{self.origin}/api/v10"

    @property
    def calls(self) -> list[DiscordCall]:
        return self.log.calls

    def calls_to(self, method: str, route: str) -> list[DiscordCall]:
        """Calls by method and route template or concrete path (``/channels/42/messages``)."""
        return self.log.matching(_matcher(method, route))

    async def wait_for_call(
        self, method: str, route: str, *, count: int = 1, timeout: float = 5.0
    ) -> DiscordCall:
        return await self.log.wait_for(_matcher(method, route), count=count, timeout=timeout)

    def rate_limit_next(
        self, route: str, retry_after: float = 0.5, *, is_global: bool = False, times: int = 1
    ) -> None:
        """Answer the next ``times`` matching requests with 429 and Discord's rate-limit headers.

        ``route`` is a template, optionally prefixed by the method:
        ``"POST /channels/{channel}/messages"``.
        """
        method, template = _parse_route(route)
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
            body["code"] = 0
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": "1",  # hikari then waits the whole reset_after
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": f"{zlib.crc32(template.encode()):08x}",
                }
            )
        self._faults.extend([_Fault(method, template, 429, body, headers)] * times)

    def fail_next(
        self,
        route: str,
        status: int = 500,
        code: int = 0,
        message: str = "Internal Server Error",
        *,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with a Discord error body."""
        method, template = _parse_route(route)
        fault = _Fault(method, template, status, {"message": message, "code": code}, {})
        self._faults.extend([fault] * times)

    async def join_guild(self, guild_id: int | str, name: str, **fields: Any) -> Json:
        """The bot is added to a guild: GUILD_CREATE without ``unavailable`` (a join)."""
        guild = self.add_guild(guild_id, name, **fields)
        await self.dispatch("GUILD_CREATE", {k: v for k, v in guild.items() if k != "unavailable"})
        return guild

    async def leave_guild(self, guild_id: int | str) -> None:
        """The bot is removed from a guild: GUILD_DELETE without ``unavailable``."""
        self.guilds.pop(str(guild_id), None)
        await self.dispatch("GUILD_DELETE", {"id": str(guild_id)})

    # -- HTTP -------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway_handler)
        app.router.add_route("*", r"/api/v{version:\d+}/{path:.*}", self._rest_handler)
        return app

    async def before_stop(self) -> None:
        await self.close_gateway(1001, "Discord is restarting")

    async def _rest_handler(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        found = self.resolve(request.method, path)
        body, files = await _read_body(request)
        route, params, handler = found if found else (path, {}, None)
        call = DiscordCall(
            request.method,
            path,
            route,
            params,
            body,
            dict(request.query),
            dict(request.headers),
            files,
        )
        self.log.record(call)
        try:
            if handler is None:
                raise DiscordAPIError(404, 0, "404: Not Found")
            authorized = request.headers.get("Authorization") == f"Bot {self.token}"
            if not authorized and not route.startswith(_TOKEN_AUTHENTICATED):
                raise DiscordAPIError(401, 0, "401: Unauthorized")
            if fault := self._take_fault(call):
                call.status = fault.status
                return web.json_response(fault.body, status=fault.status, headers=fault.headers)
            result = handler(call)
        except DiscordAPIError as error:
            call.status = error.status
            return web.json_response(
                {"message": error.message, "code": error.code}, status=error.status
            )
        if result is None:
            call.status = 204
            return web.Response(status=204)
        return web.json_response(result)

    def _take_fault(self, call: DiscordCall) -> _Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.method in (None, call.method) and fault.route in (call.route, call.path):
                return self._faults.pop(index)
        return None


def _matcher(method: str, route: str) -> Callable[[DiscordCall], bool]:
    return lambda call: call.method == method.upper() and route in (call.route, call.path)


async def _read_body(request: web.Request) -> tuple[Any, dict[str, UploadedFile]]:
    """The JSON body; for multipart (messages with files) ``payload_json`` plus the files."""
    if request.content_type == "multipart/form-data":
        fields, files = await read_multipart(request)
        return json.loads(fields.get("payload_json", "null")), files
    if request.can_read_body and request.content_type == "application/json":
        return await request.json(), {}
    return None, {}

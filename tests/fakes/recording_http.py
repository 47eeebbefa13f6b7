"""A local HTTP endpoint that records every request the http_request node makes to it,
so a test can count side effects and see the values a flow really sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes._server import CallLog, FakeServer


@dataclass(frozen=True)
class HttpCall:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str

    @property
    def summary(self) -> str:
        return f"{self.method} {self.path}"


class RecordingHttp(FakeServer):
    """Answers every request with ``reply`` (JSON) after recording it in ``calls``."""

    def __init__(self, reply: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.reply = reply or {"ok": True}
        self.calls: CallLog[HttpCall] = CallLog()

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._record)
        return app

    async def _record(self, request: web.Request) -> web.Response:
        self.calls.record(
            HttpCall(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                await request.text(),
            )
        )
        return web.json_response(self.reply)

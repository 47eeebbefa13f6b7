"""Same-origin policy for everything a browser can reach with the session cookie.

The UI, its websocket and the sign-in routes answer only pages served from
FLOWBOT_PUBLIC_URL's origin; a page on another site that makes a visitor's browser call
them (with the visitor's cookie) is refused. Webhook ingress is public by design (it is
authenticated by its token and signature, never by a cookie) and so is left open.
"""

from __future__ import annotations

import json
from functools import lru_cache
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from engine.settings import get_settings

# Called by other servers, authenticated by token/signature in the request itself.
INGRESS_PREFIXES = ("/api/webhooks/", "/api/telegram/")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@lru_cache(maxsize=4)
def _allowed(public_url: str) -> frozenset[str]:
    """The public URL's origin; on a loopback host, also its other loopback spellings."""
    parts = urlsplit(public_url)
    origins = {_origin_of(public_url)}
    if parts.hostname in {"127.0.0.1", "localhost", "::1"}:
        port = f":{parts.port}" if parts.port else ""
        origins |= {f"{parts.scheme}://{name}{port}" for name in LOOPBACK_NAMES}
    return frozenset(origins)


def allowed_origins() -> list[str]:
    return sorted(_allowed(get_settings().effective_public_url))


def is_allowed(origin: str) -> bool:
    return origin.rstrip("/").lower() in _allowed(get_settings().effective_public_url)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class SameOriginOnly:
    """ASGI middleware: a request (or websocket) from a foreign Origin gets 403.

    Requests without an Origin header come from programs, not pages, and carry no
    visitor's cookie by accident; they pass (and still need a session or token).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"} and not str(scope.get("path", "")).startswith(
            INGRESS_PREFIXES
        ):
            origin = _header(scope, b"origin")
            if origin is not None and not is_allowed(origin):
                await _refuse(scope, send)
                return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps(
        {"error": {"code": "foreign_origin", "message": "Requests from other sites are refused."}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"application/json"), (b"vary", b"Origin")],
        }
    )
    await send({"type": "http.response.body", "body": body})

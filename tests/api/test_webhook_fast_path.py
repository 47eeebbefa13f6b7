"""The webhook receiver's fast path (issue 15): ``POST /api/webhooks/<token>`` reaches the
receiver before FastAPI's routing and middleware, with the answers the route gives, and
every other request goes on to the app as before."""

from __future__ import annotations

import httpx
from starlette.types import Receive, Scope, Send

from engine.api.app import create_api
from engine.api.webhooks import FastPath

NOT_FOUND = {"detail": "No active webhook at this address."}


async def _app_reached(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands for the rest of the app: answers 418 to anything that gets this far."""
    await send({"type": "http.response.start", "status": 418, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")  # type: ignore[arg-type]


def test_create_api_puts_it_outside_its_own_middleware() -> None:
    assert create_api().user_middleware[0].cls is FastPath


async def test_a_webhook_call_never_reaches_the_app_behind(migrated_db: str) -> None:
    async with _client(FastPath(_app_reached)) as client:
        answer = await client.post("/api/webhooks/nope", json={})
    assert (answer.status_code, answer.json()) == (
        404,
        {"detail": "No active webhook at this address."},
    )


async def test_other_requests_go_on_to_the_app(migrated_db: str) -> None:
    async with _client(FastPath(_app_reached)) as client:
        for method, path in [
            ("GET", "/api/webhooks/nope"),
            ("POST", "/api/webhooks/"),
            ("POST", "/api/webhooks/a/b"),
            ("POST", "/api/webhooksnope"),
            ("POST", "/api/v1/flows"),
        ]:
            answer = await client.request(method, path)
            assert (answer.status_code, answer.text) == (418, "app"), (method, path)


async def test_the_route_and_the_fast_path_answer_alike(migrated_db: str) -> None:
    """Without FastPath (a router mounted elsewhere) the route reaches the same receiver;
    what the route does not match is refused by FastAPI as before."""
    api = create_api()
    api.user_middleware = [m for m in api.user_middleware if m.cls is not FastPath]
    async with _client(api) as client:
        routed = await client.post("/api/webhooks/nope", json={})
        wrong_method = await client.get("/api/webhooks/nope")
    assert (routed.status_code, routed.json()) == (
        404,
        {"detail": "No active webhook at this address."},
    )
    assert wrong_method.status_code == 405

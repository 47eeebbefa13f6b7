"""Pages of other sites cannot drive the UI's websocket or the cookie-authenticated routes."""

from __future__ import annotations

import pytest
from fastapi import WebSocket
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from engine.api.app import create_api
from engine.api.origins import allowed_origins, is_allowed
from engine.settings import get_settings


def _app_with_socket() -> TestClient:
    """The real API app (its middleware wraps the mounted UI socket too) plus a socket."""
    api = create_api()

    @api.websocket("/_event/")
    async def event_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    return TestClient(api, base_url="http://127.0.0.1:3000")


def test_a_foreign_origin_cannot_open_the_websocket() -> None:
    with _app_with_socket() as client:
        with client.websocket_connect(
            "/_event/", headers={"origin": "http://127.0.0.1:3000"}
        ) as ws:
            assert ws.receive_text() == "hello"
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/_event/", headers={"origin": "https://evil.example"}),
        ):
            pass
    assert refused.value.code == 1008


def test_foreign_origins_get_403_but_webhook_senders_do_not() -> None:
    with _app_with_socket() as client:
        evil = {"origin": "https://evil.example"}
        assert client.get("/api/health", headers=evil).status_code == 403
        assert client.post("/auth/logout", headers=evil).status_code == 403
        assert client.get("/api/health").status_code == 200  # programs send no Origin
        # Webhooks are called by other sites' servers (and browsers) by design.
        assert client.post("/api/webhooks/unknown", headers=evil).status_code != 403


def test_allowed_origins_follow_the_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBOT_PUBLIC_URL", "https://flowbot.example.org")
    get_settings.cache_clear()
    assert allowed_origins() == ["https://flowbot.example.org"]
    assert is_allowed("https://flowbot.example.org") and not is_allowed(
        "http://flowbot.example.org"
    )
    monkeypatch.setenv("FLOWBOT_PUBLIC_URL", "http://127.0.0.1:3000")
    get_settings.cache_clear()
    assert is_allowed("http://localhost:3000") and not is_allowed("http://localhost:3001")

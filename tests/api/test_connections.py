"""/api/v1/connections: the Connections page's actions over HTTP.

Restarts and logins go through the real pool API (connectors/pool_api.py) with the Telegram
login's recording pyrogram client, as tests/integration/test_login_routes.py runs them.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from connectors.whatsapp_user.client import qr_details
from engine.db import session_scope
from engine.models import ConnectionStatus, PlatformConnection, PlatformConnectionLog
from tests.api.conftest import Tokens
from tests.integration.test_login_routes import (  # noqa: F401 (telegram_client: a fixture)
    API_HASH,
    pool,
    telegram_client,
)

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/connections"): "viewer",
    ("POST", "/api/v1/connections"): "editor",
    ("GET", "/api/v1/connections/{connection_id}"): "viewer",
    ("PATCH", "/api/v1/connections/{connection_id}"): "editor",
    ("DELETE", "/api/v1/connections/{connection_id}"): "editor",
    ("GET", "/api/v1/connections/{connection_id}/logs"): "viewer",
    ("GET", "/api/v1/connections/{connection_id}/health"): "viewer",
    ("POST", "/api/v1/connections/{connection_id}/activate"): "editor",
    ("POST", "/api/v1/connections/{connection_id}/pause"): "editor",
    ("POST", "/api/v1/connections/{connection_id}/restart"): "editor",
    ("POST", "/api/v1/connections/{connection_id}/login/telegram/send-code"): "editor",
    ("POST", "/api/v1/connections/{connection_id}/login/telegram/code"): "editor",
    ("POST", "/api/v1/connections/{connection_id}/login/telegram/password"): "editor",
    ("GET", "/api/v1/connections/{connection_id}/login/whatsapp/qr"): "editor",
    ("GET", "/api/v1/connections/{connection_id}/login/whatsapp/qr.png"): "editor",
    ("POST", "/api/v1/connections/{connection_id}/login/whatsapp/pairing-code"): "editor",
}

BOT_TOKEN = "123456789:AAE" + "x" * 32
NEW_TOKEN = "987654321:BBF" + "y" * 32
BASE = "/api/v1/connections"


async def _add(api: httpx.AsyncClient, tokens: Tokens, **body: Any) -> dict[str, Any]:
    body = {"kind": "telegram_bot", "name": "Support bot", "credential": BOT_TOKEN, **body}
    answer = await api.post(BASE, json=body, headers=tokens.editor)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_a_bot_from_creation_to_deletion(api: httpx.AsyncClient, tokens: Tokens) -> None:
    settings = {"api_base_url": "http://127.0.0.1:8081/", "mode": "polling"}
    made = await _add(api, tokens, settings=settings)
    assert made["active"] and made["status"] == "stopped" and made["kind_label"] == "Telegram bot"
    assert made["settings"] == {"api_base_url": "http://127.0.0.1:8081", "mode": "polling"}
    assert made["credential_masked"].endswith(BOT_TOKEN[-4:])
    path = f"{BASE}/{made['id']}"

    changed = await api.patch(
        path,
        json={"name": "Helpdesk", "settings": {"mode": None, "poll_timeout": 10},
              "credential": NEW_TOKEN},
        headers=tokens.editor,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Helpdesk"
    assert changed.json()["settings"] == {
        "api_base_url": "http://127.0.0.1:8081",
        "poll_timeout": 10,
    }
    assert changed.json()["credential_masked"].endswith(NEW_TOKEN[-4:])

    paused = (await api.post(f"{path}/pause", headers=tokens.editor)).json()
    assert paused["active"] is False and paused["status"] == "paused"
    health = (await api.get(f"{path}/health", headers=tokens.viewer)).json()
    assert health["healthy"] is False and health["reason"] == "paused"
    active = (await api.post(f"{path}/activate", headers=tokens.editor)).json()
    assert active["active"] is True
    health = (await api.get(f"{path}/health", headers=tokens.viewer)).json()
    assert not health["healthy"] and "supervisor" in health["reason"]

    got = await api.get(path, headers=tokens.viewer)
    assert got.json() == active
    everything = [got.text, (await api.get(BASE, headers=tokens.viewer)).text]
    assert not any(BOT_TOKEN in text or NEW_TOKEN in text for text in everything)

    events: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(f"{path}/logs", params=params, headers=tokens.viewer)).json()
        events += [row["event"] for row in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert events == ["activated", "paused", "credential_replaced", "updated", "created"]

    assert (await api.delete(path, headers=tokens.editor)).status_code == 204
    assert (await api.get(path, headers=tokens.viewer)).status_code == 404


async def test_an_error_reads_as_a_sentence_with_its_retry_and_detail(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    made = await _add(api, tokens, settings={"api_base_url": "http://127.0.0.1:9"})
    raw = "TelegramNetworkError: Cannot connect to host 127.0.0.1:9 ssl:default"
    with session_scope() as session:  # what the supervisor records after a failed start
        connection = session.get(PlatformConnection, made["id"])
        assert connection is not None
        connection.status, connection.last_error = ConnectionStatus.error, raw
        connection.details = {"retry_in": 4.0}
        session.add(connection)
        session.add(PlatformConnectionLog(connection_id=made["id"], level="error",
                                          event="status.error", message=raw))  # fmt: skip

    got = (await api.get(f"{BASE}/{made['id']}", headers=tokens.viewer)).json()
    assert got["error_summary"] == (
        "Can't reach Telegram: check the server's internet access or the API server URL."
    )
    assert got["last_error"] == raw
    retry = datetime.fromisoformat(got["next_retry_at"]) - datetime.fromisoformat(got["updated_at"])
    assert retry == timedelta(seconds=4)
    logs = (await api.get(f"{BASE}/{made['id']}/logs", headers=tokens.viewer)).json()
    assert [(row["event"], row["label"]) for row in logs["items"]][0] == ("status.error", "Failed")


async def test_list_filters_and_idempotent_create(api: httpx.AsyncClient, tokens: Tokens) -> None:
    headers = {**tokens.editor, "Idempotency-Key": "add-whatsapp"}
    body = {"kind": "whatsapp_user", "name": "Phone"}
    first = await api.post(BASE, json=body, headers=headers)
    again = await api.post(BASE, json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    bot = await _add(api, tokens)

    listed = (await api.get(BASE, headers=tokens.viewer)).json()
    assert [c["id"] for c in listed["items"]] == [bot["id"], first.json()["id"]]  # newest first
    whatsapp = await api.get(BASE, params={"kind": "whatsapp_user"}, headers=tokens.viewer)
    assert [c["name"] for c in whatsapp.json()["items"]] == ["Phone"]
    paused = await api.get(BASE, params={"active": "false"}, headers=tokens.viewer)
    assert [c["status"] for c in paused.json()["items"]] == ["paused"]


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    bot = await _add(api, tokens)
    path = f"{BASE}/{bot['id']}"
    writes = [
        ("POST", BASE, {"kind": "whatsapp_user", "name": "x"}),
        ("PATCH", path, {"name": "x"}),
        ("POST", f"{path}/pause", None),
        ("POST", f"{path}/activate", None),
        ("POST", f"{path}/restart", None),
        ("POST", f"{path}/login/telegram/send-code", {"phone": "+491511234567"}),
        ("GET", f"{path}/login/whatsapp/qr", None),
        ("DELETE", path, None),
    ]
    for method, url, body in writes:
        for who in (tokens.viewer, tokens.read_only):
            answer = await api.request(method, url, json=body, headers=who)
            assert answer.status_code == 403, (method, url, answer.text)
    assert (await api.get(BASE)).status_code == 401

    for method, suffix in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/logs"),
                           ("GET", "/health"), ("POST", "/pause"), ("POST", "/restart"),
                           ("GET", "/login/whatsapp/qr")]:  # fmt: skip
        missing = await api.request(method, f"{BASE}/999{suffix}", json={}, headers=tokens.editor)
        assert missing.status_code == 404, (method, suffix, missing.text)

    for bad in [
        {"kind": "telegram_bot", "name": "x", "credential": "not-a-token"},
        {"kind": "telegram_bot", "name": "  ", "credential": BOT_TOKEN},
        {"kind": "telegram_bot", "name": "x", "credential": BOT_TOKEN, "settings": {"x": 1}},
        {"kind": "telegram_bot", "name": "x", "credential": BOT_TOKEN,
         "settings": {"api_base_url": "ftp://files"}},
        {"kind": "telegram_user", "name": "x", "settings": {"api_id": "1"}},
        {"kind": "mastodon_bot", "name": "x"},
    ]:  # fmt: skip
        refused = await api.post(BASE, json=bad, headers=tokens.editor)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["error"]["code"] == "invalid"
    wrong_kind = await api.get(f"{path}/login/whatsapp/qr", headers=tokens.editor)
    assert wrong_kind.status_code == 422

    account = await api.post(
        BASE,
        json={"kind": "telegram_user", "name": "Me",
              "settings": {"api_id": "12345", "api_hash": API_HASH}},
        headers=tokens.editor,
    )  # fmt: skip
    assert account.json()["settings"]["api_hash"].endswith(API_HASH[-4:])
    assert API_HASH not in account.text
    not_logged_in = await api.post(f"{BASE}/{account.json()['id']}/activate", headers=tokens.editor)
    assert not_logged_in.status_code == 409 and "Log in" in not_logged_in.text

    await api.post(f"{path}/pause", headers=tokens.editor)
    paused = await api.post(f"{path}/restart", headers=tokens.editor)
    assert paused.status_code == 409 and paused.json()["error"]["code"] == "conflict"


async def test_restart_goes_to_the_supervisor(
    api: httpx.AsyncClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await _add(api, tokens)
    restarted: list[str] = []

    async def restart() -> None:
        restarted.append("yes")

    async with pool(monkeypatch) as supervisor:
        not_running = await api.post(f"{BASE}/{bot['id']}/restart", headers=tokens.editor)
        assert not_running.status_code == 503 and "retry-after" in not_running.headers
        assert not_running.json()["error"]["details"] == {"kind": "not_held"}
        supervisor.instances[bot["instance_id"]] = SimpleNamespace(restart=restart)  # type: ignore[assignment]
        answer = await api.post(f"{BASE}/{bot['id']}/restart", headers=tokens.editor)
    assert answer.status_code == 202 and answer.json() == {"restarting": bot["instance_id"]}
    assert restarted == ["yes"]


@pytest.mark.usefixtures("telegram_client")
async def test_telegram_account_login(
    api: httpx.AsyncClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await api.post(
        BASE,
        json={"kind": "telegram_user", "name": "Me",
              "settings": {"api_id": 12345, "api_hash": API_HASH}},
        headers=tokens.editor,
    )  # fmt: skip
    login = f"{BASE}/{account.json()['id']}/login/telegram"
    async with pool(monkeypatch):
        bad_phone = await api.post(
            f"{login}/send-code", json={"phone": "12"}, headers=tokens.editor
        )
        assert bad_phone.status_code == 422 and "country code" in bad_phone.text
        early = await api.post(f"{login}/code", json={"code": "1"}, headers=tokens.editor)
        assert early.status_code == 422 and "send a code first" in early.text

        sent = await api.post(
            f"{login}/send-code", json={"phone": "+49 151 1234"}, headers=tokens.editor
        )
        assert sent.json() == {"step": "code_sent", "delivery": "sms", "hint": None, "user": None}
        code = await api.post(f"{login}/code", json={"code": "12345"}, headers=tokens.editor)
        assert code.json()["step"] == "password_required" and code.json()["hint"] == "pet's name"
        done = await api.post(f"{login}/password", json={"password": "rex"}, headers=tokens.editor)
    assert done.status_code == 200, done.text
    assert done.json()["step"] == "done" and done.json()["user"]["username"] == "ada_l"
    shown = (await api.get(f"{BASE}/{account.json()['id']}", headers=tokens.viewer)).json()
    assert shown["active"] and shown["platform_username"] == "ada_l"

    bot = await _add(api, tokens)
    wrong = await api.post(
        f"{BASE}/{bot['id']}/login/telegram/code", json={"code": "1"}, headers=tokens.editor
    )
    assert wrong.status_code == 422 and "not a Telegram account" in wrong.text


async def test_whatsapp_qr_and_pairing_code(
    api: httpx.AsyncClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = (await api.post(BASE, json={"kind": "whatsapp_user", "name": "Phone"},
                            headers=tokens.editor)).json()  # fmt: skip
    path = f"{BASE}/{phone['id']}"
    assert (await api.get(f"{path}/login/whatsapp/qr", headers=tokens.editor)).status_code == 409
    await api.post(f"{path}/activate", headers=tokens.editor)
    with session_scope() as session:  # what the supervisor records when neonize shows a code
        session.add(
            PlatformConnectionLog(
                connection_id=phone["id"], level="error", event="status.auth_required",
                message="scan the QR code", details=qr_details("2@abc,def,ghi"),
            )
        )  # fmt: skip

    qr = await api.get(f"{path}/login/whatsapp/qr", headers=tokens.editor)
    assert qr.status_code == 200 and qr.json()["qr"] == "2@abc,def,ghi"
    png = await api.get(f"{path}/login/whatsapp/qr.png", headers=tokens.editor)
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    expected = qr.json()["png_data_url"].split(",", 1)[1]
    assert png.content == base64.b64decode(expected)

    async def pair_phone(number: str) -> str:
        return f"CODE-{number[-4:]}"

    async with pool(monkeypatch) as supervisor:
        down = await api.post(
            f"{path}/login/whatsapp/pairing-code", json={"phone": "+491511234"},
            headers=tokens.editor,
        )  # fmt: skip
        assert down.status_code == 503
        supervisor.instances[phone["instance_id"]] = SimpleNamespace(  # type: ignore[assignment]
            connector=SimpleNamespace(pair_phone=pair_phone)
        )
        paired = await api.post(
            f"{path}/login/whatsapp/pairing-code", json={"phone": "+49 151 1234"},
            headers=tokens.editor,
        )  # fmt: skip
    assert paired.json() == {"pair_code": "CODE-1234"}

    with session_scope() as session:  # linked: the newest report carries no code any more
        session.add(
            PlatformConnectionLog(
                connection_id=phone["id"], event="status.connected", message="connected"
            )
        )
    assert (await api.get(f"{path}/login/whatsapp/qr", headers=tokens.editor)).status_code == 409

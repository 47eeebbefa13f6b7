"""/api/v1/webhooks: the Webhooks page's actions over HTTP, the secret shown only once."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import Tokens
from tests.flow_helpers import chain, make_flow

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/webhooks"): "viewer",
    ("POST", "/api/v1/webhooks"): "editor",
    ("GET", "/api/v1/webhooks/{webhook_id}"): "viewer",
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): "editor",
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): "editor",
    ("POST", "/api/v1/webhooks/{webhook_id}/secret"): "editor",
    ("DELETE", "/api/v1/webhooks/{webhook_id}/secret"): "editor",
    ("POST", "/api/v1/webhooks/{webhook_id}/token"): "editor",
    ("POST", "/api/v1/webhooks/{webhook_id}/pause"): "editor",
    ("POST", "/api/v1/webhooks/{webhook_id}/resume"): "editor",
}


def _flow() -> int:
    """Unpublished: publishing would add the node's own endpoint beside the one made here."""
    graph = chain(("hook", "webhook", {"endpoint_name": "orders"}))
    return make_flow(graph, publish=False, name="Orders")


async def _create(api: httpx.AsyncClient, tokens: Tokens, **body: Any) -> dict[str, Any]:
    answer = await api.post(
        "/api/v1/webhooks", json={"name": "Shop orders", "flow_id": _flow(), **body},
        headers=tokens.editor,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_create_update_and_delete(api: httpx.AsyncClient, tokens: Tokens) -> None:
    made = await _create(api, tokens, wait_for_result=True, timeout_seconds=30)
    assert made["name"] == "Shop orders" and made["flow_name"] == "Orders"
    assert "/api/webhooks/" in made["url"]
    assert made["wait_for_result"] and made["timeout_seconds"] == 30
    assert made["active"] and not made["signed"] and "secret" not in made

    path = f"/api/v1/webhooks/{made['id']}"
    changed = await api.patch(
        path, json={"name": "Orders", "max_body_bytes": 2048, "wait_for_result": False},
        headers=tokens.editor,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Orders" and changed.json()["max_body_bytes"] == 2048
    assert changed.json()["timeout_seconds"] == 30 and not changed.json()["wait_for_result"]
    assert (await api.get(path, headers=tokens.viewer)).json() == changed.json()

    listed = (await api.get("/api/v1/webhooks", headers=tokens.viewer)).json()
    assert [w["id"] for w in listed["items"]] == [made["id"]]
    only = await api.get("/api/v1/webhooks", params={"flow_id": 999}, headers=tokens.viewer)
    assert only.json() == {"items": [], "next_cursor": None}

    assert (await api.delete(path, headers=tokens.editor)).status_code == 204
    assert (await api.get(path, headers=tokens.viewer)).status_code == 404


async def test_secret_shown_once_and_rotations(api: httpx.AsyncClient, tokens: Tokens) -> None:
    made = await _create(api, tokens)
    path = f"/api/v1/webhooks/{made['id']}"
    first = await api.post(f"{path}/secret", headers=tokens.editor)
    assert first.status_code == 200 and first.json()["signed"]
    second = (await api.post(f"{path}/secret", headers=tokens.editor)).json()
    assert len(second["secret"]) > 30 and second["secret"] != first.json()["secret"]
    for shown in [
        (await api.get(path, headers=tokens.viewer)).text,
        (await api.get("/api/v1/webhooks", headers=tokens.viewer)).text,
    ]:
        assert second["secret"] not in shown and '"secret"' not in shown
    cleared = await api.delete(f"{path}/secret", headers=tokens.editor)
    assert cleared.status_code == 200 and not cleared.json()["signed"]

    rotated = (await api.post(f"{path}/token", headers=tokens.editor)).json()
    assert rotated["url"] != made["url"]
    old = await api.post("/api/webhooks/" + made["url"].rsplit("/", 1)[1], json={})
    assert old.status_code == 404  # the old URL is gone

    paused = (await api.post(f"{path}/pause", headers=tokens.editor)).json()
    assert paused["active"] is False
    resumed = (await api.post(f"{path}/resume", headers=tokens.editor)).json()
    assert resumed["active"] is True


async def test_an_idempotency_key_creates_one_webhook(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    body = {"name": "Once", "flow_id": _flow()}
    headers = {**tokens.editor, "Idempotency-Key": "hook-1"}
    first = await api.post("/api/v1/webhooks", json=body, headers=headers)
    again = await api.post("/api/v1/webhooks", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    listed = (await api.get("/api/v1/webhooks", headers=tokens.viewer)).json()["items"]
    assert [w["name"] for w in listed] == ["Once"]


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    made = await _create(api, tokens)
    path = f"/api/v1/webhooks/{made['id']}"
    for method, url in [
        ("POST", "/api/v1/webhooks"),
        ("PATCH", path),
        ("POST", f"{path}/secret"),
        ("DELETE", f"{path}/secret"),
        ("POST", f"{path}/token"),
        ("POST", f"{path}/pause"),
        ("POST", f"{path}/resume"),
        ("DELETE", path),
    ]:
        body = {"name": "x", "flow_id": made["flow_id"]} if method != "DELETE" else None
        for who in (tokens.viewer, tokens.read_only):
            answer = await api.request(method, url, json=body, headers=who)
            assert answer.status_code == 403, (method, url, answer.text)
    assert (await api.get("/api/v1/webhooks")).status_code == 401

    for method in ("GET", "PATCH", "DELETE"):
        missing = await api.request(method, "/api/v1/webhooks/999", json={}, headers=tokens.editor)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    for action in ("secret", "token", "pause", "resume"):
        missing = await api.post(f"/api/v1/webhooks/999/{action}", headers=tokens.editor)
        assert missing.status_code == 404

    no_flow = await api.post(
        "/api/v1/webhooks", json={"name": "x", "flow_id": 999}, headers=tokens.editor
    )
    assert no_flow.status_code == 422 and "flow" in no_flow.json()["error"]["message"]
    blank = await api.patch(path, json={"name": "   "}, headers=tokens.editor)
    assert blank.status_code == 422  # the service's rule, not only the schema's
    for bad in ({"timeout_seconds": 61}, {"max_body_bytes": 10}, {"wait_for_result": "maybe"}):
        invalid = await api.patch(path, json=bad, headers=tokens.editor)
        assert invalid.status_code == 422, bad

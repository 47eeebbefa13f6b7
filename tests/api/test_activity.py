"""/api/v1/activity: the dashboard's feed for viewers, newest first, paged by cursor."""

from __future__ import annotations

import base64
import json

import httpx

from engine.db import session_scope
from tests.activity_world import at, seed_each_kind
from tests.api.conftest import Tokens

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/activity"): "viewer",
}


async def test_items_newest_first_in_pages(api: httpx.AsyncClient, tokens: Tokens) -> None:
    with session_scope() as session:
        ids = seed_each_kind(session)
    whole = await api.get("/api/v1/activity", headers=tokens.viewer)
    assert whole.status_code == 200, whole.text
    items = whole.json()["items"]
    assert whole.json()["next_cursor"] is None
    assert [i["kind"] for i in items[:3]] == ["member_left", "moderation", "member_joined"]
    first = items[0]
    assert first["title"] == "@bob left Makers" and first["link"] == f"/members/{ids['left']}"
    assert first["at"].startswith(at(5).isoformat()[:19])
    seen: list[tuple[str, int]] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/v1/activity", params=params, headers=tokens.read_only)).json()
        assert len(page["items"]) <= 3
        seen += [(i["kind"], i["id"]) for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [(i["kind"], i["id"]) for i in items] and len(seen) == 8


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    assert (await api.get("/api/v1/activity")).status_code == 401
    too_big = {"at": "2030-01-01T00:00:00+00:00", "kind": "execution", "id": 10**30}
    beyond = base64.urlsafe_b64encode(json.dumps(too_big).encode()).decode()
    for cursor in ("x", "eyJiZWZvcmUiOiAzfQ==", beyond):  # garbage; another list's; no row id
        bad = await api.get("/api/v1/activity", params={"cursor": cursor}, headers=tokens.viewer)
        assert bad.status_code == 400 and "cursor" in bad.json()["error"]["message"]
    too_many = await api.get("/api/v1/activity", params={"limit": 201}, headers=tokens.viewer)
    assert too_many.status_code == 422

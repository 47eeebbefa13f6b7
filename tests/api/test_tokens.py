"""/api/v1/tokens, and the conventions every resource shares (auth, errors, paging,
idempotency, rate limit)."""

from __future__ import annotations

import json

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from engine.api.v1 import caller
from engine.db import session_scope
from engine.models import ApiIdempotentAnswer
from engine.settings import get_settings
from tests.api.conftest import Tokens

# The least role each route needs (checked for every caller by test_route_authorization).
EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/tokens"): "viewer",
    ("POST", "/api/v1/tokens"): "editor",
    ("DELETE", "/api/v1/tokens/{token_id}"): "editor",
}


async def test_create_list_and_revoke(api: httpx.AsyncClient, tokens: Tokens) -> None:
    created = await api.post(
        "/api/v1/tokens", json={"name": "deploys", "role": "viewer"}, headers=tokens.editor
    )
    assert created.status_code == 201, created.text
    secret = created.json()["token"]
    assert secret.startswith("fbt_") and created.json()["role"] == "viewer"
    listed = (await api.get("/api/v1/tokens", headers=tokens.editor)).json()
    assert [t["name"] for t in listed["items"]] == ["deploys", "editor"]  # newest first
    assert "token" not in listed["items"][0]
    mine = {"Authorization": f"Bearer {secret}"}
    assert (await api.get("/api/v1/tokens", headers=mine)).status_code == 200
    gone = await api.delete(f"/api/v1/tokens/{created.json()['id']}", headers=tokens.editor)
    assert gone.status_code == 204
    refused = await api.get("/api/v1/tokens", headers=mine)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthenticated"


async def test_refusals_share_one_shape(api: httpx.AsyncClient, tokens: Tokens) -> None:
    anonymous = await api.get("/api/v1/tokens")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    read_only = await api.post("/api/v1/tokens", json={"name": "x"}, headers=tokens.read_only)
    assert read_only.status_code == 403
    assert read_only.json()["error"]["code"] == "forbidden"
    higher = await api.post(
        "/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=tokens.editor
    )
    assert higher.status_code == 403  # no token above its owner
    invalid = await api.post("/api/v1/tokens", json={"role": "root"}, headers=tokens.editor)
    assert invalid.status_code == 422
    assert {d["field"] for d in invalid.json()["error"]["details"]} == {"name", "role"}
    someone_elses = await api.delete("/api/v1/tokens/1", headers=tokens.editor)
    assert someone_elses.status_code == 404  # the admin's token: not even its existence


async def test_an_editor_token_of_an_admin_acts_as_an_editor(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    """The lesser of token and owner: a read-only admin token cannot mint a full one."""
    attempt = await api.post(
        "/api/v1/tokens", json={"name": "escalate", "role": "admin"}, headers=tokens.read_only
    )
    assert attempt.status_code == 403


async def test_pages_follow_the_cursor(api: httpx.AsyncClient, tokens: Tokens) -> None:
    for n in range(5):
        await api.post("/api/v1/tokens", json={"name": f"t{n}"}, headers=tokens.editor)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/v1/tokens", params=params, headers=tokens.editor)).json()
        seen += [t["name"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["t4", "t3", "t2", "t1", "t0", "editor"]
    bad = await api.get("/api/v1/tokens", params={"cursor": "nonsense"}, headers=tokens.editor)
    assert bad.status_code == 400
    too_many = await api.get("/api/v1/tokens", params={"limit": 201}, headers=tokens.editor)
    assert too_many.status_code == 422


async def test_an_idempotency_key_creates_once(api: httpx.AsyncClient, tokens: Tokens) -> None:
    headers = {**tokens.editor, "Idempotency-Key": "create-deploy-token"}
    first = await api.post("/api/v1/tokens", json={"name": "once"}, headers=headers)
    again = await api.post("/api/v1/tokens", json={"name": "once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    with session_scope() as session:  # the kept answer holds the secret sealed, not readable
        (kept,) = session.exec(select(ApiIdempotentAnswer)).all()
        assert first.json()["token"] not in json.dumps(kept.body)
    names = [
        t["name"] for t in (await api.get("/api/v1/tokens", headers=tokens.editor)).json()["items"]
    ]
    assert names.count("once") == 1
    other = await api.post("/api/v1/tokens", json={"name": "other"}, headers=headers)
    assert other.status_code == 422


async def test_each_token_has_a_request_budget(
    api: httpx.AsyncClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWBOT_API_REQUESTS_PER_MINUTE", "3")
    get_settings.cache_clear()
    answers = [
        (await api.get("/api/v1/tokens", headers=tokens.viewer)).status_code for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    limited = await api.get("/api/v1/tokens", headers=tokens.viewer)
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert (await api.get("/api/v1/tokens", headers=tokens.editor)).status_code == 200


async def test_a_refused_request_frees_its_idempotency_key(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    """A refusal is not an answer to keep: the same key may be used again (it once
    crashed with 500 instead of freeing the key)."""
    headers = {**tokens.editor, "Idempotency-Key": "retry-me"}
    refused = await api.post("/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=headers)
    assert refused.status_code == 403, refused.text
    retried = await api.post("/api/v1/tokens", json={"name": "x"}, headers=headers)
    assert retried.status_code == 201, retried.text


async def test_an_id_past_the_database_range_is_not_a_server_error(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    """PostgreSQL's integer stops at 2**31-1 (SQLite's does not): the answer is a refusal
    in the one envelope, never a 500."""
    answer = await api.delete(f"/api/v1/tokens/{2**40}", headers=tokens.editor)
    assert answer.status_code in (404, 422), answer.text
    assert answer.json()["error"]["code"] in ("not_found", "invalid")


async def test_a_database_outage_is_503_in_the_envelope(
    api: httpx.AsyncClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_down(_authorization: str) -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError())

    monkeypatch.setattr(caller, "_resolve", database_down)
    answer = await api.get("/api/v1/tokens", headers=tokens.viewer)
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert answer.json()["error"]["code"] == "unavailable"

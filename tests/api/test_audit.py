"""/api/v1/audit: the audit log for admins, newest first, filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from engine.db import session_scope
from engine.services import audit
from tests.api.conftest import Tokens

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/audit"): "admin",
}
DAY = datetime(2030, 1, 2, 12, 0, tzinfo=UTC)


def _record_days() -> None:
    """Five entries an hour apart on DAY, by two people, on two kinds of target."""
    with session_scope() as session:
        for n in range(5):
            entry = audit.record(
                session,
                "ada" if n % 2 == 0 else "eddie",
                "flow_published" if n < 3 else "login",
                target_type="flow" if n < 3 else None,
                target_id=n,
                n=n,
            )
            entry.created_at = DAY + timedelta(hours=n)


async def _actions(api: httpx.AsyncClient, tokens: Tokens, **params: object) -> list[int]:
    answer = await api.get("/api/v1/audit", params=params, headers=tokens.admin)
    assert answer.status_code == 200, answer.text
    return [e["details"].get("n") for e in answer.json()["items"] if "n" in e["details"]]


async def test_filters_and_newest_first(api: httpx.AsyncClient, tokens: Tokens) -> None:
    _record_days()
    assert await _actions(api, tokens) == [4, 3, 2, 1, 0]
    assert await _actions(api, tokens, actor="eddie") == [3, 1]
    assert await _actions(api, tokens, action="login") == [4, 3]
    assert await _actions(api, tokens, target_type="flow", actor="ada") == [2, 0]
    since, until = DAY + timedelta(hours=1), DAY + timedelta(hours=3)
    assert await _actions(api, tokens, since=since.isoformat(), until=until.isoformat()) == [2, 1]
    # A naive time is UTC; another offset is converted.
    assert await _actions(api, tokens, since="2030-01-02T15:00:00") == [4, 3]
    assert await _actions(api, tokens, until="2030-01-02T14:30:00+02:00") == [0]
    entry = (await api.get("/api/v1/audit", headers=tokens.admin)).json()["items"][0]
    assert entry["action"] == "login" and entry["actor"] == "ada" and entry["target_id"] == "4"


async def test_pages(api: httpx.AsyncClient, tokens: Tokens) -> None:
    _record_days()
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, "target_type": "flow", **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/v1/audit", params=params, headers=tokens.admin)).json()
        seen += [e["details"]["n"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [2, 1, 0]


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    assert (await api.get("/api/v1/audit")).status_code == 401
    for headers in (tokens.editor, tokens.viewer, tokens.read_only):
        refused = await api.get("/api/v1/audit", headers=headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    bad_time = await api.get("/api/v1/audit", params={"since": "yesterday"}, headers=tokens.admin)
    assert bad_time.status_code == 422
    assert bad_time.json()["error"]["details"][0]["field"] == "since"
    bad_cursor = await api.get("/api/v1/audit", params={"cursor": "x"}, headers=tokens.admin)
    assert bad_cursor.status_code == 400

"""/api/v1/reputation: leaderboards that count a person once, history, manual adjustments."""

from __future__ import annotations

import httpx

from engine.db import session_scope
from engine.models import Community, Platform, PlatformAccount, UserIdentity
from tests.api.conftest import Tokens

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/reputation/leaderboard"): "viewer",
    ("GET", "/api/v1/reputation/history"): "viewer",
    ("POST", "/api/v1/reputation/adjustments"): "editor",
}


def _world() -> tuple[list[int], list[int]]:
    """Two communities; Alex on Telegram and Discord (linked), Bo on Telegram."""
    with session_scope() as session:
        alex = UserIdentity(display_name="Alex")
        session.add(alex)
        session.flush()
        communities = [Community(name="Chess"), Community(name="Go")]
        accounts = [
            PlatformAccount(
                platform=Platform.telegram, platform_user_id="1", identity_id=alex.id,
                display_name="alex_tg",
            ),
            PlatformAccount(
                platform=Platform.discord, platform_user_id="2", identity_id=alex.id,
                display_name="alex_dc",
            ),
            PlatformAccount(platform=Platform.telegram, platform_user_id="3", display_name="Bo"),
        ]  # fmt: skip
        session.add_all([*communities, *accounts])
        session.flush()
        return [c.id or 0 for c in communities], [a.id or 0 for a in accounts]


async def _adjust(
    api: httpx.AsyncClient, tokens: Tokens, community: int, account: int, delta: int
) -> httpx.Response:
    body = {"community_id": community, "account_id": account, "delta": delta, "reason": "help"}
    return await api.post("/api/v1/reputation/adjustments", json=body, headers=tokens.editor)


async def test_adjust_history_and_identity_aware_leaderboards(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    (chess, go), (alex_tg, alex_dc, bo) = _world()
    first = await _adjust(api, tokens, chess, alex_tg, 3)
    assert first.status_code == 201, first.text
    assert first.json() == {"community_id": chess, "account_id": alex_tg, "delta": 3, "score": 3}
    assert (await _adjust(api, tokens, chess, alex_dc, 2)).json()["score"] == 2
    assert (await _adjust(api, tokens, chess, bo, 4)).json()["score"] == 4
    assert (await _adjust(api, tokens, go, bo, 5)).json()["score"] == 5
    assert (await _adjust(api, tokens, go, alex_dc, -1)).json()["score"] == -1

    board = await api.get(
        "/api/v1/reputation/leaderboard", params={"community_id": chess}, headers=tokens.viewer
    )
    leaders = [(x["name"], x["score"], x["identity_id"] is not None) for x in board.json()["items"]]
    assert leaders == [("Alex", 5, True), ("Bo", 4, False)]
    assert [a["platform"] for a in board.json()["items"][0]["accounts"]] == ["telegram", "discord"]

    everywhere = await api.get("/api/v1/reputation/leaderboard", headers=tokens.viewer)
    assert [(x["name"], x["score"]) for x in everywhere.json()["items"]] == [
        ("Bo", 9),
        ("Alex", 4),
    ]

    history = await api.get(
        "/api/v1/reputation/history", params={"account_id": alex_dc}, headers=tokens.viewer
    )
    rows = history.json()["items"]
    assert [(r["community_name"], r["delta"]) for r in rows] == [("Go", -1), ("Chess", 2)]
    assert rows[0]["actor"] == "user:eddie" and rows[0]["reason"] == "help"
    assert rows[0]["rule"] is None
    person = await api.get("/api/v1/reputation/history", params={"limit": 2}, headers=tokens.viewer)
    assert len(person.json()["items"]) == 2 and person.json()["next_cursor"]
    after = await api.get(
        "/api/v1/reputation/history",
        params={"limit": 2, "cursor": person.json()["next_cursor"]},
        headers=tokens.viewer,
    )
    seen = [r["id"] for r in person.json()["items"] + after.json()["items"]]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 4


async def test_an_idempotency_key_adjusts_once(api: httpx.AsyncClient, tokens: Tokens) -> None:
    (chess, _), (alex_tg, _, _) = _world()
    body = {"community_id": chess, "account_id": alex_tg, "delta": 2, "reason": "thanks"}
    headers = {**tokens.editor, "Idempotency-Key": "rep-1"}
    first = await api.post("/api/v1/reputation/adjustments", json=body, headers=headers)
    again = await api.post("/api/v1/reputation/adjustments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and again.json()["score"] == 2


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    (chess, _), (alex_tg, _, _) = _world()
    body = {"community_id": chess, "account_id": alex_tg, "delta": 1, "reason": "x"}
    for who in (tokens.viewer, tokens.read_only):
        answer = await api.post("/api/v1/reputation/adjustments", json=body, headers=who)
        assert answer.status_code == 403
    assert (await _adjust(api, tokens, chess, 99999, 1)).status_code == 404
    assert (await _adjust(api, tokens, 99999, alex_tg, 1)).status_code == 404
    assert (await _adjust(api, tokens, chess, alex_tg, 0)).status_code == 422
    blank = {**body, "reason": "   "}
    answer = await api.post("/api/v1/reputation/adjustments", json=blank, headers=tokens.editor)
    assert answer.status_code == 422 and "reason" in answer.text
    assert (await api.get("/api/v1/reputation/leaderboard")).status_code == 401

"""/api/v1/accounts and /api/v1/identities: the Accounts page's actions over HTTP."""

from __future__ import annotations

import httpx

from engine.db import session_scope
from engine.models import Platform, PlatformAccount
from tests.api.conftest import Tokens

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/accounts"): "viewer",
    ("GET", "/api/v1/accounts/{account_id}"): "viewer",
    ("GET", "/api/v1/identities"): "viewer",
    ("POST", "/api/v1/identities"): "editor",
    ("GET", "/api/v1/identities/suggestions"): "viewer",
    ("POST", "/api/v1/identities/suggestions/dismissals"): "editor",
    ("GET", "/api/v1/identities/{identity_id}"): "viewer",
    ("PATCH", "/api/v1/identities/{identity_id}"): "editor",
    ("DELETE", "/api/v1/identities/{identity_id}"): "editor",
    ("POST", "/api/v1/identities/{identity_id}/accounts/{account_id}"): "editor",
    ("DELETE", "/api/v1/identities/{identity_id}/accounts/{account_id}"): "editor",
}


def _accounts(*specs: tuple[str, str, str | None, str]) -> list[int]:
    """(platform, user id, username, display name) → account ids."""
    with session_scope() as session:
        rows = [
            PlatformAccount(
                platform=Platform(platform),
                platform_user_id=uid,
                username=username,
                display_name=name,
            )
            for platform, uid, username, name in specs
        ]
        session.add_all(rows)
        session.flush()
        return [row.id or 0 for row in rows]


async def test_link_rename_unlink_and_delete(api: httpx.AsyncClient, tokens: Tokens) -> None:
    tg, dc, wa = _accounts(
        ("telegram", "11", "alex", "Alex"),
        ("discord", "22", "Alex", "Alex K"),
        ("whatsapp", "33@s.whatsapp.net", None, "A. Kim"),
    )
    made = await api.post(
        "/api/v1/identities", json={"account_ids": [tg, dc]}, headers=tokens.editor
    )
    assert made.status_code == 201, made.text
    person = made.json()
    assert person["display_name"] == "Alex"
    assert sorted(a["id"] for a in person["accounts"]) == [tg, dc]
    assert person["platforms"] == ["discord", "telegram"]
    path = f"/api/v1/identities/{person['id']}"

    linked = await api.post(f"{path}/accounts/{wa}", headers=tokens.editor)
    assert linked.status_code == 200 and len(linked.json()["accounts"]) == 3
    renamed = await api.patch(
        path, json={"display_name": "Alex Kim", "preferred_platform": "discord"},
        headers=tokens.editor,
    )  # fmt: skip
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["display_name"] == "Alex Kim"
    assert renamed.json()["preferred_platform"] == "discord"
    assert (await api.get(path, headers=tokens.viewer)).json() == renamed.json()

    account = (await api.get(f"/api/v1/accounts/{wa}", headers=tokens.viewer)).json()
    assert account["identity_id"] == person["id"] and account["identity_name"] == "Alex Kim"

    unlinked = await api.delete(f"{path}/accounts/{wa}", headers=tokens.editor)
    assert [a["id"] for a in unlinked.json()["accounts"]] == [tg, dc]
    again = await api.delete(f"{path}/accounts/{wa}", headers=tokens.editor)
    assert again.status_code == 404

    assert (await api.delete(path, headers=tokens.editor)).status_code == 204
    assert (await api.get(path, headers=tokens.viewer)).status_code == 404
    left = await api.get("/api/v1/accounts", params={"linked": "true"}, headers=tokens.viewer)
    assert left.json()["items"] == []


async def test_an_account_belongs_to_one_person(api: httpx.AsyncClient, tokens: Tokens) -> None:
    tg, dc, wa = _accounts(
        ("telegram", "1", "a", "A"), ("discord", "2", "b", "B"), ("whatsapp", "3", None, "C")
    )
    first = (
        await api.post("/api/v1/identities", json={"account_ids": [tg]}, headers=tokens.editor)
    ).json()
    taken = await api.post(
        "/api/v1/identities", json={"account_ids": [tg, dc]}, headers=tokens.editor
    )
    assert taken.status_code == 409 and "unlink it there first" in taken.text
    second = (
        await api.post("/api/v1/identities", json={"account_ids": [dc]}, headers=tokens.editor)
    ).json()
    moved = await api.post(
        f"/api/v1/identities/{second['id']}/accounts/{tg}", headers=tokens.editor
    )
    assert moved.status_code == 409
    missing = await api.post(
        f"/api/v1/identities/{first['id']}/accounts/99999", headers=tokens.editor
    )
    assert missing.status_code == 404
    unnamed = await api.patch(
        f"/api/v1/identities/{first['id']}", json={"display_name": "  "}, headers=tokens.editor
    )
    assert unnamed.status_code == 422
    assert wa


async def test_accounts_list_filters_and_pages(api: httpx.AsyncClient, tokens: Tokens) -> None:
    ids = _accounts(*[("telegram", str(n), f"user{n}", f"User {n}") for n in range(5)])
    ids += _accounts(("discord", "900", "Gamer_X", "Gamer"))
    first = (await api.get("/api/v1/accounts", params={"limit": 4}, headers=tokens.viewer)).json()
    assert [a["id"] for a in first["items"]] == ids[::-1][:4]
    rest = await api.get(
        "/api/v1/accounts", params={"limit": 4, "cursor": first["next_cursor"]},
        headers=tokens.viewer,
    )  # fmt: skip
    assert [a["id"] for a in rest.json()["items"]] == ids[::-1][4:]
    assert rest.json()["next_cursor"] is None

    found = await api.get("/api/v1/accounts", params={"search": "gamer_"}, headers=tokens.viewer)
    assert [a["id"] for a in found.json()["items"]] == [ids[-1]]
    only = await api.get("/api/v1/accounts", params={"platform": "discord"}, headers=tokens.viewer)
    assert [a["platform"] for a in only.json()["items"]] == ["discord"]
    bad = await api.get("/api/v1/accounts", params={"platform": "icq"}, headers=tokens.viewer)
    assert bad.status_code == 422


async def test_suggestions_confirm_and_dismiss(api: httpx.AsyncClient, tokens: Tokens) -> None:
    tg, dc, other_tg, other_dc = _accounts(
        ("telegram", "1", "Sam", "Sam"),
        ("discord", "2", "sam", "Samuel"),
        ("telegram", "3", "kim", "Kim Lee"),
        ("discord", "4", "kimmy", "kim lee"),
    )
    listed = (await api.get("/api/v1/identities/suggestions", headers=tokens.viewer)).json()
    pairs = {tuple(a["id"] for a in s["accounts"]): s["reasons"] for s in listed["items"]}
    assert pairs == {(tg, dc): ["same username"], (other_tg, other_dc): ["same display name"]}

    dismissed = await api.post(
        "/api/v1/identities/suggestions/dismissals", json={"account_ids": [other_dc, other_tg]},
        headers=tokens.editor,
    )  # fmt: skip
    assert dismissed.status_code == 204
    confirmed = await api.post(
        "/api/v1/identities", json={"account_ids": [tg, dc]}, headers=tokens.editor
    )
    assert confirmed.status_code == 201
    after = (await api.get("/api/v1/identities/suggestions", headers=tokens.viewer)).json()
    assert after["items"] == []


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    [tg] = _accounts(("telegram", "1", "a", "A"))
    for method, url, body in [
        ("POST", "/api/v1/identities", {"account_ids": [tg]}),
        ("POST", "/api/v1/identities/suggestions/dismissals", {"account_ids": [tg, tg + 1]}),
        ("PATCH", "/api/v1/identities/1", {"display_name": "x"}),
        ("DELETE", "/api/v1/identities/1", None),
        ("POST", f"/api/v1/identities/1/accounts/{tg}", None),
        ("DELETE", f"/api/v1/identities/1/accounts/{tg}", None),
    ]:
        for who in (tokens.viewer, tokens.read_only):
            answer = await api.request(method, url, json=body, headers=who)
            assert answer.status_code == 403, (method, url, answer.text)
    assert (await api.get("/api/v1/accounts")).status_code == 401

"""/api/v1/communities: the Communities page's actions over HTTP, rules with field errors."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import select

from engine.db import session_scope
from engine.models import BotInstance, Chat, CommunityMember, ConnectorKind
from tests.api.conftest import Tokens
from tests.fakes.pool import FakePool

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/communities"): "viewer",
    ("POST", "/api/v1/communities"): "editor",
    ("GET", "/api/v1/communities/{community_id}"): "viewer",
    ("PATCH", "/api/v1/communities/{community_id}"): "editor",
    ("DELETE", "/api/v1/communities/{community_id}"): "admin",
    ("GET", "/api/v1/communities/{community_id}/chats"): "viewer",
    ("POST", "/api/v1/communities/{community_id}/chats"): "editor",
    ("DELETE", "/api/v1/communities/{community_id}/chats/{chat_id}"): "editor",
    ("GET", "/api/v1/communities/{community_id}/rules"): "viewer",
    ("PUT", "/api/v1/communities/{community_id}/rules"): "editor",
    ("PATCH", "/api/v1/communities/{community_id}/rules"): "editor",
}

OWNER = {"id": "7", "username": "ann", "first_name": "Ann", "last_name": None,
         "display_name": "Ann", "is_bot": False, "language": "en"}  # fmt: skip


def discovered(platform: str, chat_id: str, title: str, **fields: Any) -> int:
    with session_scope() as session:
        chat = Chat(platform=platform, platform_chat_id=chat_id, title=title, **fields)
        session.add(chat)
        session.flush()
        return chat.id or 0


def telegram_bot() -> int:
    with session_scope() as session:
        instance = BotInstance(name="Helper", kind=ConnectorKind.telegram_bot)
        session.add(instance)
        session.flush()
        return instance.id or 0


async def _create(api: httpx.AsyncClient, tokens: Tokens, name: str) -> dict[str, Any]:
    answer = await api.post(
        "/api/v1/communities", json={"name": name, "description": "Cameras"},
        headers=tokens.editor,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_create_list_rename_and_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    made = await _create(api, tokens, "Photo club")
    assert made["name"] == "Photo club" and made["chats"] == {} and made["member_count"] == 0
    path = f"/api/v1/communities/{made['id']}"
    same = await api.post("/api/v1/communities", json={"name": "PHOTO club"}, headers=tokens.editor)
    assert same.status_code == 422
    assert "already a community named" in same.json()["error"]["message"]
    refused = await api.post("/api/v1/communities", json={"name": "X"}, headers=tokens.viewer)
    assert refused.status_code == 403

    changed = await api.patch(path, json={"description": "Walks"}, headers=tokens.editor)
    assert changed.status_code == 200 and changed.json()["description"] == "Walks"
    assert changed.json()["name"] == "Photo club"
    assert (await api.get(path, headers=tokens.viewer)).json() == changed.json()
    second = await _create(api, tokens, "Hikers")
    first_page = await api.get("/api/v1/communities?limit=1", headers=tokens.viewer)
    assert [c["id"] for c in first_page.json()["items"]] == [second["id"]]
    after = first_page.json()["next_cursor"]
    rest = await api.get(f"/api/v1/communities?limit=1&cursor={after}", headers=tokens.viewer)
    assert [c["id"] for c in rest.json()["items"]] == [made["id"]]
    missing = await api.get("/api/v1/communities/999", headers=tokens.viewer)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_attach_backfills_and_one_community_per_chat(
    api: httpx.AsyncClient, tokens: Tokens, fake_pool: FakePool
) -> None:
    club, other = await _create(api, tokens, "Club"), await _create(api, tokens, "Other")
    group = discovered("telegram", "-100", "Group", bot_instance_id=telegram_bot())
    channel = discovered("discord", "c1", "general", type="text", parent_chat_id="g1")
    fake_pool.results["list_members"] = {
        "members": [{"user": OWNER, "role": "owner", "phone": None}]
    }
    path = f"/api/v1/communities/{club['id']}/chats"

    answer = await api.post(path, json={"chat_ids": [group, channel]}, headers=tokens.editor)
    assert answer.status_code == 200, answer.text
    attached = answer.json()["attached"]
    assert {(c["platform"], c["type"]) for c in attached} == {
        ("telegram", "group"),
        ("discord", "guild"),
        ("discord", "text"),
    }
    assert {c["community_name"] for c in attached} == {"Club"}
    [filled] = answer.json()["backfill"]  # the guild has no connection to ask
    assert filled == {"chat_id": group, "title": "Telegram chat 'Group'", "recorded": 1,
                      "error": None}  # fmt: skip
    [asked] = fake_pool.executions.calls
    assert (asked.kind, asked.action, asked.params) == (
        "telegram_bot",
        "list_members",
        {"chat_id": "-100"},
    )
    with session_scope() as session:
        assert len(session.exec(select(CommunityMember)).all()) == 1
    shown = (await api.get(f"/api/v1/communities/{club['id']}", headers=tokens.viewer)).json()
    assert shown["chats"] == {"telegram": 1, "discord": 1} and shown["member_count"] == 1
    listed = await api.get(path, headers=tokens.viewer)
    assert len(listed.json()["items"]) == 3

    taken = await api.post(
        f"/api/v1/communities/{other['id']}/chats", json={"chat_ids": [group]},
        headers=tokens.editor,
    )  # fmt: skip
    assert taken.status_code == 409 and "'Club'" in taken.json()["error"]["message"]

    detached = await api.delete(f"{path}/{channel}", headers=tokens.editor)
    assert detached.status_code == 200 and len(detached.json()["detached"]) == 2
    again = await api.delete(f"{path}/{channel}", headers=tokens.editor)
    assert again.status_code == 404
    assert (await api.delete(f"{path}/{group}", headers=tokens.viewer)).status_code == 403


async def test_rules_read_replace_patch_and_field_errors(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    club = await _create(api, tokens, "Club")
    path = f"/api/v1/communities/{club['id']}/rules"
    rules = (await api.get(path, headers=tokens.viewer)).json()
    assert rules["warnings"]["mute_at"] == 3 and not rules["antilink"]["enabled"]

    patched = await api.patch(
        path,
        json={"antilink": {"enabled": True, "allowed_domains": ["Example.com"]},
              "overrides": {"discord": {"welcome": {"message": "Hi!"}}}},
        headers=tokens.editor,
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert patched.json()["antilink"]["allowed_domains"] == ["example.com"]
    assert patched.json()["overrides"] == {"discord": {"welcome": {"message": "Hi!"}}}
    kept = await api.patch(path, json={"antilink": {"action": "delete"}}, headers=tokens.editor)
    assert kept.json()["antilink"]["enabled"] and kept.json()["antilink"]["action"] == "delete"

    wrong = await api.patch(
        path, json={"warnings": {"ban_at": 0}, "welcome": {"delete_after_seconds": 1}},
        headers=tokens.editor,
    )  # fmt: skip
    assert wrong.status_code == 422
    fields = {d["field"] for d in wrong.json()["error"]["details"]}
    assert fields == {"warnings.ban_at", "welcome.delete_after_seconds"}
    no_log_chat = await api.put(path, json={"log_chat_id": 4242}, headers=tokens.editor)
    assert no_log_chat.status_code == 422
    assert no_log_chat.json()["error"]["details"] == [
        {"field": "log_chat_id", "problem": "chat 4242 is not a discovered chat"}
    ]

    replaced = await api.put(path, json={"rules_text": "Be kind"}, headers=tokens.editor)
    assert replaced.status_code == 200 and replaced.json()["rules_text"] == "Be kind"
    assert not replaced.json()["antilink"]["enabled"]  # whole: what is left out is default
    assert (await api.get(path, headers=tokens.viewer)).json() == replaced.json()
    assert (await api.put(path, json={}, headers=tokens.viewer)).status_code == 403


async def test_delete_is_for_admins_and_can_move(api: httpx.AsyncClient, tokens: Tokens) -> None:
    old, new = await _create(api, tokens, "Old"), await _create(api, tokens, "New")
    group = discovered("telegram", "-5", "Group")
    attach = await api.post(
        f"/api/v1/communities/{old['id']}/chats", json={"chat_ids": [group], "backfill": False},
        headers=tokens.editor,
    )  # fmt: skip
    assert attach.status_code == 200 and attach.json()["backfill"] == []
    path = f"/api/v1/communities/{old['id']}"
    assert (await api.delete(path, headers=tokens.editor)).status_code == 403
    into_itself = await api.delete(f"{path}?move_to={old['id']}", headers=tokens.admin)
    assert into_itself.status_code == 422
    moved = await api.delete(f"{path}?move_to={new['id']}", headers=tokens.admin)
    assert moved.status_code == 204
    assert (await api.get(path, headers=tokens.viewer)).status_code == 404
    shown = (await api.get(f"/api/v1/communities/{new['id']}", headers=tokens.viewer)).json()
    assert shown["chats"] == {"telegram": 1}
    gone = await api.delete(f"/api/v1/communities/{new['id']}", headers=tokens.admin)
    assert gone.status_code == 204
    with session_scope() as session:
        assert session.exec(select(Chat.community_id)).all() == [None]

"""/api/v1 members: the list with filters, sorts and cursors; a member's record; warn, revoke
and the sanctions through the moderation service, with each platform target's answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import select

from engine.db import session_scope
from engine.models import (
    Chat,
    Community,
    CommunityMember,
    ModerationLog,
    Platform,
    PlatformAccount,
    UserIdentity,
    Warning,
    utcnow,
)
from tests.api.conftest import Tokens

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/communities/{community_id}/members"): "viewer",
    ("GET", "/api/v1/members/{member_id}"): "viewer",
    ("POST", "/api/v1/members/{member_id}/warnings"): "editor",
    ("POST", "/api/v1/members/{member_id}/actions"): "editor",
    ("DELETE", "/api/v1/warnings/{warning_id}"): "editor",
}


def _seed(count: int = 12) -> tuple[int, list[int]]:
    """A community with a WhatsApp group and ``count`` members, newest active first; the
    first two members' accounts are one person (WhatsApp and Discord)."""
    now = utcnow()
    with session_scope() as session:
        community = Community(name="Makers")
        session.add(community)
        session.flush()
        cid = community.id or 0
        session.add(Chat(platform=Platform.whatsapp, platform_chat_id="123@g.us", community_id=cid))
        person = UserIdentity(display_name="Ada")
        session.add(person)
        session.flush()
        ids = []
        for n in range(count):
            platform = Platform.discord if n == 1 else Platform.whatsapp
            account = PlatformAccount(
                platform=platform,
                platform_user_id=f"{5550000 + n}",
                username=f"maker{n}",
                display_name=f"Maker {n}",
                identity_id=person.id if n < 2 else None,
            )
            session.add(account)
            session.flush()
            member = CommunityMember(
                community_id=cid,
                platform_account_id=account.id or 0,
                last_active_at=now - timedelta(minutes=n),
                message_count=n,
            )
            session.add(member)
            session.flush()
            ids.append(member.id or 0)
        return cid, ids


async def _get(api: httpx.AsyncClient, tokens: Tokens, path: str, **params: Any) -> Any:
    answer = await api.get(path, params=params, headers=tokens.viewer)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_list_pages_filters_and_refuses_foreign_cursors(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    cid, ids = _seed()
    path = f"/api/v1/communities/{cid}/members"
    first = await _get(api, tokens, path, limit=5)
    assert [m["id"] for m in first["items"]] == ids[:5]
    assert first["items"][0]["platform"] == "whatsapp" and first["items"][0]["role"] == "member"
    seen = [m["id"] for m in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = await _get(api, tokens, path, limit=5, cursor=cursor)
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ids

    by_messages = await _get(api, tokens, path, sort="messages", limit=3)
    assert [m["message_count"] for m in by_messages["items"]] == [11, 10, 9]
    foreign = await api.get(
        path, params={"cursor": first["next_cursor"], "sort": "messages"}, headers=tokens.viewer
    )
    assert foreign.status_code == 400 and "cursor" in foreign.json()["error"]["message"]

    found = await _get(api, tokens, path, q="maker1")
    assert sorted(m["username"] for m in found["items"]) == ["maker1", "maker10", "maker11"]
    assert [
        m["username"] for m in (await _get(api, tokens, path, platform="discord"))["items"]
    ] == ["maker1"]
    assert (await _get(api, tokens, path, warned=True))["items"] == []
    bad = await api.get(path, params={"joined_within_days": 0}, headers=tokens.viewer)
    assert bad.status_code == 422
    missing = await api.get("/api/v1/communities/999/members", headers=tokens.viewer)
    assert missing.status_code == 404


async def test_warn_revoke_and_the_record(api: httpx.AsyncClient, tokens: Tokens) -> None:
    _, ids = _seed(3)
    warned = await api.post(
        f"/api/v1/members/{ids[0]}/warnings", json={"reason": "spam link"}, headers=tokens.editor
    )
    assert warned.status_code == 201, warned.text
    body = warned.json()
    assert body["action"] == "warn" and body["ok"] and body["active_warnings"] == 1
    assert body["sanction"] == "none" and body["warning_id"] and body["log_id"]
    assert "Warned Maker 0" in body["summary"]

    # the linked Discord account's warning counts with the person's
    await api.post(
        f"/api/v1/members/{ids[1]}/warnings", json={"reason": "rude"}, headers=tokens.editor
    )
    record = await _get(api, tokens, f"/api/v1/members/{ids[0]}")
    assert record["member"]["active_warnings"] == 1 and record["identity"] == "Ada"
    assert [a["platform"] for a in record["accounts"]] == ["whatsapp", "discord"]
    assert record["totals"]["active_warnings"] == 2 and record["totals"]["accounts"] == 2
    assert {w["reason"] for w in record["warnings"]} == {"spam link", "rude"}
    assert {e["action"] for e in record["moderation"]} == {"warn"}

    path = f"/api/v1/warnings/{body['warning_id']}"
    assert (await api.delete(path, headers=tokens.editor)).status_code == 422  # no reason
    refused = await api.delete(path, params={"reason": "mistake"}, headers=tokens.viewer)
    assert refused.status_code == 403
    revoked = await api.delete(path, params={"reason": "mistake"}, headers=tokens.editor)
    assert revoked.status_code == 204, revoked.text
    again = await api.delete(path, params={"reason": "mistake"}, headers=tokens.editor)
    assert again.status_code == 409
    record = await _get(api, tokens, f"/api/v1/members/{ids[0]}")
    gone = next(w for w in record["warnings"] if w["id"] == body["warning_id"])
    assert gone["status"] == "revoked" and gone["revoke_reason"] == "mistake"
    assert record["member"]["active_warnings"] == 0 and record["totals"]["active_warnings"] == 1
    assert (await api.get("/api/v1/members/999", headers=tokens.viewer)).status_code == 404


async def test_sanctions_answer_each_platform_target(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    _, ids = _seed(2)
    path = f"/api/v1/members/{ids[0]}/actions"
    muted = await api.post(
        path, json={"action": "mute", "minutes": 30, "reason": "flood"}, headers=tokens.editor
    )
    assert muted.status_code == 200, muted.text
    result = muted.json()
    # WhatsApp has no mute: the group is a skipped target, and the answer says so
    assert not result["ok"] and result["targets"] == [
        {
            "platform": "whatsapp",
            "chat_id": "123@g.us",
            "ok": False,
            "error": "Mute is not supported on WhatsApp",
            "skipped": True,
        }
    ]
    assert "refused" in result["summary"] and result["log_id"]
    with session_scope() as session:
        entry = session.get(ModerationLog, result["log_id"])
        assert entry is not None and entry.actor == "eddie" and entry.reason == "flood"
        assert str(entry.action) == "mute"

    # the Discord account of the same person has no chat here: recorded, nothing to call
    banned = await api.post(
        f"/api/v1/members/{ids[1]}/actions", json={"action": "ban"}, headers=tokens.editor
    )
    assert banned.status_code == 200 and banned.json()["ok"] and banned.json()["targets"] == []
    with session_scope() as session:
        member = session.get(CommunityMember, ids[1])
        assert member is not None and member.is_banned
    record = await _get(api, tokens, f"/api/v1/members/{ids[0]}")
    assert record["totals"]["bans"] == 1

    viewer = await api.post(path, json={"action": "kick"}, headers=tokens.viewer)
    assert viewer.status_code == 403
    wrong = await api.post(path, json={"action": "kick", "minutes": 5}, headers=tokens.editor)
    assert wrong.status_code == 422 and "duration" in wrong.json()["error"]["message"]
    unknown = await api.post(path, json={"action": "explode"}, headers=tokens.editor)
    assert unknown.status_code == 422


async def test_a_retried_warning_is_issued_once(api: httpx.AsyncClient, tokens: Tokens) -> None:
    _, ids = _seed(1)
    headers = {**tokens.editor, "Idempotency-Key": "warn-once"}
    path = f"/api/v1/members/{ids[0]}/warnings"
    first = await api.post(path, json={"reason": "spam"}, headers=headers)
    second = await api.post(path, json={"reason": "spam"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    with session_scope() as session:
        assert len(session.exec(select(Warning)).all()) == 1

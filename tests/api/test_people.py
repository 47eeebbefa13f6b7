"""/api/v1/people: admins list, create, re-role, reset and (de)activate accounts."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from engine.db import session_scope
from engine.models import AdminUser, Role
from engine.services import auth, sessions
from engine.services.errors import Conflict
from tests.api.conftest import PASSWORD, Tokens

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/people"): "admin",
    ("POST", "/api/v1/people"): "admin",
    ("GET", "/api/v1/people/{person_id}"): "admin",
    ("PUT", "/api/v1/people/{person_id}/role"): "admin",
    ("POST", "/api/v1/people/{person_id}/password"): "admin",
    ("POST", "/api/v1/people/{person_id}/deactivate"): "admin",
    ("POST", "/api/v1/people/{person_id}/reactivate"): "admin",
}


def _id_of(username: str) -> int:
    with session_scope() as session:
        user = session.exec(select(AdminUser).where(AdminUser.username == username)).one()
        return user.id or 0


def _signed_in(username: str) -> str:
    """A browser session of the account, as the sign-in form opens one."""
    with session_scope() as session:
        user = session.exec(select(AdminUser).where(AdminUser.username == username)).one()
        return sessions.issue(session, user)


def _session_works(cookie: str) -> bool:
    with session_scope() as session:
        return sessions.user_for_token(session, cookie) is not None


async def test_create_list_and_change_role(api: httpx.AsyncClient, tokens: Tokens) -> None:
    body = {"username": "grace", "password": PASSWORD, "role": "editor", "display_name": "G"}
    created = await api.post("/api/v1/people", json=body, headers=tokens.admin)
    assert created.status_code == 201, created.text
    grace = created.json()
    assert grace["role"] == "editor" and grace["active"] and "password" not in str(grace)
    listed = (await api.get("/api/v1/people", headers=tokens.admin)).json()
    assert [p["username"] for p in listed["items"]] == ["grace", "victor", "eddie", "ada"]
    viewers = await api.get("/api/v1/people", params={"role": "viewer"}, headers=tokens.admin)
    assert [p["username"] for p in viewers.json()["items"]] == ["victor"]
    changed = await api.put(
        f"/api/v1/people/{grace['id']}/role", json={"role": "admin"}, headers=tokens.admin
    )
    assert changed.status_code == 200 and changed.json()["role"] == "admin"
    got = await api.get(f"/api/v1/people/{grace['id']}", headers=tokens.admin)
    assert got.json()["role"] == "admin"
    audit = (await api.get("/api/v1/audit", headers=tokens.admin)).json()["items"]
    assert [e["action"] for e in audit[:2]] == ["role_changed", "user_created"]


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    for headers in (tokens.editor, tokens.viewer, tokens.read_only):
        assert (await api.get("/api/v1/people", headers=headers)).status_code == 403
    taken = await api.post(
        "/api/v1/people", json={"username": "eddie", "password": PASSWORD}, headers=tokens.admin
    )
    assert taken.status_code == 422 and "taken" in taken.json()["error"]["message"]
    short = await api.post(
        "/api/v1/people", json={"username": "new", "password": "short"}, headers=tokens.admin
    )
    assert short.status_code == 422
    assert short.json()["error"]["details"][0]["field"] == "password"
    spaces = await api.post(
        "/api/v1/people", json={"username": "a b c", "password": PASSWORD}, headers=tokens.admin
    )
    assert spaces.status_code == 422
    missing = await api.put(
        "/api/v1/people/999/role", json={"role": "viewer"}, headers=tokens.admin
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    me = _id_of("ada")
    lower_self = await api.put(
        f"/api/v1/people/{me}/role", json={"role": "viewer"}, headers=tokens.admin
    )
    assert lower_self.status_code == 403
    deactivate_self = await api.post(f"/api/v1/people/{me}/deactivate", headers=tokens.admin)
    assert deactivate_self.status_code == 403
    assert "yourself" in deactivate_self.json()["error"]["message"]


async def test_reset_password_ends_the_sessions(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cookie = _signed_in("eddie")
    eddie = _id_of("eddie")
    weak = await api.post(
        f"/api/v1/people/{eddie}/password", json={"password": "x"}, headers=tokens.admin
    )
    assert weak.status_code == 422 and _session_works(cookie)
    by_editor = await api.post(
        f"/api/v1/people/{eddie}/password", json={"password": "x" * 12}, headers=tokens.editor
    )
    assert by_editor.status_code == 403
    reset = await api.post(
        f"/api/v1/people/{eddie}/password",
        json={"password": "a brand new password"},
        headers=tokens.admin,
    )
    assert reset.status_code == 204, reset.text
    assert not _session_works(cookie)
    with session_scope() as session:
        assert auth.authenticate(session, "eddie", "a brand new password").username == "eddie"
    assert (await api.get("/api/v1/tokens", headers=tokens.editor)).status_code == 200


async def test_deactivate_stops_sessions_and_tokens(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cookie = _signed_in("eddie")
    eddie = _id_of("eddie")
    gone = await api.post(f"/api/v1/people/{eddie}/deactivate", headers=tokens.admin)
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert not _session_works(cookie)
    assert (await api.get("/api/v1/tokens", headers=tokens.editor)).status_code == 401
    inactive = await api.get("/api/v1/people", params={"active": False}, headers=tokens.admin)
    assert [p["username"] for p in inactive.json()["items"]] == ["eddie"]
    back = await api.post(f"/api/v1/people/{eddie}/reactivate", headers=tokens.admin)
    assert back.status_code == 200 and back.json()["active"] is True
    # Revoked for good: a reactivated account signs in again and makes new tokens.
    assert (await api.get("/api/v1/tokens", headers=tokens.editor)).status_code == 401
    with session_scope() as session:
        assert auth.authenticate(session, "eddie", PASSWORD).is_active
    actions = [
        e["action"]
        for e in (
            await api.get(
                "/api/v1/audit", params={"target_type": "admin_user"}, headers=tokens.admin
            )
        ).json()["items"]
    ]
    assert actions[:2] == ["user_reactivated", "user_deactivated"]


def test_the_last_active_admin_stays(tokens: Tokens) -> None:
    """Reachable only when the acting admin is not the one in question: here a second
    admin deactivated the first, and may not then be deactivated by a stale first."""
    with session_scope() as session:
        ada = session.exec(select(AdminUser).where(AdminUser.username == "ada")).one()
        grace = auth.create_user(session, "grace", PASSWORD, Role.admin, actor=ada)
        auth.set_active(session, grace, ada, False)
        stale = AdminUser(id=0, username="stale", role=Role.admin, password_hash="")
        with pytest.raises(Conflict, match="last active admin"):
            auth.set_active(session, stale, grace, False)

"""The Settings page's state against a real database: an admin adds people and changes
roles, everyone changes their own password and ends their other sessions, API tokens are
shown once and revoked, and what editors and viewers are refused or not shown."""

from __future__ import annotations

import pytest
from sqlmodel import select

from engine.db import session_scope
from engine.models import AdminUser, ApiToken
from engine.services import sessions
from flowbot_ui.pages.settings import SettingsState
from tests.ui_harness import PASSWORD, People, Refused, Tab, user


async def _page(cookie: str) -> tuple[Tab, SettingsState]:
    tab = Tab(cookie, "/settings")
    await tab.run(SettingsState, "load")
    return tab, await tab.state(SettingsState)


def _roles() -> dict[str, str]:
    with session_scope() as session:
        return {u.username: str(u.role) for u in session.exec(select(AdminUser))}


async def test_an_admin_adds_people_and_changes_roles(people: People) -> None:
    tab, page = await _page(people.cookies["admin"])
    assert [u.username for u in page.users] == ["ada", "eddie", "vera"]
    await tab.run(SettingsState, "add_user", {"username": "zoe", "password": "short"})
    assert "at least" in page.error and "zoe" not in _roles()
    await tab.run(SettingsState, "add_user", {"username": "zoe", "password": "long enough pw",
                                              "role": "editor"})  # fmt: skip
    assert page.message == "Added zoe." and _roles()["zoe"] == "editor"

    await tab.run(SettingsState, "change_role", people.viewer_id, "editor")
    assert page.message == "Role changed." and _roles()["vera"] == "editor"
    with pytest.raises(Refused):  # a role change ends the person's sessions
        await Tab(people.cookies["viewer"]).run(SettingsState, "load")
    await tab.run(SettingsState, "change_role", 4242, "admin")
    assert page.error == "It no longer exists; reload the page."


async def test_an_editor_sees_only_themselves_and_cannot_add_people(people: People) -> None:
    tab, page = await _page(people.cookies["editor"])
    assert [u.username for u in page.users] == ["eddie"]
    await tab.run(SettingsState, "add_user", {"username": "mallory", "password": "x" * 12})
    assert "admin role" in page.error and "mallory" not in _roles()
    await tab.run(SettingsState, "change_role", people.editor_id, "admin")
    assert "admin role" in page.error and _roles()["eddie"] == "editor"


async def test_a_password_change_and_signing_out_elsewhere_end_other_sessions(
    people: People,
) -> None:
    with session_scope() as session:
        elsewhere = sessions.issue(session, session.merge(user(people.editor_id)))
    tab, page = await _page(people.cookies["editor"])
    await tab.run(SettingsState, "sign_out_others")
    assert page.message == "Your other sessions have ended."
    with pytest.raises(Refused):
        await Tab(elsewhere).run(SettingsState, "load")

    await tab.run(SettingsState, "change_password", {"current": "wrong", "new": "new password 1"})
    assert page.error and not page.message
    await tab.run(SettingsState, "change_password", {"current": PASSWORD, "new": "new password 1"})
    assert page.message.startswith("Password changed")
    await tab.run(SettingsState, "load")  # this session was kept
    assert page.users[0].username == "eddie"


async def test_an_api_token_is_shown_once_and_revoked(people: People) -> None:
    tab, page = await _page(people.cookies["editor"])
    await tab.run(SettingsState, "add_token", {"name": "ci", "role": "admin"})
    assert page.error == "A token cannot have more rights than its owner."
    assert page.new_token == ""
    await tab.run(SettingsState, "add_token", {"name": "ci", "role": "viewer"})
    assert page.message.startswith("Token created") and page.new_token.startswith(
        page.tokens[0].prefix
    )
    [row] = page.tokens
    assert (row.name, row.role, row.revoked) == ("ci", "viewer", False)
    await tab.run(SettingsState, "load")
    assert page.new_token == ""  # not shown again

    viewer, seen = await _page(people.cookies["viewer"])
    assert seen.tokens == []  # nobody else's tokens
    await viewer.run(SettingsState, "revoke_token", row.id)
    assert seen.error
    await tab.run(SettingsState, "revoke_token", row.id)
    assert page.message == "Token revoked." and page.tokens[0].revoked
    with session_scope() as session:
        assert session.exec(select(ApiToken)).one().revoked_at is not None

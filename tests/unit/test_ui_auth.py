"""Who is signed in, as the pages' guards see it, against a real database: a new install
goes to setup, no session to the sign-in page, an ended session is refused by the session
guard before any handler, and the sign-in page's error codes become fixed sentences."""

from __future__ import annotations

import pytest
from sqlmodel import select

from engine.db import session_scope
from engine.models import AdminUser
from engine.services import sessions
from flowbot_ui.pages.settings import SettingsState
from flowbot_ui.state.auth import AuthState, session_cookie
from tests.ui_harness import People, Refused, Tab, redirect_target


async def _guard(tab: Tab, handler: str = "guard") -> str | None:
    return redirect_target(await tab.run(AuthState, handler))


async def test_the_guard_sends_each_visitor_where_they_belong(people: People) -> None:
    assert await _guard(Tab("", "/flows")) == "/login"
    assert await _guard(Tab("forged-token", "/flows")) == "/login"
    signed_in = Tab(people.cookies["viewer"], "/flows")
    assert await _guard(signed_in) is None
    shown = await signed_in.state(AuthState)
    assert (shown.username, shown.role, shown.signed_in) == ("vera", "viewer", True)
    assert (shown.can_edit, shown.is_admin) == (False, False)
    editor = Tab(people.cookies["editor"], "/flows")
    await _guard(editor)
    assert (await editor.state(AuthState)).can_edit

    with session_scope() as session:
        sessions.revoke(session, people.cookies["viewer"])
    with pytest.raises(Refused):  # the session guard, before the page's handler
        await signed_in.run(SettingsState, "load")
    assert await _guard(signed_in) == "/login"
    assert (await signed_in.state(AuthState)).signed_in is False


async def test_a_new_install_goes_to_setup(people: People) -> None:
    with session_scope() as session:
        for person in session.exec(select(AdminUser)).all():
            session.delete(person)
    assert await _guard(Tab("", "/flows")) == "/setup"
    assert await _guard(Tab("", "/login"), "guard_public") == "/setup"
    assert await _guard(Tab("", "/setup"), "guard_public") is None


async def test_the_sign_in_page_says_why_in_fixed_words(people: People) -> None:
    assert await _guard(Tab("", "/setup"), "guard_public") == "/login"  # set up already
    assert await _guard(Tab(people.cookies["admin"], "/login"), "guard_public") == "/"

    tab = Tab("", "/login", error="throttled", wait="30")
    assert await _guard(tab, "guard_public") is None
    shown = await tab.state(AuthState)
    assert shown.error == "Too many failed sign-ins from here. Wait 30 seconds, then try again."
    tab = Tab("", "/login", error="throttled", wait="<b>soon</b>")
    await _guard(tab, "guard_public")
    assert "Wait a few seconds" in (await tab.state(AuthState)).error
    tab = Tab("", "/login", error="<script>alert(1)</script>")
    await _guard(tab, "guard_public")
    assert (await tab.state(AuthState)).error == ""  # only known codes, never the URL's text


def test_the_session_cookie_is_read_from_the_handshake_header() -> None:
    assert session_cookie(f"a=1; {sessions.COOKIE_NAME}=tok; b=2") == "tok"
    assert session_cookie("a=1") == ""
    assert session_cookie('bad"cookie;;=') == ""

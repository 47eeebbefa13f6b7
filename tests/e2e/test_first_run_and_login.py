"""A newcomer's first minutes, in the real browser against the real server."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot

ADMIN, PASSWORD = "alice", "correct horse battery"


def sign_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()


def test_first_run_login_and_roles(page: Page, app_url: str) -> None:
    # A protected page sends a brand-new install to the first-run page.
    page.goto(f"{app_url}/flows")
    page.wait_for_url(re.compile(r"/setup/?$"))
    screenshot(page, "first-run")

    page.fill("#username", ADMIN)
    page.fill("#password", "too short")
    page.fill("#confirm", "too short")
    page.get_by_role("button", name="Create admin and sign in").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("at least 10")

    page.fill("#username", ADMIN)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name="Create admin and sign in").click()
    expect(page.get_by_test_id("sidebar")).to_be_visible()
    expect(page.get_by_test_id("current-user")).to_have_text(ADMIN)
    # The session cookie is HttpOnly: page script (and so injected script) cannot read it.
    assert "flowbot_session" not in page.evaluate("document.cookie")
    assert any(c["name"] == "flowbot_session" and c["httpOnly"] for c in page.context.cookies())
    for label in [
        "Dashboard",
        "Flows",
        "Executions",
        "Connections",
        "Communities",
        "Broadcast",
        "Scheduled",
        "Webhooks",
        "Bot config",
        "Analytics",
        "Settings",
    ]:
        expect(page.get_by_test_id("sidebar").get_by_text(label, exact=True)).to_be_visible()
    expect(page.get_by_test_id("stat-active-flows")).to_have_text("0")
    # (the dashboard's screenshot, with data, is test_dashboard.py's)

    # Sections not built yet say so honestly.
    page.get_by_test_id("nav-communities").click()
    expect(page.get_by_test_id("empty-state")).to_contain_text("No communities yet")

    # The admin adds a viewer from Settings.
    page.get_by_test_id("nav-settings").click()
    page.fill("#username", "victor")
    page.fill("#password", "viewer password 1")
    page.get_by_role("button", name="Add person").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Added victor")
    screenshot(page, "settings")

    # Sign out; the setup page is gone; a wrong password is refused.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login/?$"))
    page.goto(f"{app_url}/setup")
    page.wait_for_url(re.compile(r"/login/?$"))
    sign_in(page, app_url, ADMIN, "wrong password")
    expect(page.get_by_test_id("form-error")).to_contain_text("Wrong user name or password")

    # A viewer can look but not create API tokens.
    sign_in(page, app_url, "victor", "viewer password 1")
    expect(page.get_by_test_id("current-user")).to_have_text("victor")
    page.get_by_test_id("nav-settings").click()
    expect(page.get_by_role("button", name="Create token")).to_be_disabled()
    expect(page.get_by_role("button", name="Add person")).to_have_count(0)

"""Data created through the UI survives a restart of the web process."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.flow_ui import create_flow, node
from tests.e2e.server import flowbot_server
from tests.e2e.test_first_run_and_login import sign_in


def test_restart_keeps_accounts_and_edits_nobody_saved(
    page: Page, tmp_path: Path, server_port: int
) -> None:
    data = tmp_path / "data"
    with flowbot_server(data, server_port, tmp_path / "first.log") as url:
        page.goto(url)
        page.wait_for_url(re.compile(r"/setup/?$"))
        page.fill("#username", "dana")
        page.fill("#password", "dana password 1")
        page.fill("#confirm", "dana password 1")
        page.get_by_role("button", name="Create admin and sign in").click()
        expect(page.get_by_test_id("current-user")).to_have_text("dana")
        # An edit in the editor, never saved by hand, reaches the database by itself.
        editor = create_flow(page, url, "Kept").removeprefix(url)
        page.get_by_test_id("palette-log").click()
        expect(node(page, "log1")).to_be_visible()
        expect(page.get_by_test_id("clean")).to_be_visible()

    with flowbot_server(data, server_port, tmp_path / "second.log") as url:
        # The session cookie (same secret key) is still valid after the restart.
        page.goto(url)
        expect(page.get_by_test_id("current-user")).to_have_text("dana")
        page.get_by_role("button", name="Sign out").click()
        page.goto(f"{url}/setup")
        page.wait_for_url(re.compile(r"/login/?$"))  # no longer a first run
        sign_in(page, url, "dana", "dana password 1")
        expect(page.get_by_test_id("current-user")).to_have_text("dana")
        page.goto(url + editor)
        expect(node(page, "log1")).to_be_visible()

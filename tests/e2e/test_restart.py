"""Data created through the UI survives a restart of the web process."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect
from sqlmodel import select

from engine.models import AdminUser, Role
from engine.services import auth
from tests.e2e.flow_ui import (
    add_editor,
    create_flow,
    node,
    saved_graph,
    server_db,
    set_param,
    sign_in_first_admin,
)
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


def _message(graph: dict[str, Any]) -> Any:
    return next(n for n in graph["nodes"] if n["id"] == "log1")["params"].get("message")


def _save_through_the_api(url: str, token: str, flow_id: int, message: str) -> None:
    """Bob's save of log1's message through the REST API, at the revision he read."""
    headers = {"Authorization": f"Bearer {token}"}
    read = httpx.get(f"{url}/api/v1/flows/{flow_id}", headers=headers, timeout=30)
    read.raise_for_status()
    graph = read.json()["graph"]
    next(n for n in graph["nodes"] if n["id"] == "log1")["params"]["message"] = message
    saved = httpx.put(
        f"{url}/api/v1/flows/{flow_id}/graph",
        json=graph,
        headers={**headers, "If-Match": read.headers["ETag"]},
        timeout=30,
    )
    saved.raise_for_status()


def test_restart_during_a_save_conflict_keeps_the_unsaved_edit_and_the_choice(
    page: Page, tmp_path: Path, server_port: int
) -> None:
    """Issue 17: an edit refused because the flow was saved elsewhere (here by Bob, through
    the API) is held in the database, not only in server memory: after a restart the editor
    shows it with the same three-way choice, and keeping it names whose change it drops."""
    data = tmp_path / "data"
    with flowbot_server(data, server_port, tmp_path / "first.log") as url:
        sign_in_first_admin(page, url)
        add_editor(data, "bob")
        with server_db(data) as session:
            bob = session.exec(select(AdminUser).where(AdminUser.username == "bob")).one()
            token = auth.create_api_token(session, bob, "restart test", Role.editor).plaintext
        editor = create_flow(page, url, "Held").removeprefix(url)
        flow_id = int(editor.rstrip("/").rsplit("/", 1)[-1])
        page.get_by_test_id("palette-log").click()
        set_param(page, "log1", "message", "base")
        expect(page.get_by_test_id("clean")).to_be_visible()  # autosaved: the common base
        _save_through_the_api(url, token, flow_id, "bob's words")
        set_param(page, "log1", "message", "mine")  # its autosave is refused: held
        expect(page.get_by_test_id("conflict")).to_contain_text("saved somewhere else")

    with flowbot_server(data, server_port, tmp_path / "second.log") as url:
        page.goto(url + editor)
        expect(page.get_by_test_id("conflict")).to_contain_text("saved somewhere else")
        for choice in ("merge", "theirs", "ours"):
            expect(page.get_by_test_id(f"resolve-{choice}")).to_be_visible()
        node(page, "log1").click()
        expect(page.get_by_test_id("param-message")).to_have_value("mine")  # the unsaved edit
        assert _message(saved_graph(data, flow_id)) == "bob's words"
        page.get_by_test_id("resolve-ours").click()
        expect(page.get_by_test_id("what-goes").locator("li")).to_have_text(
            ["bob's change to Log (log1) › Message"]
        )
        page.get_by_test_id("resolve-confirm").click()
        expect(page.get_by_test_id("conflict")).to_have_count(0)
        expect(page.get_by_test_id("resolved")).to_contain_text("over the version saved")
        expect(page.get_by_test_id("clean")).to_be_visible()
        assert _message(saved_graph(data, flow_id)) == "mine"

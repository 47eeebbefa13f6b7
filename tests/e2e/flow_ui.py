"""Browser helpers shared by the editor and debugger tests: first admin, canvas gestures."""

from __future__ import annotations

import copy
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from engine import db
from engine.models import AdminUser, FlowDefinition, Role
from engine.services import auth, flows
from engine.settings import get_settings
from tests.e2e.conftest import leave_when_asked

ADMIN, PASSWORD = "alice", "correct horse battery"
VIEWPORT = {"width": 1400, "height": 900}


def sign_in_first_admin(page: Page, url: str) -> None:
    """Create the first admin through /setup on a new install, else sign in."""
    page.goto(f"{url}/flows")
    page.wait_for_url(re.compile(r"/(setup|login|flows)/?$"))
    for _ in range(3):  # a click before the page has hydrated is lost: try again
        if "/setup" in page.url:
            page.fill("#username", ADMIN)
            page.fill("#password", PASSWORD)
            page.fill("#confirm", PASSWORD)
            page.get_by_role("button", name="Create admin and sign in").click()
        elif "/login" in page.url:
            page.fill("#username", ADMIN)
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="Sign in").click()
        try:
            expect(page.get_by_test_id("sidebar")).to_be_visible(timeout=8000)
            return
        except AssertionError:
            continue
    expect(page.get_by_test_id("sidebar")).to_be_visible()


def new_page(browser: Browser, url: str, username: str = ADMIN) -> Page:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(30_000)
    leave_when_asked(page)
    sign_in_first_admin(page, url)
    if username != ADMIN:
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/login/?$"))
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_test_id("current-user")).to_have_text(username)
    return page


@contextmanager
def server_db(data_dir: Path) -> Iterator[Session]:
    """A session on the test server's database (the same data folder), from the test."""
    previous = os.environ.get("FLOWBOT_DATA_DIR")
    os.environ["FLOWBOT_DATA_DIR"] = str(data_dir)
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        with db.session_scope() as session:
            yield session
    finally:
        db.get_engine().dispose()
        if previous is None:
            os.environ.pop("FLOWBOT_DATA_DIR", None)
        else:
            os.environ["FLOWBOT_DATA_DIR"] = previous
        get_settings.cache_clear()
        db.get_engine.cache_clear()


def _admin(session: Session) -> AdminUser:
    return session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()


def add_editor(data_dir: Path, username: str, role: Role = Role.editor) -> None:
    """Add an editor (or ``role``) account straight into the server's database."""
    with server_db(data_dir) as session:
        if not session.exec(select(AdminUser).where(AdminUser.username == username)).first():
            auth.create_user(session, username, PASSWORD, role, actor=_admin(session))


def save_elsewhere(
    data_dir: Path, flow_id: int, change: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Save the flow's draft as another client would (the REST API, another server), with
    ``change`` made to it first; the graph saved."""
    with server_db(data_dir) as session:
        flow = session.get(FlowDefinition, flow_id)
        assert flow is not None
        graph = copy.deepcopy(flow.graph)
        if change is not None:
            change(graph)
        flows.save_draft(session, _admin(session), flow_id, graph)
        return graph


def saved_graph(data_dir: Path, flow_id: int) -> dict[str, Any]:
    """The flow's draft as saved in the server's database."""
    with server_db(data_dir) as session:
        flow = session.get(FlowDefinition, flow_id)
        assert flow is not None
        return copy.deepcopy(flow.graph)


def create_flow(page: Page, url: str, name: str) -> str:
    """Create a flow from the flows page; returns the editor's URL."""
    page.goto(f"{url}/flows")
    page.get_by_test_id("new-flow").click()
    page.get_by_test_id("template-blank").click()
    page.get_by_test_id("new-name").fill(name)
    page.get_by_role("button", name="Create and open").click()
    page.wait_for_url(re.compile(r"/flows/\d+/?$"))
    expect(page.get_by_test_id("flow-name")).to_have_text(name)
    expect(page.get_by_test_id("flow-canvas")).to_be_visible()
    return page.url


def drop_node(page: Page, type_id: str, x: int, y: int) -> None:
    """Drag a palette item onto the canvas at (x, y) of the canvas."""
    item = page.get_by_test_id(f"palette-{type_id}")
    item.scroll_into_view_if_needed()
    item.drag_to(page.get_by_test_id("flow-canvas"), target_position={"x": x, "y": y})
    expect(page.locator(f'.react-flow__node[data-id="{type_id}1"]')).to_be_visible()


def node(page: Page, node_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f'.react-flow__node[data-id="{node_id}"]')


STILL_FRAMES = 5  # consecutive animation frames a node must keep its place to count as still


def wait_until_still(page: Page, node_id: str) -> None:
    """Wait until the node can be pointed at (its centre is on the canvas, not under a
    panel) and has kept its box for several animation frames (a view change or re-render
    has settled), however slowly the frames come."""
    page.wait_for_function(
        """([id, frames, call]) => {
            const el = document.querySelector(`.react-flow__node[data-id="${id}"]`);
            if (!el) return false;
            const r = el.getBoundingClientRect();
            const box = [r.x, r.y, r.width, r.height].join();
            const seen = (window.__flowbotStill = window.__flowbotStill || {});
            const last = seen[call] || { box: "", count: 0 };
            seen[call] = { box, count: last.box === box ? last.count + 1 : 0 };
            const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            const reachable = hit && hit.closest(".react-flow__node") === el;
            return reachable && seen[call].count >= frames;
        }""",
        arg=[node_id, STILL_FRAMES, uuid.uuid4().hex],
        polling="raf",
    )


def connect(page: Page, source: str, target: str, handle: str | None = None) -> None:
    """Drag from a source handle to a node's input handle with the mouse."""
    selector = ".react-flow__handle.source" + (f'[data-handleid="{handle}"]' if handle else "")
    start = node(page, source).locator(selector).bounding_box()
    end = node(page, target).locator(".react-flow__handle.target").bounding_box()
    assert start and end
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + 2, end["y"] + 2, steps=8)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=4)
    page.mouse.up()


def set_param(page: Page, node_id: str, name: str, value: str) -> None:
    """Select a node and type into a field of its property form (committed on blur)."""
    node(page, node_id).click()
    expect(page.get_by_test_id("selected-id")).to_have_text(node_id)
    field = page.get_by_test_id(f"param-{name}")
    field.fill(value)
    field.press("Tab")  # commits on blur, as a person moving on does


def publish(page: Page, *, activate: bool = True) -> None:
    """Publish from the editor, answering its question: run it now, or publish only (an
    active flow is only told which running version it replaces)."""
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("publish-question")).to_be_visible()
    if not activate:
        page.get_by_test_id("publish-only").click()
    elif page.get_by_test_id("publish-replace").count():
        page.get_by_test_id("publish-replace").click()
    else:
        page.get_by_test_id("publish-activate").click()
    expect(page.get_by_role("dialog")).to_have_count(0)


def import_flow(page: Page, url: str, document: dict[str, Any]) -> None:
    """Import a flow file on the flows page and open it in the editor."""
    page.goto(f"{url}/flows")
    page.get_by_role("button", name="Import").click()
    page.get_by_test_id("import-text").fill(json.dumps(document))
    page.get_by_test_id("import-confirm").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Flow imported")
    page.get_by_role("link", name=document["name"], exact=True).first.click()
    expect(page.get_by_test_id("flow-name")).to_have_text(document["name"])

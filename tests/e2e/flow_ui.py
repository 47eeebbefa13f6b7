"""Browser helpers shared by the editor and debugger tests: first admin, canvas gestures."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

ADMIN, PASSWORD = "alice", "correct horse battery"
VIEWPORT = {"width": 1400, "height": 900}


def sign_in_first_admin(page: Page, url: str) -> None:
    """Create the first admin through /setup on a new install, else sign in."""
    page.goto(f"{url}/flows")
    page.wait_for_url(re.compile(r"/(setup|login|flows)/?$"))
    if "/setup" in page.url:
        page.fill("#username", ADMIN)
        page.fill("#password", PASSWORD)
        page.fill("#confirm", PASSWORD)
        page.get_by_role("button", name="Create admin and sign in").click()
    elif "/login" in page.url:
        page.fill("#username", ADMIN)
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("sidebar")).to_be_visible()


def new_page(browser: Browser, url: str) -> Page:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(30_000)
    sign_in_first_admin(page, url)
    return page


def create_flow(page: Page, url: str, name: str) -> str:
    """Create a flow from the flows page; returns the editor's URL."""
    page.goto(f"{url}/flows")
    page.get_by_test_id("new-flow").click()
    page.get_by_test_id("new-name").fill(name)
    page.get_by_role("button", name="Create and open").click()
    page.wait_for_url(re.compile(r"/flows/\d+/?$"))
    expect(page.get_by_test_id("flow-name")).to_have_text(name)
    expect(page.get_by_test_id("flow-canvas")).to_be_visible()
    return page.url


def drop_node(page: Page, type_id: str, x: int, y: int) -> None:
    """Drag a palette item onto the canvas at (x, y) of the canvas."""
    page.get_by_test_id("palette-search").fill(type_id.replace("_", " ").split(" ")[0])
    item = page.get_by_test_id(f"palette-{type_id}")
    item.drag_to(page.get_by_test_id("flow-canvas"), target_position={"x": x, "y": y})
    page.get_by_test_id("palette-search").fill("")


def node(page: Page, node_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f'.react-flow__node[data-id="{node_id}"]')


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
    field.blur()

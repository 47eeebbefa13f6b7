"""Issue 17: a co-editor's param edit shows in the form of someone looking at the same node
straight from the room's patch, without that page asking the server again (the second
round trip made a param edit reach a co-editor in 0.25-0.6 s): text fields, checkboxes and
selects alike. A value shown that way is never written back by a field left untouched, and
counts as what the field showed when the person changes it."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from tests.e2e.flow_ui import (
    add_editor,
    create_flow,
    new_page,
    node,
    saved_graph,
    set_param,
)


def _without_form_refreshes(page: Page) -> list[str]:
    """Drop every form refresh the page asks the server for (the old way a co-editor's edit
    reached the form); the events it dropped."""
    dropped: list[str] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if isinstance(message, str) and "refresh_panel" in message:
                dropped.append(message)
            else:
                server.send(message)

        ws.on_message(to_server)

    page.route_web_socket(re.compile(r".*/_event.*"), route)
    return dropped


def test_a_co_editors_field_edit_shows_from_the_patch_alone(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    ada = new_page(browser, app_url)  # the first admin, when this module runs alone
    add_editor(server_data, "bob")
    bob = new_page(browser, app_url, "bob")
    url = create_flow(ada, app_url, "From the patch")
    flow_id = int(url.rstrip("/").rsplit("/", 1)[-1])
    ada.get_by_test_id("palette-log").click()
    set_param(ada, "log1", "message", "first")
    expect(ada.get_by_test_id("clean")).to_be_visible()

    dropped = _without_form_refreshes(bob)
    bob.goto(url)
    node(bob, "log1").click()
    bob_field = bob.get_by_test_id("param-message")
    expect(bob_field).to_have_value("first")

    set_param(ada, "log1", "message", "second")
    expect(bob_field).to_have_value("second")  # no refresh of Bob's form got through

    # Ada's undo names no field: Bob's form goes back to what it was drawn with ("first",
    # which the undo restores) rather than keeping a text the node no longer holds, and
    # asks for the form again.
    ada.locator("button[aria-label='Undo (Ctrl+Z)']").click()
    expect(ada.get_by_test_id("param-message")).to_have_value("first")
    expect(bob_field).to_have_value("first")
    assert any("refresh_panel" in event for event in dropped)

    # Left untouched, a field writes nothing: what it showed came from the patch.
    set_param(ada, "log1", "message", "third")
    expect(bob_field).to_have_value("third")
    bob_field.focus()
    bob_field.press("Tab")
    expect(ada.get_by_test_id("clean")).to_be_visible()
    expect(bob_field).to_have_value("third")
    expect(bob.get_by_test_id("field-conflict-message")).to_have_count(0)
    graph = saved_graph(server_data, flow_id)
    assert next(n for n in graph["nodes"] if n["id"] == "log1")["params"]["message"] == "third"
    ada.context.close()
    bob.context.close()


def test_a_co_editors_checkbox_and_select_show_from_the_patch_alone(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    """Ada unticks Follow redirects and picks POST; Bob's form, whose refreshes never get
    through, shows both. Bob then picks PUT: what his select showed (POST, from the patch)
    is what he changed, so it is written, not offered as a conflict."""
    ada = new_page(browser, app_url)
    add_editor(server_data, "bob")
    bob = new_page(browser, app_url, "bob")
    url = create_flow(ada, app_url, "Checkbox and select")
    flow_id = int(url.rstrip("/").rsplit("/", 1)[-1])
    ada.get_by_test_id("palette-http_request").click()
    node(ada, "http_request1").click()
    expect(ada.get_by_test_id("clean")).to_be_visible()

    _without_form_refreshes(bob)
    bob.goto(url)
    node(bob, "http_request1").click()
    bob_flag = bob.get_by_test_id("param-follow_redirects")
    bob_method = bob.get_by_test_id("param-method")
    expect(bob_flag).to_be_checked()
    expect(bob_method).to_have_text("GET")

    ada.get_by_test_id("param-follow_redirects").click()
    expect(bob_flag).not_to_be_checked()
    ada.get_by_test_id("param-method").click()
    ada.get_by_role("option", name="POST").click()
    expect(bob_method).to_have_text("POST")  # no refresh of Bob's form got through

    bob_method.click()
    bob.get_by_role("option", name="PUT").click()
    expect(ada.get_by_test_id("param-method")).to_have_text("PUT")
    expect(bob.get_by_test_id("field-conflict-method")).to_have_count(0)
    expect(ada.get_by_test_id("clean")).to_be_visible()
    params = next(n for n in saved_graph(server_data, flow_id)["nodes"])["params"]
    assert params["method"] == "PUT" and params["follow_redirects"] is False
    ada.context.close()
    bob.context.close()

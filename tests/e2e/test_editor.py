"""The flow editor in the browser: built with the mouse alone, saved, published, test-run;
validation on the node; two people editing the same flow."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, WebSocket, expect

from engine.models import Role
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import (
    add_editor,
    connect,
    create_flow,
    drop_node,
    new_page,
    node,
    publish,
    save_elsewhere,
    saved_graph,
    set_param,
    wait_until_still,
)


@pytest.fixture(scope="module")
def editor_url(browser: Browser, app_url: str) -> str:
    page = new_page(browser, app_url)
    url = create_flow(page, app_url, "Greeter")
    page.context.close()
    return url


def test_build_save_publish_and_test_run_with_the_mouse(
    browser: Browser, app_url: str, editor_url: str
) -> None:
    page = new_page(browser, app_url)
    page.goto(editor_url)
    expect(page.get_by_test_id("clean")).to_be_visible()

    drop_node(page, "manual", 40, 100)
    expect(node(page, "manual1")).to_be_visible()
    drop_node(page, "template", 300, 220)
    drop_node(page, "set_variable", 40, 380)
    expect(node(page, "set_variable1")).to_be_visible()
    expect(page.get_by_test_id("clean")).to_be_visible()  # autosaved, without a click

    connect(page, "manual1", "template1")
    connect(page, "template1", "set_variable1")
    expect(page.locator(".react-flow__edge")).to_have_count(2)

    set_param(page, "template1", "text", "Hello {{ trigger.data.name }}")
    set_param(page, "set_variable1", "name", "greeting")
    set_param(page, "set_variable1", "value", "{{ node.template1.text }}")
    expect(page.get_by_test_id("problems")).to_contain_text("No problems")

    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("clean")).to_be_visible()
    publish(page)
    expect(page.get_by_test_id("flow-status")).to_have_text("Live v1")

    page.get_by_role("button", name="Versions").click()
    expect(page.get_by_role("dialog")).to_contain_text("alice")
    page.get_by_role("button", name="Close").click()

    page.get_by_test_id("test-run").click()
    expect(page.get_by_test_id("run-field-data.name")).to_have_value("Ada")
    page.get_by_test_id("run-start").click()
    expect(page.get_by_test_id("run-status")).to_have_text("succeeded")
    for node_id in ("manual1", "template1", "set_variable1"):
        expect(page.get_by_test_id(f"node-{node_id}")).to_have_attribute("data-status", "succeeded")
        expect(page.get_by_test_id(f"run-step-{node_id}")).to_be_visible()
    node(page, "template1").click()
    expect(page.get_by_test_id("step-output")).to_contain_text("Hello Ada")
    page.locator("button[aria-label='Auto-layout']").click()
    page.locator("button[aria-label='Fit View']").click()
    page.get_by_test_id("palette").evaluate("panel => panel.scrollTo(0, 0)")
    screenshot(page, "editor")

    # A broken expression is flagged on its node and in the problems list.
    set_param(page, "template1", "text", "Hello {{ trigger.data.name ")
    expect(page.get_by_test_id("node-error-template1")).to_be_visible()
    expect(page.get_by_test_id("problems")).to_contain_text("invalid expression")
    page.locator("button[aria-label='Undo (Ctrl+Z)']").click()
    expect(page.get_by_test_id("node-error-template1")).to_have_count(0)

    # Copy and paste with the keyboard, then undo the paste.
    node(page, "template1").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(node(page, "template2")).to_be_visible()
    page.keyboard.press("Control+z")
    expect(node(page, "template2")).to_have_count(0)
    page.context.close()


def test_two_people_see_each_others_edits_and_presence(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    ada = new_page(browser, app_url)  # the first admin, when this test runs alone
    add_editor(server_data, "bob")
    bob = new_page(browser, app_url, "bob")
    editor_url = create_flow(ada, app_url, "Co-edited")  # its own: framing shows log1
    bob.goto(editor_url)
    expect(ada.get_by_test_id("flow-canvas")).to_be_visible()
    expect(bob.get_by_test_id("flow-canvas")).to_be_visible()
    expect(bob.get_by_test_id("presence").locator(".rt-AvatarRoot")).to_have_count(2)
    expect(ada.get_by_test_id("presence").locator(".rt-AvatarRoot")).to_have_count(2)
    expect(bob.get_by_test_id("presence").get_by_title("alice is here")).to_be_visible()

    ada.get_by_test_id("palette-search").fill("log")
    expect(ada.get_by_test_id("palette-manual")).to_have_count(0)  # the filter applied
    ada.get_by_test_id("palette-log").click()  # a click adds the node after the last one
    expect(node(bob, "log1")).to_be_visible(timeout=3000)

    set_param(bob, "log1", "message", "seen by both")
    node(ada, "log1").click()
    expect(ada.get_by_test_id("param-message")).to_have_value("seen by both", timeout=3000)
    # Who is on which node: each sees the other on log1, never themselves.
    expect(ada.get_by_test_id("node-people-log1")).to_have_text("bob")
    expect(bob.get_by_test_id("node-people-log1")).to_have_text("alice")
    # ... and in which field: Bob in Message shows there on Ada's canvas, until he leaves it.
    bob.get_by_test_id("param-message").focus()
    expect(ada.get_by_test_id("node-people-log1")).to_have_text("bob › Message")
    expect(bob.get_by_test_id("node-people-log1")).to_have_text("alice")  # never himself
    bob.get_by_test_id("param-message").blur()
    expect(ada.get_by_test_id("node-people-log1")).to_have_text("bob")

    # A viewer sees read-only controls, and the notice saying so is theirs alone.
    add_editor(server_data, "vera", Role.viewer)
    vera = new_page(browser, app_url, "vera")
    vera.goto(editor_url)
    expect(vera.get_by_test_id("read-only")).to_be_visible()
    node(vera, "log1").click()
    expect(vera.get_by_test_id("param-message")).to_have_value("seen by both")
    expect(vera.get_by_test_id("param-message")).not_to_be_editable()
    expect(vera.locator("button[aria-label='Undo (Ctrl+Z)']")).to_be_disabled()
    expect(ada.get_by_test_id("presence").get_by_title("vera is here")).to_be_visible()
    vera.context.close()  # the tab closes: vera is gone from the others' presence
    # Gone at once on pagehide, else after 5 s without a heartbeat; the wait is generous
    # because a loaded machine may delay both (how fast is bench/editor.py's to measure).
    expect(ada.get_by_test_id("presence").get_by_title("vera is here")).to_have_count(
        0, timeout=30_000
    )
    expect(ada.get_by_test_id("read-only")).to_have_count(0)

    for page in (ada, bob):  # frame the new node in both views, and let the views settle
        page.locator("button[aria-label='Fit View']").click()
        wait_until_still(page, "log1")
    box = node(bob, "log1").bounding_box()
    assert box
    before = node(ada, "log1").bounding_box()
    bob.mouse.move(box["x"] + 40, box["y"] + 15)
    bob.mouse.down()
    bob.mouse.move(box["x"] + 40, box["y"] + 160, steps=6)
    bob.mouse.up()
    ada.wait_for_function(
        """([id, y]) => {
            const el = document.querySelector(`.react-flow__node[data-id="${id}"]`);
            return el && el.getBoundingClientRect().y > y + 50;
        }""",
        arg=["log1", before["y"] if before else 0],
        timeout=3000,
    )

    # A save made elsewhere meanwhile is never overwritten: the autosave of the next edit
    # is refused and said to both; leaving with it unsaved asks first.
    expect(ada.get_by_test_id("clean")).to_be_visible()  # the move was autosaved
    save_elsewhere(server_data, int(editor_url.rstrip("/").rsplit("/", 1)[-1]))
    ada.get_by_test_id("palette-log").click()
    expect(node(bob, "log2")).to_be_visible()
    expect(bob.get_by_test_id("conflict")).to_contain_text("saved somewhere else")
    with ada.expect_event("dialog") as asked:
        ada.close(run_before_unload=True)
    assert asked.value.type == "beforeunload"  # answered "Leave" (leave_when_asked)
    set_param(bob, "log1", "message", "unsaved by bob")  # Bob's own edit goes too
    bob.get_by_test_id("resolve-theirs").click()  # asked first, naming what goes and whose
    expect(bob.get_by_test_id("what-goes").locator("li")).to_have_text(
        ["alice's new node Log (log2)", "your change to Log (log1) › Message"]
    )
    bob.get_by_test_id("resolve-confirm").click()
    expect(bob.get_by_test_id("conflict")).to_have_count(0)
    expect(bob.get_by_test_id("resolved")).to_contain_text("unsaved edits dropped: 2")
    expect(bob.get_by_test_id("param-message")).to_have_value("seen by both")
    expect(bob.get_by_test_id("clean")).to_be_visible()
    expect(node(bob, "log2")).to_have_count(0)  # the unsaved node is gone, as chosen
    expect(node(bob, "log1")).to_be_visible()  # the autosaved one stays
    ada.context.close()
    bob.context.close()


def test_a_field_writes_only_what_its_person_changed(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    """Issue 17, 1 and 2: a stale field left untouched writes nothing; a field changed by
    someone else updates in place; an edit made over someone else's offers keep mine / take
    theirs, to that person only; undo undoes one's own edits only."""
    ada = new_page(browser, app_url)  # the first admin, when this test runs alone
    add_editor(server_data, "bob")
    bob = new_page(browser, app_url, "bob")
    url = create_flow(ada, app_url, "Two hands")
    bob.goto(url)
    expect(bob.get_by_test_id("flow-canvas")).to_be_visible()
    ada.get_by_test_id("palette-log").click()  # added and selected for Ada only
    expect(ada.get_by_test_id("selected-id")).to_have_text("log1")
    expect(bob.get_by_test_id("selected-id")).to_have_count(0)

    set_param(bob, "log1", "message", "from bob")
    ada_field, bob_field = ada.get_by_test_id("param-message"), bob.get_by_test_id("param-message")
    expect(ada_field).to_have_value("from bob")  # updated in place

    # Ada looks at the field (focus) while Bob empties it; she leaves it untouched.
    ada_field.focus()
    bob_field.fill("")
    bob_field.press("Tab")
    expect(node(ada, "log1").get_by_test_id("node-error-log1")).to_be_visible()  # it arrived
    expect(ada_field).to_have_value("from bob")  # not rebuilt under her focus
    ada_field.press("Tab")
    expect(ada_field).to_have_value("")  # Bob's value shown; her stale one not written
    expect(node(bob, "log1").get_by_test_id("node-error-log1")).to_be_visible()

    # Both edit it at once: Bob's lands first, Ada chooses, and only Ada is asked.
    ada_field.focus()
    ada_field.fill("ada's words")
    bob_field.fill("bob's words")
    bob_field.press("Tab")
    expect(node(ada, "log1").get_by_test_id("node-error-log1")).to_have_count(0)
    ada_field.press("Tab")
    expect(ada.get_by_test_id("field-conflict-message")).to_contain_text("Changed by bob")
    expect(ada_field).to_have_value("bob's words")
    expect(bob.get_by_test_id("field-conflict-message")).to_have_count(0)
    ada.get_by_test_id("keep-mine").click()
    expect(ada.get_by_test_id("field-conflict-message")).to_have_count(0)
    expect(ada_field).to_have_value("ada's words")
    expect(bob_field).to_have_value("ada's words")

    # Undo is per person: Ada's undoes her own last edit, not Bob's newer node; Bob's his.
    bob.get_by_test_id("palette-log").click()
    expect(node(ada, "log2")).to_be_visible()
    ada.locator("button[aria-label='Undo (Ctrl+Z)']").click()
    expect(ada_field).to_have_value("bob's words")
    expect(node(ada, "log2")).to_be_visible()
    bob.locator("button[aria-label='Undo (Ctrl+Z)']").click()
    expect(node(ada, "log2")).to_have_count(0)
    expect(node(bob, "log1")).to_be_visible()
    ada.context.close()
    bob.context.close()


def _params(graph: dict[str, Any], node_id: str) -> dict[str, Any]:
    return dict(next(n for n in graph["nodes"] if n["id"] == node_id)["params"])


def test_a_save_elsewhere_is_merged_or_overwritten_by_the_one_who_chooses(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    """Issue 17, item 3: after a save made elsewhere, the unsaved edits are merged (a
    conflict on the same field picked by the person), or kept over it after a confirmation
    that names what of the other save goes; the dialog and its result are that person's."""
    ada = new_page(browser, app_url)  # the first admin, when this test runs alone
    add_editor(server_data, "bob")
    bob = new_page(browser, app_url, "bob")
    url = create_flow(ada, app_url, "Saved twice")
    flow_id = int(url.rstrip("/").rsplit("/", 1)[-1])
    bob.goto(url)
    ada.get_by_test_id("palette-log").click()
    set_param(ada, "log1", "message", "base")
    expect(bob.get_by_test_id("clean")).to_be_visible()  # autosaved: the common base

    def theirs(graph: dict[str, Any]) -> None:  # their edit of the same field, and a node
        next(n for n in graph["nodes"] if n["id"] == "log1")["params"]["message"] = "theirs"
        graph["nodes"].append(
            {"id": "template1", "type": "template", "params": {}, "position": {"x": 0, "y": 200}}
        )

    save_elsewhere(server_data, flow_id, theirs)
    set_param(bob, "log1", "message", "mine")
    bob.get_by_test_id("palette-log").click()  # log2, unsaved: the autosave is refused
    for page in (ada, bob):  # the unsaved draft is both editors'
        expect(page.get_by_test_id("conflict")).to_contain_text("saved somewhere else")

    # Merge: the same field is Bob's to pick; the rest lands without asking.
    bob.get_by_test_id("resolve-merge").click()
    dialog = bob.get_by_test_id("resolve-dialog")
    expect(dialog.get_by_test_id("merge-conflict")).to_have_count(1)
    expect(dialog.get_by_test_id("merge-conflict")).to_contain_text("Log (log1) › Message")
    expect(ada.get_by_test_id("resolve-dialog")).to_have_count(0)  # Bob's choice, not Ada's
    dialog.get_by_test_id("pick-ours-field:log1/message").click()
    expect(dialog.get_by_test_id("pick-ours-field:log1/message")).to_have_class(
        re.compile("rt-variant-solid")
    )
    screenshot(bob, "editor-merge")
    dialog.get_by_test_id("resolve-confirm").click()
    expect(bob.get_by_test_id("resolved")).to_contain_text("1 kept yours")
    expect(ada.get_by_test_id("resolved")).to_have_count(0)
    for page in (ada, bob):
        expect(page.get_by_test_id("conflict")).to_have_count(0)
        expect(node(page, "template1")).to_be_visible()
        expect(node(page, "log2")).to_be_visible()
    expect(bob.get_by_test_id("clean")).to_be_visible()
    merged = saved_graph(server_data, flow_id)
    assert _params(merged, "log1")["message"] == "mine"
    assert {n["id"] for n in merged["nodes"]} == {"log1", "log2", "template1"}

    # Keep mine: the confirmation names what the other save changed, then overwrites it.
    def remove_log2(graph: dict[str, Any]) -> None:
        graph["nodes"] = [n for n in graph["nodes"] if n["id"] != "log2"]

    save_elsewhere(server_data, flow_id, remove_log2)
    set_param(ada, "log1", "message", "ada's")
    expect(ada.get_by_test_id("conflict")).to_be_visible()
    ada.get_by_test_id("resolve-ours").click()
    expect(ada.get_by_test_id("what-goes")).to_have_text("the removal of Log (log2)")
    ada.get_by_test_id("resolve-confirm").click()
    expect(ada.get_by_test_id("conflict")).to_have_count(0)
    expect(ada.get_by_test_id("resolved")).to_contain_text("over the version saved elsewhere")
    expect(ada.get_by_test_id("clean")).to_be_visible()
    kept = saved_graph(server_data, flow_id)
    assert _params(kept, "log1")["message"] == "ada's"
    assert {n["id"] for n in kept["nodes"]} == {"log1", "log2", "template1"}
    ada.context.close()
    bob.context.close()


WIRE_LIMIT = 1024  # bytes per websocket frame of an edit, either way (issue 17)


def _frames(page: Page) -> list[tuple[str, str]]:
    """Every websocket frame the page sends or receives from now on: (way, frame)."""
    seen: list[tuple[str, str]] = []

    def on_socket(ws: WebSocket) -> None:
        ws.on("framesent", lambda frame: seen.append(("sent", str(frame))))
        ws.on("framereceived", lambda frame: seen.append(("received", str(frame))))

    page.on("websocket", on_socket)
    return seen


def test_an_edit_travels_in_frames_of_at_most_1_kb_both_ways(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    """A move, an add and a param edit: every frame the editor sends and receives, and
    every frame the co-editor receives, is at most 1 KB whole (Reflex resent the page's
    router data, ~1.7 KB, in each until FlowRoom kept it out)."""
    ada = new_page(browser, app_url)  # the first admin, when this test runs alone
    add_editor(server_data, "bob")
    bob = new_page(browser, app_url, "bob")
    url = create_flow(ada, app_url, "Small frames")
    ada_frames, bob_frames = _frames(ada), _frames(bob)
    ada.goto(url)
    bob.goto(url)
    ada.get_by_test_id("palette-log").click()
    expect(node(bob, "log1")).to_be_visible()
    expect(ada.get_by_test_id("clean")).to_be_visible()

    def edit(kind: str, event: str, change: Callable[[], None], seen_by_bob: str) -> None:
        ada_frames.clear()
        bob_frames.clear()
        change()
        for _ in range(300):  # the co-editor's frame first: "clean" may still be the old one
            if any(seen_by_bob in frame.replace("\\", "") for _, frame in bob_frames):
                break
            bob.wait_for_timeout(50)
        else:
            raise AssertionError(f"{kind}: the co-editor got no {seen_by_bob} in 15 s")
        expect(ada.get_by_test_id("clean")).to_be_visible()  # answered and autosaved
        assert any(event in frame for way, frame in ada_frames if way == "sent"), kind
        sizes = [(way, len(frame)) for way, frame in ada_frames] + [
            ("bob " + way, len(frame)) for way, frame in bob_frames if way == "received"
        ]
        assert max(size for _, size in sizes) <= WIRE_LIMIT, f"{kind}: {sizes}"

    for page in (ada, bob):
        page.locator("button[aria-label='Fit View']").click()
        wait_until_still(page, "log1")
    box = node(ada, "log1").bounding_box()
    assert box

    def move() -> None:
        ada.mouse.move(box["x"] + 40, box["y"] + 15)
        ada.mouse.down()
        ada.mouse.move(box["x"] + 40, box["y"] + 160, steps=6)
        ada.mouse.up()

    edit("a move", "move_nodes", move, '"move"')
    node(ada, "log1").click()
    expect(ada.get_by_test_id("param-message")).to_be_visible()

    def param() -> None:
        ada.get_by_test_id("param-message").fill("small")
        ada.get_by_test_id("param-message").press("Tab")

    edit("a param edit", "commit_field", param, '"params"')
    ada_frames.clear()
    bob_frames.clear()
    ada.get_by_test_id("palette-log").click()
    expect(node(bob, "log2")).to_have_count(1)
    expect(ada.get_by_test_id("clean")).to_be_visible()
    sizes = [len(f) for way, f in ada_frames if way == "sent"]
    sizes += [len(f) for way, f in bob_frames if way == "received"]
    assert max(sizes) <= WIRE_LIMIT, f"an add: {sizes}"  # ada's form of log2: its own frame
    ada.context.close()
    bob.context.close()

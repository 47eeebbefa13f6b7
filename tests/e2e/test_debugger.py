"""The flows page and the debugger in the browser: import (refused, then accepted), a
failed execution stepped through on the canvas, and a re-run from the failing node."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import new_page, node, publish

FAILING_FLOW = {
    "format": "flowbot.flow",
    "version": 1,
    "name": "Price lookup",
    "description": "Answers price questions from the shop's API",
    "graph": {
        "nodes": [
            {"id": "manual1", "type": "manual", "params": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "template1",
                "type": "template",
                "params": {"text": "price of {{ trigger.data.name }}"},
                "position": {"x": 300, "y": 0},
            },
            {
                "id": "http1",
                "type": "http_request",
                "params": {"url": "http://127.0.0.1:9/prices"},  # loopback: refused
                "position": {"x": 600, "y": 0},
            },
            {
                "id": "log1",
                "type": "log",
                "params": {"message": "{{ node.http1.status }}"},
                "position": {"x": 900, "y": 0},
            },
        ],
        "edges": [
            {"source": "manual1", "target": "template1"},
            {"source": "template1", "target": "http1"},
            {"source": "http1", "target": "log1"},
        ],
    },
}


def test_flows_page_import_and_debugging_a_failed_run(browser: Browser, app_url: str) -> None:
    page = new_page(browser, app_url)
    page.goto(f"{app_url}/flows")

    # A broken file is refused with every problem listed.
    page.get_by_role("button", name="Import").click()
    broken = {"nodes": [{"id": "a", "type": "no_such_node"}], "edges": []}
    page.get_by_test_id("import-text").fill(json.dumps(broken))
    page.get_by_test_id("import-confirm").click()
    expect(page.get_by_test_id("import-problems")).to_contain_text("unknown node type")
    page.get_by_test_id("import-text").fill(json.dumps(FAILING_FLOW))
    page.get_by_test_id("import-confirm").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Flow imported")

    # Folders, duplicate and search.
    page.get_by_role("button", name="New folder").click()
    page.get_by_test_id("folder-name").fill("Shop")
    page.get_by_role("button", name="Create folder").click()
    expect(page.get_by_text("Shop", exact=True)).to_be_visible()
    page.get_by_test_id("flow-row").first.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Duplicate").click()
    expect(page.get_by_test_id("flow-row")).to_have_count(2)
    page.get_by_test_id("flow-search").fill("copy of")
    expect(page.get_by_test_id("flow-row")).to_have_count(1)
    page.get_by_test_id("flow-search").fill("")
    expect(page.get_by_test_id("flow-row")).to_have_count(2)

    # Run it: the HTTP node refuses the loopback address, so the run fails there.
    page.get_by_role("link", name="Price lookup", exact=True).click()
    expect(page.get_by_test_id("flow-name")).to_have_text("Price lookup")
    publish(page)
    expect(page.get_by_test_id("flow-status")).to_have_text("Live v1")
    page.get_by_test_id("test-run").click()
    page.get_by_test_id("run-start").click()
    expect(page.get_by_test_id("run-status")).to_have_text("failed")
    expect(page.get_by_test_id("node-http1")).to_have_attribute("data-status", "failed")
    page.get_by_role("link", name="Debug").click()
    page.wait_for_url(re.compile(r"/executions/\d+/?$"))
    first_run = page.url

    # The debugger opens on the failed step, with its error and its rendered input.
    expect(page.get_by_test_id("execution-status")).to_have_text("failed")
    expect(page.get_by_test_id("current-node")).to_have_text("http1")
    expect(page.get_by_test_id("step-error")).to_contain_text("http1")
    expect(page.get_by_test_id("debug-input")).to_contain_text("127.0.0.1:9")
    expect(node(page, "http1").get_by_test_id("node-http1")).to_have_attribute(
        "data-highlight", "true"
    )
    screenshot(page, "debugger")

    page.get_by_test_id("step-back").click()
    expect(page.get_by_test_id("current-node")).to_have_text("template1")
    expect(page.get_by_test_id("debug-output")).to_contain_text("price of Ada")
    expect(page.get_by_test_id("node-template1")).to_have_attribute("data-highlight", "true")
    expect(page.get_by_test_id("node-http1")).to_have_attribute("data-status", "")
    page.get_by_test_id("step-forward").click()
    expect(page.get_by_test_id("current-node")).to_have_text("http1")

    # Re-run from the failing node: earlier steps are replayed, http1 runs again.
    page.get_by_test_id("rerun").click()
    expect(page.get_by_test_id("rerun-actions")).to_contain_text("Utility: HTTP request (http1)")
    page.get_by_test_id("rerun-confirm").click()
    page.wait_for_url(lambda url: url != first_run and "/executions/" in url)
    expect(page.get_by_test_id("execution-status")).to_have_text("failed")
    expect(page.get_by_test_id("step-counter")).to_have_text("3 / 3")
    expect(page.get_by_test_id("timeline-template1")).to_be_visible()
    expect(page.get_by_test_id("current-node")).to_have_text("http1")

    # Both runs are listed and filterable.
    page.goto(f"{app_url}/executions")
    expect(page.get_by_test_id("execution-row")).to_have_count(2)

    # Back on the flows page: last run and success rate; move and delete the copy.
    page.goto(f"{app_url}/flows")
    expect(page.get_by_test_id("flow-row").filter(has_text="0% of 2")).to_have_count(1)
    copy = page.get_by_test_id("flow-row").filter(has_text="Copy of Price lookup")
    copy.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Move to folder").click()
    page.get_by_test_id("move-folder").click()
    page.get_by_role("option", name="Shop").click()
    page.get_by_test_id("move-confirm").click()
    expect(copy).to_contain_text("Shop")
    expect(page.get_by_role("dialog")).to_have_count(0)
    screenshot(page, "flows")
    copy.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Delete").click()
    page.get_by_test_id("delete-confirm").click()
    expect(page.get_by_test_id("flow-row")).to_have_count(1)
    page.context.close()


WAITING_FLOW = {
    "format": "flowbot.flow",
    "version": 1,
    "name": "Reminder",
    "description": "Waits an hour, then logs",
    "graph": {
        "nodes": [
            {"id": "manual1", "type": "manual", "params": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "wait1",
                "type": "delay",
                "params": {"seconds": 3600},
                "position": {"x": 300, "y": 0},
            },
            {
                "id": "log1",
                "type": "log",
                "params": {"message": "later"},
                "position": {"x": 600, "y": 0},
            },
        ],
        "edges": [
            {"source": "manual1", "target": "wait1"},
            {"source": "wait1", "target": "log1"},
        ],
    },
}


def test_a_waiting_run_is_cancelled_from_the_debugger(browser: Browser, app_url: str) -> None:
    page = new_page(browser, app_url)
    page.goto(f"{app_url}/flows")
    page.get_by_role("button", name="Import").click()
    page.get_by_test_id("import-text").fill(json.dumps(WAITING_FLOW))
    page.get_by_test_id("import-confirm").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Flow imported")
    page.get_by_role("link", name="Reminder", exact=True).click()
    publish(page)
    expect(page.get_by_test_id("flow-status")).to_have_text("Live v1")
    page.get_by_test_id("test-run").click()
    page.get_by_test_id("run-start").click()
    expect(page.get_by_test_id("run-status")).to_have_text("waiting")
    page.get_by_role("link", name="Debug").click()
    page.wait_for_url(re.compile(r"/executions/\d+/?$"))
    expect(page.get_by_test_id("execution-status")).to_have_text("waiting")

    page.get_by_test_id("cancel-run").click()
    expect(page.get_by_test_id("execution-status")).to_have_text("stopped")
    expect(page.get_by_test_id("cancel-run")).to_have_count(0)
    expect(page.get_by_text("Cancelled: no further step runs.")).to_be_visible()
    page.context.close()

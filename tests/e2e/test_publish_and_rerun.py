"""Publishing asks before a flow goes live and one chip says what runs; a re-run names
the real actions it repeats before it starts; the debugger opens where a run failed;
a long flow opens readable (issue 14, items 3, 4 and 6)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import import_flow, new_page, node, publish, set_param


def _document(name: str, graph: dict[str, Any]) -> dict[str, Any]:
    return {"format": "flowbot.flow", "version": 1, "name": name, "graph": graph}


def _chain(*nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": i, "type": t, "params": p, "position": {"x": 300 * n, "y": 0}}
            for n, (i, t, p) in enumerate(nodes)
        ],
        "edges": [{"source": a[0], "target": b[0]} for a, b in zip(nodes, nodes[1:], strict=False)],
    }


PING = _document(
    "Ping",
    _chain(
        ("manual1", "manual", {}),
        ("answer", "template", {"text": "pong {{ trigger.data.name }}"}),
        ("send_reply", "tg_send_message", {"chat_id": "42", "text": "{{ node.answer.text }}"}),
        ("done", "log", {"message": "sent"}),
    ),
)


def _chip(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("flow-status")


def test_publish_asks_to_activate_and_the_chip_says_what_runs(
    browser: Browser, app_url: str
) -> None:
    page = new_page(browser, app_url)
    import_flow(page, app_url, _document("Quiet ping", PING["graph"]))
    expect(_chip(page)).to_have_text("Draft")
    editor = page.url

    # A flow that never ran: publishing asks whether to start it; "Publish only" does not.
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("publish-question")).to_contain_text("never run")
    screenshot(page, "editor-publish")
    page.get_by_test_id("publish-only").click()
    expect(_chip(page)).to_have_text("Paused")
    expect(page.get_by_test_id("activate")).to_be_enabled()
    page.goto(f"{app_url}/flows")
    row = page.get_by_test_id("flow-row").filter(has_text="Quiet ping")
    expect(row.get_by_test_id("flow-chip")).to_have_text("Paused")

    # Paused: asked again; activating makes version 2 live.
    page.goto(editor)
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("publish-question")).to_contain_text("paused")
    page.get_by_test_id("publish-activate").click()
    expect(_chip(page)).to_have_text("Live v2")

    # An edit not published yet shows in the chip, here and on the flows list; it is
    # saved by itself after a pause in editing.
    set_param(page, "answer", "text", "PONG {{ trigger.data.name }}")
    expect(_chip(page)).to_have_text("Live v2 with unpublished changes")
    expect(page.get_by_test_id("clean")).to_be_visible()
    page.goto(f"{app_url}/flows")
    expect(row.get_by_test_id("flow-chip")).to_have_text("Live v2 with unpublished changes")

    # Saved but not published: said after a reload; Discard goes back to version 2.
    page.goto(editor)
    notice = page.get_by_test_id("resume-notice")
    expect(notice).to_contain_text("version 2 is what runs")
    page.get_by_test_id("resume-discard").click()
    expect(_chip(page)).to_have_text("Live v2")
    expect(notice).to_have_count(0)
    node(page, "answer").click()
    expect(page.get_by_test_id("param-text")).to_have_value("pong {{ trigger.data.name }}")

    # An active flow: publishing says which running version it replaces.
    set_param(page, "answer", "text", "pong again")
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("publish-question")).to_contain_text(
        "replaces the running version v2"
    )
    page.get_by_test_id("publish-replace").click()
    expect(_chip(page)).to_have_text("Live v3")
    page.context.close()


def test_debugger_opens_at_the_failure_and_a_rerun_names_what_it_repeats(
    browser: Browser, app_url: str
) -> None:
    page = new_page(browser, app_url)
    import_flow(page, app_url, PING)
    publish(page)
    page.get_by_test_id("test-run").click()
    page.get_by_test_id("run-start").click()
    expect(page.get_by_test_id("run-status")).to_have_text("failed")  # no Telegram bot here

    # A click anywhere on the row opens the execution.
    page.goto(f"{app_url}/executions")
    row = page.get_by_test_id("execution-row").filter(has_text="Ping").first
    row.get_by_text("failed").click()
    page.wait_for_url(re.compile(r"/executions/\d+/?$"))
    first_run = page.url

    # It opens at the failed step; Forward is off at the last step, Back is not.
    expect(page.get_by_test_id("current-node")).to_have_text("send_reply")
    expect(page.get_by_test_id("step-counter")).to_have_text("3 / 3")
    expect(page.get_by_test_id("step-forward")).to_be_disabled()
    page.get_by_test_id("step-back").click()
    expect(page.get_by_test_id("step-forward")).to_be_enabled()

    # Durations are whole on screen, never cut off.
    for duration in page.get_by_test_id("timeline-duration").all():
        expect(duration).to_have_text(re.compile(r"^\d+(\.\d)? (ms|s)$|^\d+ min \d+ s$"))
        assert duration.evaluate("el => el.scrollWidth <= el.clientWidth")

    # Re-run from the template: the dialog names the message it sends again.
    page.get_by_test_id("timeline-answer").click()
    page.get_by_test_id("rerun").click()
    actions = page.get_by_test_id("rerun-actions")
    expect(actions).to_contain_text("Telegram bot: Send message (send_reply)")
    expect(actions).not_to_contain_text("answer")  # a template sends nothing
    screenshot(page, "debugger-rerun")
    page.get_by_role("button", name="Cancel").click()
    expect(actions).to_have_count(0)
    assert page.url == first_run  # cancelled: nothing ran

    page.get_by_test_id("rerun").click()
    page.get_by_test_id("rerun-confirm").click()
    page.wait_for_url(lambda url: url != first_run and "/executions/" in url)
    expect(page.get_by_test_id("execution-status")).to_have_text("failed")
    expect(page.get_by_test_id("current-node")).to_have_text("send_reply")
    page.context.close()


def test_a_ten_node_flow_opens_readable(browser: Browser, app_url: str) -> None:
    steps = [("manual1", "manual", {})] + [
        (f"step{n}", "template", {"text": f"part {n}"}) for n in range(1, 10)
    ]
    page = new_page(browser, app_url)
    import_flow(page, app_url, _document("Ten steps", _chain(*steps)))
    expect(node(page, "step9")).to_have_count(1)
    page.wait_for_timeout(500)  # the first framing runs once the nodes are measured
    zoom = page.locator(".react-flow__viewport").evaluate(
        "el => new DOMMatrixReadOnly(getComputedStyle(el).transform).a"
    )
    assert zoom >= 0.8, f"opened at zoom {zoom}: node labels too small to read"
    expect(node(page, "manual1")).to_be_in_viewport()  # a long flow starts at its trigger
    label = node(page, "step1").get_by_text("Template", exact=True)
    size = label.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert size * zoom >= 10
    screenshot(page, "editor-ten-nodes")
    page.context.close()

"""The editor's header at common laptop widths: the longest status chip never pushes a
button out of view or cuts its label ("Pa…" at 1400 px, issue 14 audit)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.e2e.flow_ui import import_flow, new_page, publish, set_param

LONG_CHIP = "Live v1 with unpublished changes"

FLOW = {
    "format": "flowbot.flow",
    "version": 1,
    "name": "Welcome every new member of the community",
    "graph": {
        "nodes": [
            {"id": "manual1", "type": "manual", "params": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "note",
                "type": "log",
                "params": {"message": "hi"},
                "position": {"x": 300, "y": 0},
            },
        ],
        "edges": [{"source": "manual1", "target": "note"}],
    },
}

# Each control of the header, whole: inside the window and the header, and its text not
# cut (a shrunk button hides the end of its label behind overflow).
CLIPPED = """header => {
    const box = header.getBoundingClientRect();
    return [...header.querySelectorAll('[data-testid="editor-actions"] button')]
        .filter(el => el.offsetParent !== null)
        .filter(el => {
            const r = el.getBoundingClientRect();
            return r.left < box.left || r.right > Math.min(box.right, window.innerWidth)
                || r.bottom > box.bottom || el.scrollWidth > el.clientWidth;
        })
        .map(el => el.textContent || el.getAttribute('aria-label'));
}"""


def _header(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("editor-actions").locator("xpath=..")


def test_every_header_button_is_whole_beside_the_longest_chip(
    browser: Browser, app_url: str, tmp_path: Path
) -> None:
    page = new_page(browser, app_url)
    import_flow(page, app_url, FLOW)
    publish(page)
    set_param(page, "note", "message", "hello")
    chip = page.get_by_test_id("flow-status")
    expect(chip).to_have_text(LONG_CHIP)
    expect(page.get_by_test_id("pause")).to_be_visible()

    for width in (1400, 1280, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_function(f"window.innerWidth === {width}")
        page.screenshot(path=str(tmp_path / f"header-{width}.png"))
        assert _header(page).evaluate(CLIPPED) == [], width
        assert chip.evaluate("el => el.getBoundingClientRect().right") <= width
        # The name and state stay in their own column: nothing runs on under the buttons.
        title = page.get_by_test_id("editor-title")
        sizes = title.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert sizes[0] <= sizes[1], (width, sizes)

    # Cut short or not, the chip says the whole state when pointed at.
    chip.hover()
    expect(page.get_by_role("tooltip")).to_have_text(LONG_CHIP)
    page.context.close()

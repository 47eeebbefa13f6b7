"""Every page of the app, built as Reflex builds it, without a browser: each protected
page runs the sign-in guard before its loader, and every test id the browser tests look
for is one a page (or the flow canvas) renders, so a renamed id fails here first."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flowbot_ui.flowbot_ui as app_module
from flowbot_ui.state.auth import AuthState

ROOT = Path(__file__).resolve().parents[2]
PAGES = app_module.app._unevaluated_pages
PUBLIC = {"login", "setup"}


def _strings(tree: Any) -> Iterator[str]:
    if isinstance(tree, str):
        yield tree
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from _strings(value)
    elif isinstance(tree, list | tuple):
        for value in tree:
            yield from _strings(value)


def _rendered_ids() -> tuple[set[str], set[str]]:
    """The test ids the pages and the canvas render: (whole ids, prefixes of built ones).
    An id a page reads from its state's data (the dashboard's steps) counts when that data
    holds it as a string literal in the app's code."""
    text = [s for page in PAGES.values() for s in _strings(page.component().render())]
    props = "\n".join(text)
    whole = set(re.findall(r'"data-testid":"([^"]+)"', props))
    built = set(re.findall(r'"data-testid":\("([^"]+)"\+', props))
    if re.search(r'"data-testid":[a-z_]+_rx_state_', props):
        for path in (ROOT / "flowbot_ui").rglob("*.py"):
            whole |= set(re.findall(r'"([a-z0-9]+(?:-[a-z0-9]+)+)"', path.read_text()))
    canvas = (ROOT / "flowbot_ui/components/flow_canvas.jsx").read_text()
    whole |= set(re.findall(r'data-testid="([^"]+)"', canvas))
    built |= set(re.findall(r"data-testid=\{`([^`$]+)\$\{", canvas))
    return whole, built


def _ids_the_browser_tests_use() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "tests/e2e").glob("*.py"):
        found |= set(re.findall(r'get_by_test_id\("([a-z0-9-]+)"\)', path.read_text()))
    return found


def test_every_protected_page_runs_the_guard_first() -> None:
    assert len(PAGES) > 25
    for route, page in PAGES.items():
        handlers = page.on_load if isinstance(page.on_load, list) else [page.on_load]
        first = handlers[0].fn
        wanted = AuthState.guard_public if route in PUBLIC else AuthState.guard
        assert first is wanted.fn, route


def test_every_test_id_the_browser_tests_use_is_rendered() -> None:
    whole, built = _rendered_ids()
    assert {"sidebar", "current-user", "form-error"} <= whole
    wanted = _ids_the_browser_tests_use()
    assert len(wanted) > 100
    missing = sorted(
        t for t in wanted if t not in whole and not any(t.startswith(p) for p in built)
    )
    assert missing == []

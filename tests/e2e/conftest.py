"""Browser-test fixtures: one Flowbot server per module and Debian's Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, ROOT, flowbot_server, free_port

SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(autouse=True)
def isolated_settings() -> None:
    """Browser tests talk to a server process; the unit tests' env isolation is not needed."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: Playwright's sync API keeps an event loop running while it is started,
    which asyncio tests collected after the browser tests could not share."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("flowbot-data")


@pytest.fixture(scope="session")
def server_port() -> int:
    """One port for every module's server: the built pages name it (the public URL), so with
    the same port each module reuses the first build (flowbot/frontend_build.py) instead of
    spending a minute or more building the same pages again."""
    return free_port()


@pytest.fixture(scope="module")
def app_url(server_data: Path, server_port: int) -> Iterator[str]:
    with flowbot_server(server_data, server_port, server_data.parent / "server.log") as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    leave_when_asked(page)
    yield page
    context.close()


def leave_when_asked(page: Page) -> None:
    """The editor asks before a page with unsaved edits is left (beforeunload): a test
    going elsewhere answers "Leave", as a person would. Other dialogs stay dismissed."""
    page.on(
        "dialog",
        lambda dialog: dialog.accept() if dialog.type == "beforeunload" else dialog.dismiss(),
    )


def screenshot(page: Page, name: str) -> Path:
    """Saved as the page will look: dialogs' opening fades are run to their end (taken at
    once, the publish, re-run and templates dialogs were caught half transparent)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path

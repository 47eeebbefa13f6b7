"""A new admin builds the /ping flow from the gallery in under ten clicks, and it answers.

The server runs its embedded connectors against a fake Telegram (and a fake Discord, so
the pickers have something to leave out) served from this test process. Nothing is seeded
but the first admin and the two connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import new_page
from tests.e2e.server import flowbot_server
from tests.e2e.test_community_journey import Fakes, add_connections
from tests.fakes import TELEGRAM_CHAT_ID

ANN_ID = 5501


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    running = Fakes()
    running.telegram.add_user(ANN_ID, first_name="Ann")
    running.discord.add_guild()
    running.run(running.telegram.start)
    running.run(running.discord.start)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def app_url(server_data: Path, server_port: int) -> Iterator[str]:
    """The server with a short reconcile period: the connections added straight into its
    database start within a second, not the default 30."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FLOWBOT_RECONCILE_SECONDS", "1")
        with flowbot_server(server_data, server_port, server_data.parent / "server.log") as url:
            yield url


class Clicks:
    """The admin's clicks, counted."""

    def __init__(self, page: Page) -> None:
        self.page, self.count = page, 0

    def on(self, target: Locator) -> None:
        target.click()
        self.count += 1


def test_ping_from_a_template_answers_on_telegram(
    browser: Browser, app_url: str, server_data: Path, fakes: Fakes
) -> None:
    page = new_page(browser, app_url)
    add_connections(server_data, fakes)
    fakes.run(lambda: fakes.telegram.wait_for_call("getUpdates", timeout=30), timeout=40)
    page.goto(f"{app_url}/flows")
    clicks = Clicks(page)

    clicks.on(page.get_by_test_id("new-flow"))
    expect(page.get_by_test_id("template-gallery")).to_be_visible()
    screenshot(page, "flow-templates")
    clicks.on(page.get_by_test_id("template-ping"))
    picker = page.get_by_test_id("pick-telegram")  # the only Telegram bot, already picked
    expect(picker).to_contain_text("Photo club bot")
    picker.click()  # a look, not a step the admin needs: only Telegram bots are offered
    expect(page.get_by_role("option")).to_have_count(1)  # the Discord bot is not offered
    page.keyboard.press("Escape")
    screenshot(page, "flow-template-pickers")
    clicks.on(page.get_by_test_id("template-create"))
    expect(page.get_by_test_id("flow-name")).to_have_text("/ping → pong")
    expect(page.get_by_test_id("flow-canvas")).to_be_visible()

    clicks.on(page.get_by_test_id("publish"))
    expect(page.get_by_test_id("publish-question")).to_be_visible()
    clicks.on(page.get_by_test_id("publish-activate"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert clicks.count < 10, clicks.count

    fakes.call(fakes.telegram.push_command, "ping", user_id=ANN_ID)
    reply = fakes.run(lambda: fakes.telegram.wait_for_call("sendMessage", timeout=30), timeout=40)
    assert reply.params["text"] == "pong Ann"
    assert reply.params["chat_id"] == TELEGRAM_CHAT_ID

"""Node settings name real things: a connection and a chat are picked by name (the node's
platform only), and the test run is a form of the trigger's example event. The run's
message arrives at the fake Telegram through the real connector."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from engine.models import AdminUser
from engine.services import connections
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import (
    ADMIN,
    connect,
    create_flow,
    drop_node,
    new_page,
    node,
    server_db,
    set_param,
)
from tests.e2e.server import flowbot_server
from tests.e2e.test_community_journey import SECRET_KEY, TG_TOKEN, Fakes, discovered, wait_for

DISCORD_TOKEN = "MTA" + "a" * 21 + ".GbCdEf." + "z" * 27
GROUP_ID = -1_001_555_000_222
ANN_ID = 5502


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    running = Fakes()
    running.telegram.add_chat(GROUP_ID, "supergroup", "Photo walks")
    running.telegram.add_user(ANN_ID, first_name="Ann", username="ann_shoots")
    running.run(running.telegram.start)
    running.run(running.discord.start)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def app_url(server_data: Path, server_port: int) -> Iterator[str]:
    """Connections added straight into the database start within a second."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FLOWBOT_RECONCILE_SECONDS", "1")
        with flowbot_server(server_data, server_port, server_data.parent / "server.log") as url:
            yield url


def _add_connections(data_dir: Path, fakes: Fakes) -> None:
    """A Telegram bot at the fake, and a paused Discord bot the Telegram nodes must not offer."""
    previous = os.environ.get("FLOWBOT_SECRET_KEY")
    os.environ["FLOWBOT_SECRET_KEY"] = SECRET_KEY
    try:
        with server_db(data_dir) as session:
            admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
            connections.add_connection(
                session, admin, "telegram_bot", "Photo club bot", credential=TG_TOKEN,
                settings={"api_base_url": fakes.telegram.base_url, "poll_timeout": 1},
            )  # fmt: skip
            discord = connections.add_connection(
                session, admin, "discord_bot", "Guild bot", credential=DISCORD_TOKEN
            )
            connections.set_active(session, admin, discord.id or 0, False)
    finally:
        if previous is None:
            os.environ.pop("FLOWBOT_SECRET_KEY", None)
        else:
            os.environ["FLOWBOT_SECRET_KEY"] = previous


def _choose(page: Page, picker: str, name: str) -> None:
    page.get_by_test_id(picker).click()
    page.get_by_role("option", name=re.compile(re.escape(name))).click()


def test_pick_a_connection_and_chat_then_run_the_test_form(
    browser: Browser, app_url: str, server_data: Path, fakes: Fakes
) -> None:
    page = new_page(browser, app_url)
    _add_connections(server_data, fakes)
    wait_for("the Telegram bot polls", lambda: bool(fakes.telegram.calls_to("getUpdates")))
    bot_id = fakes.telegram.me["id"]
    fakes.call(
        fakes.telegram.push_chat_member, bot_id, chat_id=GROUP_ID, new_status="administrator"
    )
    wait_for("the group is discovered", lambda: discovered(server_data, str(GROUP_ID)))

    create_flow(page, app_url, "Pinger")
    drop_node(page, "tg_command", 40, 100)
    drop_node(page, "tg_send_message", 320, 260)
    connect(page, "tg_command1", "tg_send_message1")
    set_param(page, "tg_command1", "command", "ping")

    node(page, "tg_send_message1").click()
    form = page.get_by_test_id("param-form")
    expect(form.get_by_text("Connection", exact=True)).to_be_visible()
    page.get_by_test_id("pick-instance_id").click()
    options = page.get_by_role("option")
    expect(options.filter(has_text="Photo club bot")).to_contain_text("ID 1 · Telegram bot")
    expect(options.filter(has_text="Guild bot")).to_have_count(0)  # a Discord bot
    options.filter(has_text="Photo club bot").click()
    expect(page.get_by_test_id("pick-instance_id")).to_contain_text("Photo club bot")

    # The chat: picked from the ones this bot is in; its id stays typeable.
    expect(page.get_by_test_id("param-chat_id")).to_have_value("{{trigger.chat.id}}")
    _choose(page, "pick-chat_id", "Photo walks")
    expect(page.get_by_test_id("param-chat_id")).to_have_value(str(GROUP_ID))

    # "Insert a value…" offers the trigger's own fields, each valid as written.
    text = page.get_by_test_id("param-text")
    text.fill("pong ")
    text.blur()
    expect(text).to_have_value("pong ")
    page.get_by_test_id("hint-text").click()
    hints = page.get_by_role("option")
    expect(hints.filter(has_text="trigger.chat.guild_id")).to_have_count(0)  # Discord's
    hints.filter(has_text="{{ trigger.user.first_name }}").click()
    expect(text).to_have_value("pong {{ trigger.user.first_name }}")
    expect(page.get_by_test_id("problems")).to_contain_text("No problems")
    page.get_by_test_id("pick-instance_id").scroll_into_view_if_needed()
    screenshot(page, "editor-node-pickers")

    # The test run is a form of the example event; its connection is the real bot.
    page.get_by_test_id("test-run").click()
    expect(page.get_by_test_id("run-field-instance_id")).to_contain_text("Photo club bot")
    page.get_by_test_id("run-field-text").fill("/ping")
    page.get_by_test_id("run-field-user.first_name").fill("Ann")
    page.get_by_test_id("run-field-user.id").fill(str(ANN_ID))
    page.get_by_test_id("run-field-instance_id").scroll_into_view_if_needed()
    screenshot(page, "editor-test-run-form")
    page.get_by_test_id("run-raw").click()
    expect(page.get_by_test_id("run-payload")).to_contain_text('"first_name": "Ann"')
    page.get_by_test_id("run-raw").click()
    expect(page.get_by_test_id("run-field-user.first_name")).to_have_value("Ann")
    page.get_by_test_id("run-start").click()
    expect(page.get_by_test_id("run-status")).to_have_text("succeeded")

    sent = [call.params for call in fakes.telegram.calls_to("sendMessage")]
    assert [(str(p.get("chat_id")), p.get("text")) for p in sent] == [(str(GROUP_ID), "pong Ann")]

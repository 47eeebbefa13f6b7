"""An admin's first community, end to end: real connectors on the fake Telegram and Discord.

The server runs its embedded connectors against fake platforms served from this test
process. Nothing is seeded but the two connections: the chats are discovered by the
connectors, the members come from joins injected at the fakes, and every action the admin
takes in the browser goes out through the real client libraries.

Create a community, attach a Telegram group and a Discord channel (its server comes along),
turn on the welcome message, see both members appear after their joins (and the welcome
arrive at the fake Telegram), warn one from the member page, find the entry in the
moderation log, and link the two accounts into one person.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from engine.models import AdminUser, Chat
from engine.services import connections
from tests.e2e.flow_ui import ADMIN, new_page, server_db
from tests.e2e.server import flowbot_server
from tests.fakes import discord_objects as dc
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram_bot_api import FakeTelegramBotAPI

T = TypeVar("T")
TG_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDjour"
GROUP_ID = -1_001_555_000_111
GUILD_ID, CHANNEL_ID = 720_000_000_000_000_001, 720_000_000_000_000_002
ANN_ID, BOB_ID = 5501, 730_000_000_000_000_003
SECRET_KEY = "e2e-secret-key"  # the server's (tests/e2e/server.py): the token must decrypt


class Fakes:
    """Fake Telegram and Discord on an event loop in a thread of their own: Playwright's
    sync API holds the test thread's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.telegram = FakeTelegramBotAPI(TG_TOKEN, bot_username="photo_club_bot")
        self.discord = FakeDiscord()

    def run(self, make: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
        async def wrapped() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A fake's plain method, run on its loop (injection wakes its long polls)."""

        async def on_loop() -> T:
            return fn(*args, **kwargs)

        return self.run(on_loop)

    def stop(self) -> None:
        self.run(self.telegram.stop)
        self.run(self.discord.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    running = Fakes()
    running.telegram.add_chat(GROUP_ID, "supergroup", "Photo walks")
    running.telegram.add_user(ANN_ID, first_name="Ann", username="ann_shoots")
    running.discord.add_guild(GUILD_ID, "Photo server", channel_ids=(CHANNEL_ID,))
    running.discord.user(BOB_ID, "bob_frames")
    running.run(running.telegram.start)
    running.run(running.discord.start)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def app_url(server_data: Path, server_port: int) -> Iterator[str]:
    """The server with a short reconcile period: connections added straight into its
    database start within a second, not the default 30."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FLOWBOT_RECONCILE_SECONDS", "1")
        with flowbot_server(server_data, server_port, server_data.parent / "server.log") as url:
            yield url


def add_connections(data_dir: Path, fakes: Fakes) -> None:
    """The two bots, as the Connections page would add them, pointed at the fakes."""
    previous = os.environ.get("FLOWBOT_SECRET_KEY")
    os.environ["FLOWBOT_SECRET_KEY"] = SECRET_KEY
    try:
        with server_db(data_dir) as session:
            admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
            connections.add_connection(
                session, admin, "telegram_bot", "Photo club bot", credential=TG_TOKEN,
                settings={"api_base_url": fakes.telegram.base_url, "poll_timeout": 1},
            )  # fmt: skip
            connections.add_connection(
                session, admin, "discord_bot", "Photo server bot",
                credential=fakes.discord.token, settings={"api_base_url": fakes.discord.rest_url},
            )  # fmt: skip
    finally:
        if previous is None:
            os.environ.pop("FLOWBOT_SECRET_KEY", None)
        else:
            os.environ["FLOWBOT_SECRET_KEY"] = previous


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.3)


def discovered(data_dir: Path, *chat_ids: str) -> bool:
    with server_db(data_dir) as session:
        found = session.exec(select(Chat.platform_chat_id)).all()
    return set(chat_ids) <= set(found)


def reload_until_listed(page: Page, *names: str, timeout: float = 60) -> None:
    """Members arrive through the worker; the page shows them on its next load."""
    deadline = time.monotonic() + timeout
    rows = page.get_by_test_id("member-row")
    while not all(rows.filter(has_text=name).count() for name in names):
        if time.monotonic() > deadline:
            for name in names:
                expect(rows.filter(has_text=name)).to_have_count(1)
        page.wait_for_timeout(500)
        page.reload()
        page.wait_for_load_state("networkidle")


def test_first_community_from_discovery_to_one_person(
    browser: Browser, app_url: str, server_data: Path, fakes: Fakes
) -> None:
    page = new_page(browser, app_url)
    add_connections(server_data, fakes)

    # The bot is made an admin of the Telegram group; the Discord bot sees its server.
    bot_id = fakes.telegram.me["id"]
    wait_for("the Telegram bot polls", lambda: bool(fakes.telegram.calls_to("getUpdates")))
    fakes.call(
        fakes.telegram.push_chat_member, bot_id, chat_id=GROUP_ID, new_status="administrator"
    )
    wait_for(
        "both platforms' chats discovered",
        lambda: discovered(server_data, str(GROUP_ID), str(GUILD_ID), str(CHANNEL_ID)),
    )

    # A community with the group and the channel, and a welcome message.
    page.get_by_test_id("nav-communities").click()
    page.get_by_test_id("new-community").click()
    dialog = page.get_by_test_id("create-dialog")
    dialog.locator("input[name=name]").fill("Photography club")
    dialog.get_by_role("button", name="Create community").click()
    page.wait_for_url(re.compile(r"/communities/\d+/?$"))
    community_url = page.url.rstrip("/")

    page.get_by_test_id("add-chats").click()
    picker = page.get_by_test_id("picker-dialog")
    picker.get_by_role("checkbox", name="Attach Photo walks").click()
    picker.get_by_role("checkbox", name=f"Attach general-{CHANNEL_ID}").click()
    picker.get_by_test_id("attach-chats").click()
    expect(page.get_by_test_id("attached-chat")).to_have_count(3)  # the server came along

    page.get_by_test_id("tab-rules").click()
    page.get_by_test_id("switch-welcome.enabled").click()
    page.get_by_test_id("save-rules").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("saved")

    # Ann joins the group, Bob the server: both become members; Ann is welcomed.
    fakes.call(fakes.telegram.push_chat_member, ANN_ID, chat_id=GROUP_ID)
    member = {**dc.member(fakes.discord.user(BOB_ID)), "guild_id": str(GUILD_ID)}
    fakes.run(lambda: fakes.discord.dispatch("GUILD_MEMBER_ADD", member))
    wait_for(
        "the welcome message at the fake Telegram",
        lambda: any(
            "Welcome, Ann" in str(call.params.get("text"))
            for call in fakes.telegram.calls_to("sendMessage")
        ),
    )
    page.goto(f"{community_url}/members")
    # Attaching also backfilled who the platforms list (the group's admins, the server's
    # members); Ann and Bob come from their joins.
    reload_until_listed(page, "Ann", "bob_frames")

    # Warn Ann from her member page; the warning is in the moderation log.
    page.get_by_test_id("member-row").filter(has_text="Ann").get_by_role("link").first.click()
    expect(page.get_by_test_id("member-name")).to_contain_text("Ann")
    page.get_by_test_id("action-warn").click()
    page.get_by_test_id("action-reason").fill("off-topic selling")
    page.get_by_test_id("action-confirm").click()
    expect(page.get_by_test_id("result-summary")).to_contain_text("Warned")
    page.get_by_test_id("nav-moderation").click()
    entry = page.get_by_test_id("log-row").filter(has_text="off-topic selling")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("Ann")

    # Ann on Telegram and Bob on Discord are one person.
    page.get_by_test_id("nav-accounts").click()
    for name in ("ann_shoots", "bob_frames"):
        account = page.get_by_test_id("account-row").filter(has_text=name)
        account.get_by_test_id("account-select").click()
    page.get_by_test_id("link-selected").click()
    page.get_by_label("Name").fill("Ann B.")
    page.get_by_role("button", name="Link", exact=True).click()
    drawer = page.get_by_test_id("person-drawer")
    expect(drawer.get_by_test_id("person-name")).to_have_text("Ann B.")
    expect(drawer.get_by_test_id("person-account")).to_have_count(2)

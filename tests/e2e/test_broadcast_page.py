"""An announcement to a community, from the composer to the report, on real connectors
and fake platforms.

The server runs its embedded connectors and worker against the fake Telegram and Discord
of the community journey (tests/e2e/test_community_journey.py). The two chats are
discovered by the connectors and attached to a community through the service; the admin
then writes the broadcast in the browser, sees it per platform, sends it, watches the
progress bar reach 100 % and reads the report, while the fakes receive one message each.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from playwright.sync_api import Browser, expect
from sqlmodel import select

from engine.models import AdminUser, Chat
from engine.services import communities
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import ADMIN, VIEWPORT, new_page, server_db
from tests.e2e.test_community_journey import (  # the same fakes and server
    CHANNEL_ID,
    GROUP_ID,
    GUILD_ID,
    Fakes,
    add_connections,
    app_url,  # noqa: F401 - fixture
    discovered,
    fakes,  # noqa: F401 - fixture
    wait_for,
)

TEXT = "**Photo walk** on _Saturday_ at 10:00\nMeet at the [old bridge](https://example.org/bridge)"


def community_with_both_chats(data_dir: Path) -> None:
    """The Telegram group and the Discord channel (its server comes along) in one community."""
    with server_db(data_dir) as session:
        admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
        community = communities.create_community(session, admin, "Photography club", "")
        chats = session.exec(
            select(Chat.id).where(Chat.platform_chat_id.in_([str(GROUP_ID), str(CHANNEL_ID)]))  # type: ignore[attr-defined]
        ).all()
        communities.attach_chats(session, admin, community.id or 0, [c for c in chats if c])


def chats_connected(server_data: Path, running: Fakes) -> None:
    add_connections(server_data, running)
    wait_for("the Telegram bot polls", lambda: bool(running.telegram.calls_to("getUpdates")))
    running.call(
        running.telegram.push_chat_member,
        running.telegram.me["id"],
        chat_id=GROUP_ID,
        new_status="administrator",
    )
    wait_for(
        "both platforms' chats discovered",
        lambda: discovered(server_data, str(GROUP_ID), str(GUILD_ID), str(CHANNEL_ID)),
    )
    community_with_both_chats(server_data)


def test_compose_preview_send_and_report(
    browser: Browser,
    app_url: str,  # noqa: F811 - the fixture imported above
    server_data: Path,
    fakes: Fakes,  # noqa: F811 - the fixture imported above
) -> None:
    page = new_page(browser, app_url)
    chats_connected(server_data, fakes)

    page.get_by_test_id("nav-broadcast").click()
    expect(page.get_by_test_id("empty-state")).to_contain_text("No broadcasts yet")
    page.get_by_test_id("new-broadcast").click()
    page.wait_for_url(re.compile(r"/broadcast/new/?$"))

    # Compose: the text, one link button, the community; the chats are counted live.
    page.get_by_test_id("broadcast-title-input").fill("Saturday walk")
    page.get_by_test_id("broadcast-text").fill(TEXT)
    page.get_by_test_id("add-button").click()
    page.get_by_label("Button text").fill("Sign up")
    page.get_by_label("Button link").fill("https://example.org/signup")
    page.get_by_role("checkbox", name="Photography club").click()
    expect(page.get_by_test_id("target-summary")).to_have_text("2 chats: 1 Telegram, 1 Discord")

    # The preview per platform, formatted as each app shows it.
    telegram = page.get_by_test_id("preview-telegram")
    expect(telegram.locator("b")).to_have_text("Photo walk")
    expect(telegram.locator("a")).to_have_attribute("href", "https://example.org/bridge")
    page.get_by_test_id("preview-tab-discord").click()
    expect(page.get_by_test_id("preview-discord").locator("strong")).to_have_text("Photo walk")
    page.get_by_test_id("preview-tab-whatsapp").click()
    whatsapp = page.get_by_test_id("preview-whatsapp")
    expect(whatsapp).to_contain_text("old bridge (https://example.org/bridge)")
    page.get_by_test_id("preview-tab-telegram").click()
    page.set_viewport_size({"width": 1400, "height": 1300})  # the whole composer
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "broadcast-compose")
    page.set_viewport_size(VIEWPORT)

    # Send now: the report follows the delivery to 100 %, every chat sent.
    page.get_by_test_id("send-now").click()
    page.wait_for_url(re.compile(r"/broadcast/\d+/?$"))
    expect(page.get_by_test_id("percent")).to_have_text("100 %", timeout=60_000)
    expect(page.get_by_test_id("report-status")).to_have_text("Sent")
    expect(page.get_by_test_id("count-sent")).to_have_text("2")
    expect(page.get_by_test_id("count-failed")).to_have_text("0")
    rows = page.get_by_test_id("target-row")
    expect(rows).to_have_count(2)
    expect(rows.get_by_test_id("target-status")).to_have_text(["Sent", "Sent"])
    screenshot(page, "broadcast-report")

    # One message per chat at the fakes, formatted for each platform.
    to_group = [
        c
        for c in fakes.telegram.calls_to("sendMessage")
        if str(c.params.get("chat_id")) == str(GROUP_ID) and "Photo walk" in str(c.params)
    ]
    assert len(to_group) == 1
    assert "<b>Photo walk</b>" in str(to_group[0].params.get("text"))
    to_channel = fakes.discord.calls_to("POST", f"/channels/{CHANNEL_ID}/messages")
    assert len(to_channel) == 1
    assert "**Photo walk**" in str(to_channel[0].json)

    # The history lists it with its totals.
    page.get_by_test_id("nav-broadcast").click()
    row = page.get_by_test_id("broadcast-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("broadcast-title")).to_have_text("Saturday walk")
    expect(row.get_by_test_id("broadcast-status")).to_have_text("Sent")

    # A second one, scheduled for tomorrow in the viewer's time zone, then cancelled.
    page.get_by_test_id("new-broadcast").click()
    page.wait_for_url(re.compile(r"/broadcast/new/?$"))
    page.get_by_test_id("broadcast-text").fill("Next week's walk: the old harbour")
    page.get_by_role("checkbox", name="Photography club").click()
    expect(page.get_by_test_id("target-summary")).to_have_text("2 chats: 1 Telegram, 1 Discord")
    page.get_by_test_id("schedule").click()
    tomorrow = datetime.now() + timedelta(days=1)
    page.get_by_test_id("schedule-at").fill(tomorrow.strftime("%Y-%m-%dT10:00"))
    page.get_by_role("button", name="Schedule", exact=True).click()
    page.wait_for_url(re.compile(r"/broadcast/\d+/?$"))
    expect(page.get_by_test_id("report-status")).to_have_text("Scheduled")
    expect(page.get_by_test_id("count-pending")).to_have_text("2")
    expect(page.get_by_test_id("scheduled-for")).to_contain_text(
        tomorrow.strftime("%Y-%m-%d") + " 10:00"
    )
    page.get_by_test_id("cancel-broadcast").click()
    expect(page.get_by_test_id("report-status")).to_have_text("Cancelled")
    expect(page.get_by_test_id("count-cancelled")).to_have_text("2")
    assert len(fakes.discord.calls_to("POST", f"/channels/{CHANNEL_ID}/messages")) == 1

    # A draft: refused when sent without chats, kept as typed, listed, opened again with
    # its text, and deleted.
    page.get_by_test_id("nav-broadcast").click()
    page.get_by_test_id("new-broadcast").click()
    page.wait_for_url(re.compile(r"/broadcast/new/?$"))
    page.get_by_test_id("broadcast-text").fill("Ideas for January: _night_ photography")
    page.get_by_test_id("send-now").click()  # no chats yet: refused, nothing typed is lost
    expect(page.get_by_test_id("form-error")).to_contain_text("No chat to send to")
    expect(page.get_by_test_id("broadcast-text")).to_have_value(
        "Ideas for January: _night_ photography"
    )
    page.get_by_test_id("save-draft").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Draft saved")
    page.get_by_test_id("nav-broadcast").click()
    draft = page.get_by_test_id("broadcast-row").filter(has_text="Ideas for January")
    expect(draft.get_by_test_id("broadcast-status")).to_have_text("Draft")
    draft.get_by_test_id("broadcast-title").click()
    page.wait_for_url(re.compile(r"/broadcast/\d+/edit/?$"))
    expect(page.get_by_test_id("broadcast-text")).to_have_value(
        "Ideas for January: _night_ photography"
    )
    expect(page.get_by_test_id("preview-telegram").locator("i")).to_have_text("night")
    page.get_by_test_id("delete-draft").click()
    page.get_by_test_id("confirm-delete").click()
    page.wait_for_url(re.compile(r"/broadcast/?$"))
    expect(page.get_by_test_id("broadcast-row")).to_have_count(2)

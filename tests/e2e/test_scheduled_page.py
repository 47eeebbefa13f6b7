"""The Scheduled page in the browser: schedule a repeating message to a discovered chat,
see the cron in words and its next 5 times while typing (with a mistake shown first), in the
chosen zone and the browser's, save it into the agenda, pause and resume it, see its
(empty) delivery history, and cancel it."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, expect

from engine.models import Chat
from engine.services.scheduled_messages import next_runs
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import new_page, server_db

BROWSER_ZONE = "America/New_York"


def seed(data_dir: Path) -> None:
    """Chats the connections discovered; a Discord server itself is not offered."""
    with server_db(data_dir) as session:
        session.add_all(
            [
                Chat(platform="telegram", platform_chat_id="-1001", title="Photo walks",
                     type="supergroup"),
                Chat(platform="discord", platform_chat_id="g1", title="Photo server",
                     type="guild"),
                Chat(platform="discord", platform_chat_id="c1", title="general", type="text",
                     parent_chat_id="g1"),
            ]
        )  # fmt: skip


def test_schedule_a_cron_message_and_pause_it(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    page = new_page(browser, app_url)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setTimezoneOverride", {"timezoneId": BROWSER_ZONE})
    seed(server_data)

    page.get_by_test_id("nav-scheduled").click()
    expect(page.get_by_test_id("empty-state")).to_contain_text("Nothing scheduled")
    expect(page.get_by_test_id("viewer-zone")).to_have_text(f"Times in {BROWSER_ZONE}")

    page.get_by_test_id("new-scheduled").click()
    dialog = page.get_by_test_id("scheduled-dialog")
    dialog.get_by_test_id("chat-picker").click()
    expect(page.get_by_role("option")).to_have_count(2)
    page.get_by_role("option", name="Photo walks · telegram").click()
    dialog.locator("input[name=title]").fill("Weekly walk")
    dialog.get_by_test_id("scheduled-text").fill("**Photo walk** on Saturday, meet at the bridge")
    dialog.get_by_test_id("mode-repeat").click()
    expect(dialog.get_by_test_id("time-zone")).to_have_value(BROWSER_ZONE)

    cron = dialog.get_by_test_id("cron-input")
    cron.press_sequentially("0 9 * *", delay=30)
    expect(dialog.get_by_test_id("cron-error")).to_contain_text("is not a cron schedule")
    cron.press_sequentially(" SAT", delay=30)
    expect(dialog.get_by_test_id("cron-error")).to_have_count(0)
    expect(dialog.get_by_test_id("cron-description")).to_have_text("At 09:00 AM, only on Saturday")
    runs = dialog.get_by_test_id("cron-next-run")
    expect(runs).to_have_count(5)
    expect(runs.first).to_contain_text(f"09:00 ({BROWSER_ZONE})")

    dialog.get_by_test_id("time-zone").fill("Europe/Berlin")
    expect(runs.first).to_contain_text("09:00 (Europe/Berlin) · Sat")
    expect(runs.first).to_contain_text("your time")
    for index in range(5):
        expect(runs.nth(index)).to_contain_text("Sat")
    screenshot(page, "scheduled-new")

    dialog.get_by_test_id("save-scheduled").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("form-message")).to_have_text("Scheduled.")
    card = page.get_by_test_id("scheduled-card")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("scheduled-repeats")).to_have_text(
        "Repeats: At 09:00 AM, only on Saturday (Europe/Berlin)"
    )
    expect(card.get_by_test_id("scheduled-chat")).to_have_text("Photo walks")
    expect(card.get_by_test_id("scheduled-preview")).to_have_text(
        "Photo walk on Saturday, meet at the bridge"  # as a reader sees it
    )
    first = next_runs("0 9 * * SAT", "Europe/Berlin")[0].astimezone(ZoneInfo(BROWSER_ZONE))
    expect(card.get_by_test_id("scheduled-time")).to_have_text(f"{first:%H:%M}")
    expect(card.get_by_test_id("scheduled-status")).to_have_text("pending")
    expect(page.get_by_test_id("agenda-day")).to_have_count(1)

    card.get_by_test_id("pause-scheduled").click()
    expect(card.get_by_test_id("scheduled-status")).to_have_text("paused")
    expect(page.get_by_test_id("form-message")).to_have_text("Paused.")
    screenshot(page, "scheduled")
    card.get_by_test_id("resume-scheduled").click()
    expect(card.get_by_test_id("scheduled-status")).to_have_text("pending")

    card.get_by_test_id("history-scheduled").click()
    expect(page.get_by_text("Not sent yet.")).to_be_visible()
    page.keyboard.press("Escape")

    card.get_by_test_id("cancel-scheduled").click()
    page.get_by_test_id("confirm-cancel").click()
    expect(page.get_by_test_id("scheduled-card")).to_have_count(0)
    expect(page.get_by_test_id("form-message")).to_have_text("Cancelled.")

"""The Communities pages in the browser: create a community, attach chats from two
platforms through the picker (a Discord channel brings its server), set rules with a
field error shown in place, then delete with the typed-name confirmation."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, expect
from sqlmodel import select

from engine.community_rules import parse_rules
from engine.models import Chat, Community, CommunityConfig
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import new_page, server_db


def seed(data_dir: Path) -> None:
    """Chats the connections discovered (no connection: nothing to backfill from)."""
    with server_db(data_dir) as session:
        session.add_all(
            [
                Chat(platform="telegram", platform_chat_id="-1001", title="Photo walks",
                     type="supergroup", member_count=212, bot_is_admin=True),
                Chat(platform="discord", platform_chat_id="g1", title="Photo server",
                     type="guild", member_count=480, bot_is_admin=True),
                Chat(platform="discord", platform_chat_id="c1", title="general", type="text",
                     parent_chat_id="g1", bot_is_admin=True),
                Chat(platform="whatsapp", platform_chat_id="1@g.us", title="Family",
                     type="group", member_count=9),
                Chat(platform="telegram", platform_chat_id="-1002", title="Moderators",
                     type="group", member_count=4, bot_is_admin=True),
            ]
        )  # fmt: skip


def test_create_attach_rules_and_delete(browser: Browser, app_url: str, server_data: Path) -> None:
    page = new_page(browser, app_url)
    seed(server_data)

    page.get_by_test_id("nav-communities").click()
    expect(page.get_by_test_id("empty-state")).to_contain_text("No communities yet")
    page.get_by_test_id("new-community").click()
    dialog = page.get_by_test_id("create-dialog")
    dialog.locator("input[name=name]").fill("Photography club")
    dialog.locator("textarea[name=description]").fill("Walks, critiques and contests")
    dialog.get_by_role("button", name="Create community").click()
    page.wait_for_url(re.compile(r"/communities/\d+/?$"))

    page.get_by_test_id("add-chats").click()
    picker = page.get_by_test_id("picker-dialog")
    expect(picker.get_by_test_id("pick-chat")).to_have_count(5)
    picker.get_by_test_id("picker-search").fill("photo")
    picker.get_by_role("button", name="Search").click()
    expect(picker.get_by_test_id("pick-chat")).to_have_count(2)
    picker.get_by_role("checkbox", name="Attach Photo walks").click()
    picker.get_by_test_id("picker-search").fill("general")
    picker.get_by_role("button", name="Search").click()
    picker.get_by_role("checkbox", name="Attach general").click()
    picker.get_by_test_id("attach-chats").click()
    expect(page.get_by_test_id("attached-chat")).to_have_count(3)  # the server came along
    expect(page.get_by_test_id("form-message")).to_contain_text("Attached 3 chats")
    expect(page.get_by_test_id("bot-admin")).to_have_count(3)
    screenshot(page, "community-chats")

    page.get_by_test_id("tab-rules").click()
    page.get_by_test_id("switch-antilink.enabled").click()
    page.get_by_label("Allowed sites").fill("example.com\nnot a domain")
    page.get_by_label("Mute at").fill("0")
    page.get_by_test_id("log-chat").click()
    page.get_by_role("option", name="Moderators (telegram, group)").click()
    page.get_by_test_id("save-rules").click()
    errors = page.get_by_test_id("field-error")
    expect(errors).to_have_text(
        ["Input should be greater than or equal to 1", "not a domain name: not a domain"]
    )
    page.get_by_label("Allowed sites").fill("example.com")
    page.get_by_label("Mute at").fill("2")
    page.get_by_test_id("save-rules").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Rules saved")
    expect(page.get_by_test_id("field-error")).to_have_count(0)
    with server_db(server_data) as session:
        rules = parse_rules(session.exec(select(CommunityConfig.rules)).one())
        moderators = session.exec(select(Chat).where(Chat.title == "Moderators")).one()
        assert rules.antilink.enabled and rules.antilink.allowed_domains == ["example.com"]
        assert rules.warnings.mute_at == 2 and rules.log_chat_id == moderators.id
    expect(page.get_by_test_id("tab-rules")).to_be_visible()
    page.get_by_text("Warnings add up").scroll_into_view_if_needed()
    screenshot(page, "community-rules")

    page.get_by_role("link", name="Communities").first.click()
    expect(page.get_by_test_id("community-card")).to_have_count(1)
    expect(page.get_by_test_id("chats-telegram")).to_have_text("1")
    expect(page.get_by_test_id("chats-discord")).to_have_text("1")
    screenshot(page, "communities")

    page.get_by_test_id("community-card").click()
    page.get_by_test_id("tab-settings").click()
    page.get_by_test_id("delete-community").click()
    page.get_by_test_id("confirm-name").fill("photography")
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_test_id("form-error")).to_contain_text("Type the community's name")
    page.get_by_test_id("confirm-name").fill("Photography club")
    page.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_url(re.compile(r"/communities/?$"))
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    with server_db(server_data) as session:
        assert session.exec(select(Community)).all() == []

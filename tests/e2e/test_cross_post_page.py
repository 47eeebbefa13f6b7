"""The Cross-post page in the browser: a template written with the value menu and checked
by its live preview (a broken expression reported), a Telegram → Discord rule made with the
chat picker, the reverse rule refused as a loop with the form kept, the rule paused, its
history showing a platform's refusal, a viewer who only looks, and both deleted."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, expect
from sqlmodel import select

from engine.models import (
    AdminUser,
    Chat,
    CrossPostDelivery,
    CrossPostRule,
    CrossPostTemplate,
    Role,
)
from engine.services import auth
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import ADMIN, PASSWORD, new_page, server_db


def seed(data_dir: Path) -> None:
    """Chats the connections discovered: a Telegram channel and a Discord server's channel."""
    with server_db(data_dir) as session:
        session.add_all(
            [
                Chat(platform="telegram", platform_chat_id="-1001", title="Club news",
                     type="channel", username="clubnews", bot_is_admin=True),
                Chat(platform="discord", platform_chat_id="g1", title="Club server",
                     type="guild", bot_is_admin=True),
                Chat(platform="discord", platform_chat_id="c1", title="announcements",
                     type="text", parent_chat_id="g1", bot_is_admin=True),
            ]
        )  # fmt: skip


def record_deliveries(data_dir: Path) -> None:
    """What the mirroring would have recorded: one copy posted, one refused by Discord."""
    with server_db(data_dir) as session:
        rule = session.exec(select(CrossPostRule)).one()
        target = session.exec(select(Chat).where(Chat.platform_chat_id == "c1")).one()
        for message_id, ok in (("41", True), ("42", False)):
            session.add(
                CrossPostDelivery(
                    rule_id=rule.id or 0, source_platform="telegram", source_chat_id="-1001",
                    source_message_id=message_id, target_chat_id=target.id,
                    target_platform="discord", target_platform_chat_id="c1",
                    target_message_id="9001" if ok else None, ok=ok,
                    error=None if ok else "Missing Permissions (50013)",
                )
            )  # fmt: skip


def test_template_rule_loop_and_pause(browser: Browser, app_url: str, server_data: Path) -> None:
    page = new_page(browser, app_url)
    seed(server_data)

    page.get_by_test_id("nav-cross-post").click()
    expect(page.get_by_test_id("empty-state")).to_contain_text("No cross-post rules yet")

    # -- a template, with the value menu and the live preview ------------------------------
    page.get_by_test_id("tab-templates").click()
    page.get_by_test_id("new-template").click()
    dialog = page.get_by_test_id("template-dialog")
    dialog.locator("input[name=name]").fill("Announcement")
    default = dialog.get_by_test_id("format-default")
    default.fill("From {{ chat }}: {{ nope }}")
    expect(dialog.get_by_test_id("form-error")).to_contain_text("nope")
    default.fill("From {{ chat }}:")
    dialog.get_by_test_id("insert-default").click()
    page.get_by_role("menuitem", name=re.compile("^text")).click()
    expect(default).to_have_value("From {{ chat }}: {{ text }}")
    expect(dialog.get_by_test_id("preview-discord")).to_have_text(
        "From Photo club: Meet-up on Friday at 7 pm, bring a friend!"
    )
    dialog.get_by_test_id("format-telegram").fill("[News] {{ text }}")
    expect(dialog.get_by_test_id("preview-telegram")).to_have_text(
        "[News] Meet-up on Friday at 7 pm, bring a friend!"
    )
    expect(dialog.get_by_test_id("form-error")).to_have_count(0)
    screenshot(page, "cross-post-template")
    dialog.get_by_test_id("save-template").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Created template Announcement")
    expect(page.get_by_test_id("template-name")).to_have_text(["Announcement"])

    # -- a rule Telegram -> Discord through it ---------------------------------------------
    page.get_by_test_id("tab-rules").click()
    page.get_by_test_id("new-rule").click()
    dialog = page.get_by_test_id("rule-dialog")
    expect(dialog.get_by_test_id("picker-chat")).to_have_count(3)
    dialog.get_by_role("button", name="From Club news").click()
    dialog.get_by_test_id("picker-search").fill("announce")
    dialog.get_by_role("button", name="Search").click()
    expect(dialog.get_by_test_id("picker-chat")).to_have_count(1)
    dialog.get_by_role("checkbox", name="To announcements").click()
    expect(dialog.get_by_test_id("picked-chats")).to_contain_text("Club news")
    expect(dialog.get_by_test_id("picked-chats")).to_contain_text("announcements")
    dialog.locator("input[name=name]").fill("News to Discord")
    dialog.get_by_test_id("rule-template").click()
    page.get_by_role("option", name="Announcement").click()
    dialog.locator("input[name=contains]").fill("sale, offer")
    dialog.get_by_role("switch", name="Mirror edits").click()
    dialog.get_by_test_id("save-rule").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Created News to Discord")
    card = page.get_by_test_id("rule-card")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("rule-source")).to_have_text("Club news")
    expect(card.get_by_test_id("rule-target")).to_have_text(["announcements"])
    expect(card.get_by_test_id("rule-filter")).to_contain_text("Containing: sale, offer")
    expect(card).to_contain_text("edits mirrored")
    expect(card).to_contain_text("Announcement")

    # -- edited: the dialog opens with the rule as saved -----------------------------------
    card.get_by_role("button", name="Edit").click()
    dialog = page.get_by_test_id("rule-dialog")
    expect(dialog.locator("input[name=name]")).to_have_value("News to Discord")
    expect(dialog.locator("input[name=contains]")).to_have_value("sale, offer")
    expect(dialog.get_by_role("switch", name="Mirror edits")).to_be_checked()
    expect(dialog.get_by_test_id("picked-chats")).to_contain_text("Club news")
    dialog.locator("input[name=contains]").fill("sale")
    dialog.get_by_test_id("save-rule").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Saved News to Discord")
    expect(card.get_by_test_id("rule-filter")).to_contain_text("Containing: sale;")

    # -- the reverse rule would loop: refused in the dialog, the form kept -----------------
    page.get_by_test_id("new-rule").click()
    dialog = page.get_by_test_id("rule-dialog")
    dialog.get_by_role("button", name="From announcements").click()
    dialog.get_by_role("checkbox", name="To Club news").click()
    dialog.locator("input[name=name]").fill("Back to Telegram")
    dialog.get_by_test_id("save-rule").click()
    expect(dialog.get_by_test_id("form-error")).to_contain_text(
        "would loop: announcements → Club news → announcements"
    )
    expect(dialog.locator("input[name=name]")).to_have_value("Back to Telegram")
    screenshot(page, "cross-post-rule")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_test_id("rule-card")).to_have_count(1)

    # -- paused from its card --------------------------------------------------------------
    page.get_by_test_id("rule-active").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Paused")
    expect(page.get_by_test_id("rule-paused")).to_be_visible()
    with server_db(server_data) as session:
        rule = session.exec(select(CrossPostRule)).one()
        template = session.exec(select(CrossPostTemplate)).one()
        assert not rule.is_active and rule.mirror_edits and rule.template_id == template.id
        assert rule.filter["contains"] == ["sale"]
        assert template.formats == {
            "default": "From {{ chat }}: {{ text }}",
            "telegram": "[News] {{ text }}",
        }

    # -- its history, with the platform's refusal -------------------------------------------
    record_deliveries(server_data)
    page.reload()
    expect(page.get_by_test_id("rule-failures")).to_have_text("1")
    expect(page.get_by_test_id("rule-active")).not_to_be_checked()
    screenshot(page, "cross-post")
    page.get_by_role("button", name="History").click()
    page.wait_for_url(re.compile(r"/cross-post/rules/\d+/?$"))
    expect(page.get_by_test_id("delivery-row")).to_have_count(2)
    expect(page.get_by_test_id("delivery-error")).to_have_text(["Missing Permissions (50013)"])
    screenshot(page, "cross-post-history")

    # -- a template in use is not deleted --------------------------------------------------
    page.goto(f"{app_url}/cross-post")
    page.get_by_test_id("tab-templates").click()
    page.get_by_test_id("template-row").get_by_role("button", name="Delete").click()
    page.get_by_test_id("confirm-delete").click()
    expect(page.get_by_role("dialog").get_by_test_id("form-error")).to_contain_text(
        "used by the rules News to Discord"
    )

    # -- a viewer looks and changes nothing ------------------------------------------------
    with server_db(server_data) as session:
        admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
        auth.create_user(session, "victor", PASSWORD, Role.viewer, actor=admin)
    viewer = new_page(browser, app_url, "victor")
    viewer.goto(f"{app_url}/cross-post")
    expect(viewer.get_by_test_id("rule-card")).to_have_count(1)
    expect(viewer.get_by_test_id("new-rule")).to_be_disabled()
    expect(viewer.get_by_test_id("rule-active")).to_be_disabled()
    expect(viewer.get_by_test_id("rule-card").get_by_role("button", name="Edit")).to_be_disabled()

    # -- deleted: the rule with its history, then the template it no longer holds ----------
    page.goto(f"{app_url}/cross-post")
    page.get_by_test_id("rule-card").get_by_role("button", name="Delete").click()
    page.get_by_test_id("confirm-delete").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Deleted News to Discord")
    expect(page.get_by_test_id("empty-state")).to_contain_text("No cross-post rules yet")
    page.get_by_test_id("tab-templates").click()
    page.get_by_test_id("template-row").get_by_role("button", name="Delete").click()
    page.get_by_test_id("confirm-delete").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Deleted template Announcement")
    with server_db(server_data) as session:
        assert session.exec(select(CrossPostDelivery)).all() == []
        assert session.exec(select(CrossPostTemplate)).all() == []

"""The Bot config page in the browser: a second language, a response written in both with
the live preview in each, a command that sends it, publishing (first refused for a problem,
shown in plain words), a second version and the readable diff between the two, a save that
someone else's edit made stale (what was typed stays), a rollback, and a viewer who only
looks."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from engine.models import AdminUser, BotConfigVersion, BotInstance, ConnectorKind, Role
from engine.services import auth, bot_config
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import ADMIN, PASSWORD, new_page, server_db

EN_TEXT = "Hi **{{ member.name }}**, ask anything in "
DE_TEXT = "Hallo {{ member.name }}, frag einfach in {{ chat.title }}."


def seed(data_dir: Path) -> int:
    """A Telegram bot and a Discord bot, as Connections would have made them."""
    with server_db(data_dir) as session:
        telegram = BotInstance(name="Photo walks bot", kind=ConnectorKind.telegram_bot,
                               platform_username="photo_walks_bot")  # fmt: skip
        session.add_all(
            [telegram, BotInstance(name="Guild helper", kind=ConnectorKind.discord_bot)]
        )
        session.flush()
        assert telegram.id is not None
        return telegram.id


def edit_elsewhere(data_dir: Path, bot_id: int) -> None:
    """Someone else saves the draft (the REST API, another browser)."""
    with server_db(data_dir) as session:
        admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
        bot_config.set_strings(session, admin, bot_id, {"hours": {"en": "9 to 5"}})


def pick(page: Page, trigger_id: str, option: str) -> None:
    page.get_by_test_id(trigger_id).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_write_publish_and_compare_a_bot_configuration(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    page = new_page(browser, app_url)
    page.get_by_test_id("nav-bot-config").click()
    expect(page.get_by_test_id("empty-state")).to_contain_text("No bots yet")
    expect(page.get_by_test_id("to-connections")).to_have_attribute("href", "/connections")

    bot_id = seed(server_data)
    page.reload()
    cards = page.get_by_test_id("bot-card")
    expect(cards).to_have_count(2)
    expect(cards.first.get_by_test_id("draft-only")).to_be_visible()
    cards.filter(has_text="Photo walks bot").click()
    expect(page.get_by_test_id("bot-title")).to_have_text("Photo walks bot")

    # -- a second language -----------------------------------------------------------------
    page.get_by_test_id("tab-translations").click()
    page.get_by_test_id("new-language").fill("de")
    page.get_by_test_id("add-language").click()
    expect(page.get_by_test_id("language-de")).to_be_visible()

    # -- a response in two languages, previewed in each --------------------------------------
    page.get_by_test_id("tab-responses").click()
    page.get_by_test_id("new-response").click()
    form = page.get_by_test_id("item-form")
    form.get_by_test_id("response-key").fill("help")
    form.get_by_test_id("add-trigger").click()
    pick(page, "trigger-kind", "Keyword or phrase")
    form.get_by_test_id("trigger-value").fill("help me")
    form.get_by_test_id("response-text").fill(EN_TEXT)
    form.get_by_test_id("insert-value").click()
    page.get_by_role("menuitem", name="Chat title").click()
    expect(form.get_by_test_id("response-text")).to_have_value(EN_TEXT + "{{ chat.title }}")
    preview = page.get_by_test_id("bot-preview")
    expect(preview.get_by_test_id("preview-telegram-text")).to_have_text(
        "Hi Alex Morgan, ask anything in Photo walks"
    )
    expect(preview.get_by_test_id("preview-telegram-text").locator("b")).to_have_text("Alex Morgan")
    form.get_by_test_id("add-button-row").click()
    form.get_by_test_id("button-label").fill("Our website")
    pick(page, "button-action", "Open a web page")
    form.get_by_test_id("button-target").fill("https://example.org")
    expect(preview.get_by_test_id("preview-button")).to_have_count(2)  # Telegram and Discord
    expect(preview.get_by_test_id("preview-button").first).to_have_text("Our website")

    form.get_by_test_id("edit-lang-de").click()
    expect(form.get_by_test_id("response-text")).to_have_value("")
    form.get_by_test_id("response-text").fill(DE_TEXT)
    form.get_by_test_id("button-label").fill("Unsere Website")
    expect(preview.get_by_test_id("preview-discord-text")).to_have_text(
        "Hallo Alex Morgan, frag einfach in Photo walks."
    )
    expect(preview.get_by_test_id("preview-button").first).to_have_text("Unsere Website")
    form.get_by_test_id("save-item").click()
    expect(page.get_by_test_id("form-message")).to_have_text("Saved response help in the draft.")
    expect(page.get_by_test_id("item-row")).to_have_count(1)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "bot-config-response")

    # -- a command that sends it; the first publish is refused for a missing text ----------
    page.get_by_test_id("tab-commands").click()
    page.get_by_test_id("new-command").click()
    form.get_by_test_id("command-name").fill("help")
    pick(page, "command-action", "Send a response")
    pick(page, "command-target", "help")
    form.get_by_test_id("save-item").click()
    expect(page.get_by_test_id("form-message")).to_have_text("Saved command /help in the draft.")
    page.get_by_test_id("publish").click()
    problems = page.get_by_test_id("problems-dialog")
    expect(problems.get_by_test_id("publish-problem").first).to_contain_text("/help")
    page.keyboard.press("Escape")
    # The closing dialog gives the focus back to the field that had it (the name) when it
    # unmounts: typing before then would land there.
    expect(problems).to_be_hidden()
    expect(page.get_by_test_id("draft-only")).to_be_visible()

    form.get_by_test_id("command-description").fill("Get help")
    form.get_by_test_id("edit-lang-de").click()
    form.get_by_test_id("command-description").fill("Hilfe bekommen")
    form.get_by_test_id("save-item").click()
    expect(page.get_by_test_id("form-message")).to_have_text("Saved command /help in the draft.")
    page.get_by_test_id("publish").click()
    expect(page.get_by_text("Published v1")).to_be_visible()
    expect(page.get_by_test_id("live-version")).to_have_text("Live v1")

    # -- a change that someone else's save made stale keeps what was typed -----------------
    edit_elsewhere(server_data, bot_id)
    form.get_by_test_id("edit-lang-en").click()
    form.get_by_test_id("command-description").fill("Get help fast")
    form.get_by_test_id("save-item").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("Someone else changed")
    expect(form.get_by_test_id("command-description")).to_have_value("Get help fast")
    page.get_by_test_id("reload-draft").click()
    expect(page.get_by_test_id("reload-draft")).to_have_count(0)
    expect(form.get_by_test_id("command-description")).to_have_value("Get help fast")
    form.get_by_test_id("save-item").click()
    expect(page.get_by_test_id("form-message")).to_have_text("Saved command /help in the draft.")
    expect(page.get_by_test_id("unpublished")).to_be_visible()
    page.get_by_test_id("publish").click()
    expect(page.get_by_text("Published v2")).to_be_visible()

    # -- versions and the readable diff between them ---------------------------------------
    page.get_by_test_id("tab-versions").click()
    expect(page.get_by_test_id("version-row")).to_have_count(2)
    expect(page.get_by_test_id("diff-from")).to_have_text("v1")  # what the last publish did
    expect(page.get_by_test_id("diff-to")).to_have_text("v2")
    change = page.get_by_test_id("change-row").filter(has_text="Get help fast")
    expect(change).to_contain_text("/help")
    expect(change).to_contain_text("Get help")
    pick(page, "diff-from", "v2")
    pick(page, "diff-to", "Draft")
    expect(page.get_by_text("No differences.")).to_be_visible()
    pick(page, "diff-from", "v1")
    pick(page, "diff-to", "v2")
    expect(change).to_have_count(1)
    screenshot(page, "bot-config-versions")

    # -- rolling back to v1 publishes it again as v3 ---------------------------------------
    page.get_by_test_id("version-row").filter(has_text="v1").get_by_test_id("rollback").click()
    page.get_by_test_id("confirm-rollback").click()
    expect(page.get_by_text("Rolled back: v3 (a copy of v1) is live")).to_be_visible()
    expect(page.get_by_test_id("version-row").first).to_contain_text("Rollback to v1")
    with server_db(server_data) as session:
        rows = session.exec(select(BotConfigVersion).order_by(BotConfigVersion.version)).all()
        assert [r.version for r in rows] == [1, 2, 3]
        assert rows[2].document == rows[0].document
        assert rows[0].document["commands"][0]["description"] == {
            "en": "Get help",
            "de": "Hilfe bekommen",
        }

    page.goto(f"{app_url}/bot-config")
    expect(page.get_by_test_id("bot-card").filter(has_text="Photo walks bot")).to_contain_text(
        "Live v3"
    )
    screenshot(page, "bot-config")

    # -- a viewer looks and changes nothing ------------------------------------------------
    with server_db(server_data) as session:
        admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
        auth.create_user(session, "vera", PASSWORD, Role.viewer, actor=admin)
    viewer = new_page(browser, app_url, "vera")
    viewer.goto(f"{app_url}/bot-config/{bot_id}")
    expect(viewer.get_by_test_id("publish")).to_be_disabled()
    viewer.get_by_test_id("tab-responses").click()
    expect(viewer.get_by_test_id("new-response")).to_be_disabled()
    viewer.get_by_test_id("item-row").click()
    expect(viewer.get_by_test_id("response-text")).to_have_value(EN_TEXT + "{{ chat.title }}")
    expect(viewer.get_by_test_id("save-item")).to_be_disabled()
    expect(viewer.get_by_test_id("delete-item")).to_be_disabled()

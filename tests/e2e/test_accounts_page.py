"""The Accounts and Leaderboard pages in the browser: confirm a suggestion, link two
accounts into one person, unlink in the person's drawer; the leaderboard counts a person
once and takes a manual adjustment with a reason."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from engine.models import Community, CommunityMember, Platform, PlatformAccount
from engine.services import reputation
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import new_page, server_db

PEOPLE = [
    # platform, id, username, display name, messages, score
    ("telegram", "101", "maria_k", "Maria Kovacs", 340, 12),
    ("discord", "2001", "Maria_K", "Maria", 120, 9),
    ("whatsapp", "4915550001@s.whatsapp.net", None, "Jonas Berg", 80, 4),
    ("telegram", "102", "jberg", "Jonas Berg", 55, 6),
    ("discord", "2002", "pixelfox", "Pixel Fox", 410, 15),
    ("telegram", "103", "lee_s", "Lee Sun", 22, 2),
]


def seed(data_dir: Path) -> int:
    """A community with six accounts, their messages and reputation; its id."""
    with server_db(data_dir) as session:
        community = Community(name="Chess club")
        session.add(community)
        session.flush()
        for platform, uid, username, name, messages, score in PEOPLE:
            account = PlatformAccount(
                platform=Platform(platform), platform_user_id=uid, username=username,
                display_name=name,
            )  # fmt: skip
            session.add(account)
            session.flush()
            session.add(
                CommunityMember(
                    community_id=community.id or 0,
                    platform_account_id=account.id or 0,
                    message_count=messages,
                )
            )
            reputation.adjust(
                session, "rules:reputation", community.id or 0, account.id or 0, score, "thanks"
            )
        return community.id or 0


def row(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("account-row").filter(has_text=text)


def test_link_accounts_and_see_the_leaderboard(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    page = new_page(browser, app_url)
    seed(server_data)

    page.get_by_test_id("nav-accounts").click()
    expect(page.get_by_test_id("account-row")).to_have_count(len(PEOPLE))
    suggestions = page.get_by_test_id("suggestion")
    expect(suggestions).to_have_count(2)
    expect(suggestions.filter(has_text="Maria Kovacs")).to_contain_text("same username")
    expect(suggestions.filter(has_text="Jonas Berg")).to_contain_text("same display name")
    screenshot(page, "accounts")

    # Confirm one suggestion: Maria's Telegram and Discord accounts are one person.
    suggestions.filter(has_text="Maria Kovacs").get_by_test_id("suggestion-confirm").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("one person now")
    expect(page.get_by_test_id("person-badge")).to_have_text(["Maria Kovacs", "Maria Kovacs"])
    expect(page.get_by_test_id("suggestion")).to_have_count(1)

    # Select Jonas's two accounts and link them by hand, naming the person.
    row(page, "jberg").get_by_test_id("account-select").click()
    row(page, "4915550001").get_by_test_id("account-select").click()
    page.get_by_test_id("link-selected").click()
    page.get_by_label("Name").fill("Jonas B.")
    page.get_by_role("button", name="Link", exact=True).click()
    drawer = page.get_by_test_id("person-drawer")
    expect(drawer.get_by_test_id("person-name")).to_have_text("Jonas B.")
    expect(drawer.get_by_test_id("person-account")).to_have_count(2)
    expect(drawer.get_by_test_id("person-totals")).to_contain_text("reputation 10")
    expect(drawer.get_by_test_id("person-totals")).to_contain_text("135 messages")
    screenshot(page, "accounts-person")
    drawer.get_by_test_id("person-account").filter(has_text="jberg").get_by_test_id(
        "unlink"
    ).click()
    expect(drawer.get_by_test_id("person-account")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("person-drawer")).to_have_count(0)
    expect(row(page, "jberg")).to_contain_text("not linked")

    # The leaderboard counts Maria once (12 + 9) and takes an adjustment with a reason.
    page.get_by_test_id("nav-reputation").click()
    leaders = page.get_by_test_id("leader-row")
    expect(leaders.first).to_contain_text("Maria Kovacs")
    expect(leaders.first.get_by_test_id("leader-score")).to_have_text("21")
    expect(leaders.first.get_by_test_id("linked-badge")).to_contain_text("2 linked")
    leaders.filter(has_text="Lee Sun").get_by_test_id("adjust").click()
    dialog = page.get_by_test_id("adjust-dialog")
    dialog.get_by_label("In community").click()
    page.get_by_role("option", name="Chess club").click()
    page.fill("#delta", "5")
    page.fill("#reason", "Ran the weekend tournament")
    dialog.get_by_test_id("adjust-apply").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("+5 for Lee Sun")
    expect(leaders.filter(has_text="Lee Sun").get_by_test_id("leader-score")).to_have_text("7")
    expect(page.get_by_test_id("history-row").first).to_contain_text("Ran the weekend tournament")
    expect(page.get_by_test_id("history-row").first).to_contain_text("user:alice")
    screenshot(page, "leaderboard")

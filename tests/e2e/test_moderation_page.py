"""The Moderation page in the browser: the overview of the last 30 days, the log filtered
by action, member and community (preselected from ?community=), and the CSV download with
its formula cells neutralised; a viewer reads it all."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from engine.models import AdminUser, ModerationAction, Role, utcnow
from engine.services import auth
from tests.e2e.flow_ui import ADMIN, PASSWORD, new_page, server_db
from tests.moderation_world import World, ok, refused


def seed(data_dir: Path) -> tuple[int, int]:
    """Cats: warnings and sanctions over the last days, Ann linked across two platforms;
    Dogs: one mute. The two communities' ids."""
    with server_db(data_dir) as session:
        world = World(session)
        now = utcnow()
        for days, account in ((0, world.ann_tg), (1, world.ann_dc), (2, world.bob), (3, world.eve)):
            at = now - timedelta(days=days, minutes=5)
            world.warn(world.cats, account, at)
            world.log(world.cats, ModerationAction.warn, account, at, actor="rules:antilink")
        both = [ok("telegram", "-1001"), refused("discord", "42", "Missing Permissions")]
        world.log(world.cats, ModerationAction.ban, world.ann_dc, now, reason="raid", results=both)
        world.log(world.dogs, ModerationAction.mute, world.bob, now, reason="flood", actor="eddie")
        admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
        auth.create_user(session, "vera", PASSWORD, Role.viewer, actor=admin)
        return world.cats.id or 0, world.dogs.id or 0


def actions(page: Page) -> list[str]:
    return [
        a.strip()
        for a in page.get_by_test_id("log-row").locator("td:nth-child(3)").all_inner_texts()
    ]


def test_overview_log_filters_and_csv(browser: Browser, app_url: str, server_data: Path) -> None:
    page = new_page(browser, app_url)  # the first admin exists before the viewer is added
    cats, dogs = seed(server_data)
    page = new_page(browser, app_url, "vera")

    page.get_by_test_id("nav-moderation").click()
    expect(page.get_by_test_id("log-row")).to_have_count(6)
    expect(page.get_by_test_id("stat-warnings")).to_have_text("4")
    expect(page.get_by_test_id("stat-bans")).to_have_text("1")
    expect(page.get_by_test_id("stat-actions")).to_have_text("6")
    ann = page.get_by_test_id("offender-row").first
    expect(ann).to_contain_text("Ann")
    expect(ann).to_contain_text("2 linked")
    expect(page.get_by_test_id("moderation-chart")).to_be_visible()
    expect(page.get_by_test_id("log-result")).to_have_text(["partial"])

    page.get_by_test_id("filter-action").click()
    page.get_by_role("option", name="Ban", exact=True).click()
    expect(page.get_by_test_id("log-row")).to_have_count(1)
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_test_id("log-row")).to_have_count(6)
    page.get_by_test_id("filter-member").fill("@bobby")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("log-row")).to_have_count(2)
    assert sorted(actions(page)) == ["mute", "warn"]

    page.goto(f"{app_url}/moderation?community={dogs}")
    expect(page.get_by_test_id("filter-community")).to_have_text("Dogs", timeout=30_000)
    expect(page.get_by_test_id("log-row")).to_have_count(1)
    expect(page.get_by_test_id("stat-actions")).to_have_text("1")

    page.goto(f"{app_url}/moderation?community={cats}")
    expect(page.get_by_test_id("log-row")).to_have_count(5, timeout=30_000)
    with page.expect_download() as download:
        page.get_by_test_id("log-download").click()
    assert download.value.suggested_filename == "moderation-log.csv"
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert [r[3] for r in rows[1:]] == ["ban", "warn", "warn", "warn", "warn"]
    # Eve's display name is a formula; the spreadsheet gets it as text.
    assert any(re.fullmatch(r"'=cmd.*", r[4]) for r in rows[1:])
    assert rows[1][9] == "partial" and "Missing Permissions" in rows[1][10]

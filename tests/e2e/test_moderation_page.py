"""The Moderation page in the browser: the overview of the last 30 days, the log filtered
by action, member and community (preselected from ?community=), and the CSV download with
its formula cells neutralised; a viewer reads it all."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from engine.models import AdminUser, Community, ModerationAction, Role, utcnow
from engine.services import auth
from flowbot_ui.state.moderation import PAGE_SIZE
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import ADMIN, PASSWORD, new_page, server_db
from tests.moderation_world import World, ok, refused


@dataclass(frozen=True)
class Seeded:
    cats: int
    dogs: int
    birds: int
    warnings: int  # in the last 30 days, every community
    bans: int
    actions: int


def seed(data_dir: Path) -> Seeded:
    """Cats: four warnings and a ban, Ann linked across two platforms; Dogs: one mute;
    Birds: a month of warnings, mutes, kicks and bans (older than the others' rows)."""
    with server_db(data_dir) as session:
        world = World(session)
        birds = world.add(Community(name="Birds"))
        zed = world.account("telegram", "900", "zed", "Zed", None)
        yan = world.account("discord", "901", "yan", "Yan", None)
        now = utcnow()
        counts = {"warn": 0, "ban": 0, "other": 0}
        for day in range(30):
            at = now - timedelta(days=day)
            for n in range(day % 4):
                world.warn(birds, (zed, yan)[n % 2], at)
                world.log(
                    birds, ModerationAction.warn, (zed, yan)[n % 2], at, actor="rules:antilink"
                )
                counts["warn"] += 1
            for action, every, offset in (
                (ModerationAction.mute, 4, 1),
                (ModerationAction.kick, 7, 3),
            ):
                if day % every == offset:
                    world.log(
                        birds,
                        action,
                        yan,
                        at,
                        actor="rules:antiflood",
                        results=[ok("discord", "77")],
                    )
                    counts["other"] += 1
            if day % 10 == 6:
                world.log(birds, ModerationAction.ban, zed, at, results=[ok("telegram", "-1009")])
                counts["ban"] += 1
        for days, account in ((0, world.ann_tg), (1, world.ann_dc), (2, world.bob), (3, world.eve)):
            at = now - timedelta(days=days, minutes=5)
            world.warn(world.cats, account, at)
            world.log(world.cats, ModerationAction.warn, account, at, actor="rules:antilink")
        both = [ok("telegram", "-1001"), refused("discord", "42", "Missing Permissions")]
        world.log(world.cats, ModerationAction.ban, world.ann_dc, now, reason="raid", results=both)
        world.log(world.dogs, ModerationAction.mute, world.bob, now, reason="flood", actor="eddie")
        admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
        auth.create_user(session, "vera", PASSWORD, Role.viewer, actor=admin)
        return Seeded(
            cats=world.cats.id or 0,
            dogs=world.dogs.id or 0,
            birds=birds.id or 0,
            warnings=counts["warn"] + 4,
            bans=counts["ban"] + 1,
            actions=sum(counts.values()) + 6,
        )


def actions(page: Page) -> list[str]:
    return [
        a.strip()
        for a in page.get_by_test_id("log-row").locator("td:nth-child(3)").all_inner_texts()
    ]


def test_overview_log_filters_and_csv(browser: Browser, app_url: str, server_data: Path) -> None:
    page = new_page(browser, app_url)  # the first admin exists before the viewer is added
    seeded = seed(server_data)
    page = new_page(browser, app_url, "vera")

    page.get_by_test_id("nav-moderation").click()
    expect(page.get_by_test_id("log-row")).to_have_count(PAGE_SIZE)
    expect(page.get_by_test_id("stat-warnings")).to_have_text(str(seeded.warnings))
    expect(page.get_by_test_id("stat-bans")).to_have_text(str(seeded.bans))
    expect(page.get_by_test_id("stat-actions")).to_have_text(str(seeded.actions))
    ann = page.get_by_test_id("offender-row").filter(has_text="Ann")
    expect(ann).to_contain_text("2 linked")
    expect(page.get_by_test_id("moderation-chart")).to_be_visible()
    assert actions(page)[:3] == ["mute", "ban", "warn"]
    expect(page.get_by_test_id("log-row").nth(1)).to_contain_text("partial")
    screenshot(page, "moderation")
    page.get_by_test_id("log-older").click()
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(page.get_by_test_id("log-row")).to_have_count(min(PAGE_SIZE, seeded.actions - PAGE_SIZE))
    page.get_by_role("button", name="Newer").click()
    expect(page.get_by_test_id("log-row").nth(1)).to_contain_text("partial")

    page.get_by_test_id("filter-action").click()
    page.get_by_role("option", name="Ban", exact=True).click()
    expect(page.get_by_test_id("log-row")).to_have_count(seeded.bans)
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_test_id("log-row")).to_have_count(PAGE_SIZE)
    page.get_by_test_id("filter-member").fill("@bobby")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("log-row")).to_have_count(2)
    assert sorted(actions(page)) == ["mute", "warn"]

    page.goto(f"{app_url}/moderation?community={seeded.dogs}")
    expect(page.get_by_test_id("filter-community")).to_have_text("Dogs", timeout=30_000)
    expect(page.get_by_test_id("log-row")).to_have_count(1)
    expect(page.get_by_test_id("stat-actions")).to_have_text("1")

    page.goto(f"{app_url}/moderation?community={seeded.cats}")
    expect(page.get_by_test_id("log-row")).to_have_count(5, timeout=30_000)
    with page.expect_download() as download:
        page.get_by_test_id("log-download").click()
    assert download.value.suggested_filename == "moderation-log.csv"
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert [r[3] for r in rows[1:]] == ["ban", "warn", "warn", "warn", "warn"]
    # Eve's display name is a formula; the spreadsheet gets it as text.
    assert any(re.fullmatch(r"'=cmd.*", r[4]) for r in rows[1:])
    assert rows[1][9] == "partial" and "Missing Permissions" in rows[1][10]

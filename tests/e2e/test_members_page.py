"""The Members pages in the browser: a community's members searched, filtered, sorted and
paged; a member's record; a warning given and revoked, and a mute the platform cannot do
shown as its refusal; a viewer only looks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Browser, expect
from sqlmodel import select

from engine.models import (
    AdminUser,
    Chat,
    Community,
    CommunityMember,
    MemberRole,
    ModerationLog,
    Platform,
    PlatformAccount,
    ReputationEvent,
    ReputationScore,
    Role,
    UserIdentity,
    Warning,
    utcnow,
)
from engine.services import auth
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import ADMIN, PASSWORD, VIEWPORT, new_page, server_db

NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Barbara Liskov", "Ken Thompson")
MEMBERS = 60


def seed(data_dir: Path, tag: str) -> tuple[int, int]:
    """A community with a WhatsApp group and MEMBERS members, the first (Ada, on WhatsApp)
    linked to a Discord account; returns (community id, Ada's member id). ``tag`` keeps the
    platform ids of each test's community apart (the server is shared by the module)."""
    now = utcnow()
    with server_db(data_dir) as session:
        community = Community(name="Makers")
        session.add(community)
        session.flush()
        cid = community.id or 0
        session.add(
            Chat(
                platform=Platform.whatsapp,
                platform_chat_id=f"120363{tag}@g.us",
                type="group",
                title="Makers chat",
                community_id=cid,
            )
        )
        person = UserIdentity(display_name="Ada Lovelace")
        session.add(person)
        session.flush()
        ada = 0
        for n in range(MEMBERS):
            platform = (Platform.whatsapp, Platform.discord, Platform.telegram)[n % 3]
            account = PlatformAccount(
                platform=platform,
                platform_user_id=f"{tag}{4400 + n}",
                username=f"{NAMES[n % 5].split()[0].lower()}{n}",
                display_name=NAMES[n % 5],
                identity_id=person.id if n in (0, 1) else None,
            )
            session.add(account)
            session.flush()
            member = CommunityMember(
                community_id=cid,
                platform_account_id=account.id or 0,
                joined_at=now - timedelta(days=n),
                last_active_at=now - timedelta(minutes=n * 7),
                message_count=(n * 37) % 400,
                role=MemberRole.owner if n == 3 else MemberRole.member,
                is_banned=n == 7,
                muted_until=now + timedelta(hours=2) if n == 5 else None,
            )
            session.add(member)
            session.flush()
            session.add(
                ReputationScore(
                    community_id=cid, platform_account_id=account.id or 0, score=(n * 7) % 30
                )
            )
            if n in (1, 6):
                session.add(
                    Warning(
                        community_id=cid,
                        platform_account_id=account.id or 0,
                        reason="spam link",
                        issued_by="rules:antilink",
                        expires_at=now + timedelta(days=30),
                    )
                )
            if n == 0:
                ada = member.id or 0
                session.add(
                    ReputationEvent(
                        community_id=cid,
                        platform_account_id=account.id or 0,
                        delta=1,
                        reason="thanks for the fix",
                        actor="rules:reputation",
                        rule="0",
                    )
                )
        return cid, ada


def test_members_list_record_and_actions(browser: Browser, app_url: str, server_data: Path) -> None:
    page = new_page(browser, app_url)
    community_id, ada = seed(server_data, "a")

    page.goto(f"{app_url}/communities/{community_id}/members")
    rows = page.get_by_test_id("member-row")
    expect(rows).to_have_count(50)  # one page; the rest behind Load more
    expect(rows.first).to_contain_text("@ada0")
    screenshot(page, "members")
    page.get_by_test_id("load-more").click()
    expect(rows).to_have_count(MEMBERS)
    expect(page.get_by_test_id("load-more")).to_have_count(0)

    page.get_by_test_id("filter-status").click()
    page.get_by_role("option", name="Warned").click()
    expect(rows).to_have_count(2)
    page.get_by_test_id("filter-status").click()
    page.get_by_role("option", name="Anyone").click()
    page.get_by_test_id("member-search").fill("barbara")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(MEMBERS // 5)
    page.get_by_test_id("filter-platform").click()
    page.get_by_role("option", name="Discord").click()
    expect(rows).to_have_count(4)  # every 5th member is Barbara, every 3rd of them Discord
    expect(rows.first).to_contain_text("@barbara13")  # the most recently active of the four
    page.get_by_test_id("filter-sort").click()
    page.get_by_role("option", name="Messages").click()
    expect(rows.first).to_contain_text("@barbara43")  # 391 messages, the most of the four
    page.get_by_test_id("member-search").fill("")
    page.get_by_role("button", name="Search").click()
    page.get_by_test_id("filter-platform").click()
    page.get_by_role("option", name="All platforms").click()
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("398")  # (n * 37) % 400 is highest for n = 54

    page.goto(f"{app_url}/members/{ada}")
    expect(page.get_by_test_id("member-name")).to_have_text("Ada Lovelace")
    expect(page.get_by_test_id("linked-account")).to_have_count(2)
    expect(page.get_by_test_id("total-warnings")).to_have_text("1")  # the Discord account's

    page.get_by_test_id("action-warn").click()
    page.get_by_test_id("action-reason").fill("posting invite links")
    page.get_by_test_id("action-confirm").click()
    expect(page.get_by_test_id("result-summary")).to_contain_text("Warned Ada Lovelace")
    expect(page.get_by_test_id("total-warnings")).to_have_text("2")
    expect(page.get_by_test_id("member-moderation")).to_contain_text("posting invite links")

    # WhatsApp cannot mute: the group is shown as refused, with the reason
    page.get_by_test_id("action-mute").click()
    page.get_by_test_id("action-reason").fill("flood")
    page.get_by_test_id("action-confirm").click()
    expect(page.get_by_test_id("result-target")).to_contain_text("Mute is not supported")
    expect(page.get_by_test_id("result-summary")).to_contain_text("1 of 1 target(s) refused")
    screenshot(page, "member")

    own = page.get_by_test_id("warning-row").filter(has_text="posting invite links")
    own.get_by_test_id("revoke-warning").click()
    page.get_by_test_id("revoke-confirm").click()  # no reason yet
    expect(page.get_by_test_id("form-error")).to_contain_text("Say why")
    page.get_by_test_id("revoke-reason").fill("wrong person")
    page.get_by_test_id("revoke-confirm").click()
    expect(own).to_contain_text("revoked")
    expect(own).to_contain_text("wrong person")
    expect(page.get_by_test_id("total-warnings")).to_have_text("1")
    with server_db(server_data) as session:
        actions = session.exec(
            select(ModerationLog.action).where(ModerationLog.community_id == community_id)
        ).all()
        assert sorted(map(str, actions)) == ["mute", "unwarn", "warn"]


def test_a_viewer_only_looks(browser: Browser, app_url: str, server_data: Path) -> None:
    _, ada = seed(server_data, "b")
    with server_db(server_data) as session:
        admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).first()
        if admin is None:  # this test alone: no one went through /setup
            admin = auth.create_user(session, ADMIN, PASSWORD, Role.admin, actor=None)
        auth.create_user(session, "victor", PASSWORD, Role.viewer, actor=admin)
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(30_000)
    for _ in range(3):  # a click before the page has hydrated is lost: try again
        page.goto(f"{app_url}/login")
        page.fill("#username", "victor")
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        try:
            expect(page.get_by_test_id("current-user")).to_have_text("victor", timeout=10_000)
            break
        except AssertionError:
            continue
    page.goto(f"{app_url}/members/{ada}")
    expect(page.get_by_test_id("member-name")).to_have_text("Ada Lovelace")
    for action in ("warn", "mute", "ban", "ban_everywhere"):
        expect(page.get_by_test_id(f"action-{action}")).to_be_disabled()
    expect(page.get_by_test_id("revoke-warning").first).to_be_disabled()

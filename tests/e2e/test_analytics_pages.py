"""The Community and Flow analytics pages in the browser: charts drawn from stored days and
today's live figures (a warning given through the API shows up without a reload), a second
community compared, a flow's failing node and its error; a viewer reads it all, and the
editor's toolbar leads to its flow's analytics."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from engine.models import (
    AdminUser,
    Community,
    CommunityAnalyticsSnapshot,
    CommunityMember,
    ExecutionStatus,
    FlowDailyStats,
    FlowExecution,
    FlowExecutionStep,
    Platform,
    PlatformAccount,
    Role,
    StepStatus,
    utcnow,
)
from engine.services import auth, flows
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import ADMIN, PASSWORD, new_page, server_db

DAYS = 20


def seed(data_dir: Path) -> tuple[int, int, int]:
    """Makers and Chess with 20 stored days each and members joining today; the Welcome
    flow with 20 rolled-up days and today's runs, one failing at its send node."""
    now = utcnow()
    today = now.date()
    with server_db(data_dir) as session:
        admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
        makers, chess = Community(name="Makers"), Community(name="Chess")
        session.add_all([makers, chess])
        flow = flows.create_flow(session, admin, "Welcome")
        session.flush()
        assert makers.id and chess.id and flow.id
        present = {makers.id: 0, chess.id: 0}
        for n in range(DAYS, 0, -1):  # oldest first: the member count grows
            day = today - timedelta(days=n)
            noon = datetime.combine(day, time(12), UTC)
            for community, joins in ((makers, 3 + n % 4), (chess, 1 + n % 3)):
                for k in range(joins):
                    join(session, community.id, noon, f"{community.id}-{n}-{k}")
                present[community.id] += joins
                session.add(
                    CommunityAnalyticsSnapshot(
                        community_id=community.id,
                        day=day,
                        member_count=present[community.id],
                        joined=joins,
                        messages=200 + 37 * (n % 5),
                        active_members=20 + n % 7,
                        warnings=n % 4,
                        bans=1 if n % 6 == 0 else 0,
                    )
                )
            session.add(
                FlowDailyStats(
                    flow_id=flow.id,
                    day=day,
                    executions=40 + n % 9,
                    succeeded=36 + n % 9,
                    failed=3,
                    stopped=1,
                    duration_histogram={"100": 20, "250": 15 + n % 9, "1000": 5},
                    triggers={"tg_message": 30 + n % 9, "webhook": 10},
                    failed_nodes={"send1": {"count": 3, "errors": {"chat not found": 3}}},
                    node_time={"send1": [40, 4000.0], "if1": [40, 80.0]},
                )
            )
        for n in range(3):
            at = max(now - timedelta(seconds=n + 1), datetime.combine(today, time(), UTC))
            join(session, makers.id, at, f"today-{n}")
        ended = max(now - timedelta(seconds=30), now.replace(hour=0, minute=0, second=1))
        failed = FlowExecution(
            flow_id=flow.id,
            status=ExecutionStatus.failed,
            started_at=ended - timedelta(milliseconds=300),
            finished_at=ended,
        )
        session.add(failed)
        session.flush()
        session.add(
            FlowExecutionStep(
                execution_id=failed.id or 0,
                seq=1,
                step_key="send1",
                node_id="send1",
                node_type="tg_send_message",
                status=StepStatus.failed,
                error="chat not found",
                duration_ms=250.0,
            )
        )
        auth.create_user(session, "vic", PASSWORD, Role.viewer, actor=admin)
        return makers.id, chess.id, flow.id


def join(session: Session, community_id: int, at: datetime, key: str) -> None:
    account = PlatformAccount(platform=Platform.telegram, platform_user_id=key, display_name=key)
    session.add(account)
    session.flush()
    session.add(
        CommunityMember(
            community_id=community_id, platform_account_id=account.id or 0, joined_at=at
        )
    )


def charts_drawn(page: Page, test_id: str, mark: str) -> None:
    """The card's recharts drew its series (``mark``: a line's path or a bar's rectangle)."""
    expect(page.get_by_test_id(test_id).locator(mark).first).to_be_visible()


def test_charts_with_stored_and_live_days(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    new_page(browser, app_url)  # the first admin exists before the viewer is added
    makers, chess, flow = seed(server_data)
    with server_db(server_data) as session:
        admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
        token = auth.create_api_token(session, admin, "analytics test", Role.editor).plaintext
        member_id = session.exec(
            select(CommunityMember.id).where(CommunityMember.community_id == makers)
        ).first()
    page = new_page(browser, app_url, "vic")

    page.get_by_test_id("nav-analytics").click()
    expect(page.get_by_test_id("pick-community")).to_have_text("Chess")  # by name: first
    page.get_by_test_id("pick-community").click()
    page.get_by_role("option", name="Makers").click()
    today = page.get_by_test_id("today-live")
    expect(today).to_contain_text("3 joined")
    expect(today).to_contain_text("0 warnings")
    # A warning given elsewhere counts in today's figures while the page stays loaded.
    page.evaluate("window.__stayed = true")
    answer = httpx.post(
        f"{app_url}/api/v1/members/{member_id}/warnings",
        json={"reason": "spam link"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    expect(today).to_contain_text("1 warnings")
    assert page.evaluate("window.__stayed === true")
    charts_drawn(page, "chart-members", ".recharts-line-curve")
    charts_drawn(page, "chart-messages", ".recharts-bar-rectangle")
    charts_drawn(page, "chart-moderation", ".recharts-bar-rectangle")
    page.get_by_test_id(f"compare-{chess}").click()  # drawn against Makers
    expect(page.get_by_test_id("chart-compare").locator(".recharts-line-curve")).to_have_count(2)
    expect(page.get_by_test_id("chart-compare")).to_contain_text("Chess")
    screenshot(page, "community-analytics")
    with page.expect_download() as download:
        page.get_by_test_id("community-csv").click()
    text = Path(download.value.path()).read_text()
    assert text.startswith("community_id,community,day (UTC)") and ",Chess," in text

    page.get_by_test_id("nav-analytics/flows").click()
    expect(page.get_by_test_id("flow-table-row")).to_have_count(1)
    page.goto(f"{app_url}/analytics/flows?flow={flow}")
    expect(page.get_by_test_id("pick-flow")).to_have_text("Welcome", timeout=30_000)
    expect(page.get_by_test_id("failing-node").first).to_contain_text("chat not found")
    expected = sum(40 + n % 9 for n in range(1, DAYS + 1)) + 1  # 30 days: all, and today
    expect(page.get_by_test_id("stat-executions")).to_have_text(str(expected))
    charts_drawn(page, "chart-executions", ".recharts-bar-rectangle")
    charts_drawn(page, "chart-durations", ".recharts-line-curve")
    charts_drawn(page, "chart-triggers", ".recharts-bar-rectangle")
    screenshot(page, "flow-analytics")

    page.goto(f"{app_url}/flows/{flow}")
    page.get_by_test_id("flow-analytics-link").click()
    page.wait_for_url(f"**/analytics/flows?flow={flow}")
    expect(page.get_by_test_id("pick-flow")).to_have_text("Welcome")

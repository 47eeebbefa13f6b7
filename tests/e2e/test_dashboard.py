"""The Dashboard in the browser: charts drawn from a week of seeded executions and community
figures, the checklist ticked by what exists, and a flow run through the API appearing in
the feed, the counters and the hours chart while the page stays loaded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect
from sqlmodel import Session, select

from engine.models import (
    AdminUser,
    Chat,
    Community,
    CommunityAnalyticsSnapshot,
    CommunityMember,
    ExecutionStatus,
    FlowEvent,
    FlowExecution,
    PlatformAccount,
    Role,
    utcnow,
)
from engine.services import auth, flows
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import ADMIN, new_page, server_db
from tests.flow_helpers import chain

FLOW = "Nightly report"


def _seed_week(session: Session, admin: AdminUser) -> int:
    """A published flow with a week of runs (some failed); two communities with members
    joining through the week, their stored daily snapshots and the messages of the two
    days counted live. The flow's id."""
    graph = chain(("t", "manual", {}), ("v", "set_variable", {"name": "x", "value": "1"}))
    flow = flows.create_flow(session, admin, FLOW, graph=graph)
    flows.publish(session, admin, flow.id or 0)
    now = utcnow()
    for hour in range(1, 7 * 24):
        for n in range(hour * 7 % 5):
            ended = now - timedelta(hours=hour, minutes=n)
            failed = (hour + n) % 6 == 0
            session.add(
                FlowExecution(
                    flow_id=flow.id or 0,
                    status=ExecutionStatus.failed if failed else ExecutionStatus.succeeded,
                    error="HTTP 500" if failed else None,
                    started_at=ended - timedelta(seconds=2),
                    finished_at=ended,
                )
            )
    for name, size in (("Makers", 12), ("Chess club", 7)):
        community = Community(name=name)
        session.add(community)
        session.flush()
        session.add(
            Chat(
                platform="telegram",
                platform_chat_id=f"-100{community.id}",
                title=f"{name} chat",
                community_id=community.id,
            )
        )
        for n in range(size):
            account = PlatformAccount(platform_user_id=f"{name}-{n}", display_name=f"{name} {n}")
            session.add(account)
            session.flush()
            session.add(
                CommunityMember(
                    community_id=community.id or 0,
                    platform_account_id=account.id or 0,
                    joined_at=now - timedelta(days=n % 7, hours=1),
                )
            )
        for back, count in ((0, size), (1, size * 5)):  # today and yesterday: counted live
            sent = now - timedelta(days=back) if back else now - timedelta(minutes=1)
            session.add_all(
                FlowEvent(
                    event_id=f"{name}-{back}-{n}",
                    kind="tg_message",
                    platform="telegram",
                    payload={"chat": {"id": f"-100{community.id}"}, "user": {"id": str(n)}},
                    created_at=sent,
                )
                for n in range(count)
            )
        for back in range(2, 7):
            day = (now - timedelta(days=back)).date()
            session.add(
                CommunityAnalyticsSnapshot(
                    community_id=community.id or 0,
                    day=day,
                    member_count=size - back,
                    messages=size * (7 - back) + 5,
                )
            )
    return flow.id or 0


def test_charts_checklist_and_a_run_streaming_in(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    page = new_page(browser, app_url)  # the first admin
    with server_db(server_data) as session:
        admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
        flow_id = _seed_week(session, admin)
        token = auth.create_api_token(session, admin, "dashboard test", Role.editor).plaintext

    page.goto(app_url)
    executions = page.get_by_test_id("chart-executions")
    expect(executions.locator(".recharts-bar-rectangle").first).to_be_visible()
    for chart in ("chart-messages", "chart-members"):
        lines = page.get_by_test_id(chart).locator("path.recharts-line-curve")
        expect(lines).to_have_count(2)
        expect(page.get_by_test_id(chart)).to_contain_text("Chess club")
    # Three of four steps exist; each is a link to where it is done.
    expect(page.get_by_test_id("start-progress")).to_have_text("3 of 4 done")
    expect(page.get_by_test_id("start-community")).to_have_attribute("data-done", "true")
    expect(page.get_by_test_id("start-connection")).to_have_attribute("data-done", "false")
    expect(page.get_by_test_id("start-connection")).to_have_attribute("href", "/connections")
    counted = int(page.get_by_test_id("stat-executions").inner_text())
    # The bars drawn (an hour without runs draws none): the current hour has none yet.
    bars = executions.locator(".recharts-bar-rectangle path")
    drawn = bars.count()

    # A run started elsewhere shows up without a reload (the marker would be gone).
    page.evaluate("window.__stayed = true")
    answer = httpx.post(
        f"{app_url}/api/flows/{flow_id}/run",
        json={"payload": {"text": "go"}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code in (200, 202), answer.text
    execution_id = answer.json()["execution_id"]
    newest = page.get_by_test_id("activity-item").first
    expect(newest).to_have_attribute("data-key", f"execution-{execution_id}")
    expect(newest).to_contain_text(FLOW)
    expect(newest).to_contain_text("succeeded")
    expect(page.get_by_test_id("stat-executions")).to_have_text(str(counted + 1))
    # The hours chart is read again too (at most every 5 s, or at the next quiet poll).
    expect(bars).to_have_count(drawn + 1, timeout=45_000)
    assert page.evaluate("window.__stayed === true")
    page.set_viewport_size({"width": 1400, "height": 1400})  # the charts below the fold too
    screenshot(page, "dashboard")

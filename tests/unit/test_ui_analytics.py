"""The Analytics pages' state against a real database: a community's days with today
marked partial, compared with another, per metric and range (a bad custom range said),
the CSV of what is shown; the flows page's figures for a failed and a succeeded run."""

from __future__ import annotations

import base64
from datetime import timedelta

from engine.db import session_scope
from engine.models import (
    Community,
    CommunityMember,
    ExecutionStatus,
    FlowExecution,
    PlatformAccount,
    utcnow,
)
from engine.services import flows
from flowbot_ui.state.analytics import CommunityAnalyticsState, FlowAnalyticsState
from tests.ui_harness import People, Tab, names, user


def _communities() -> tuple[int, int]:
    """Makers (two members, one joined today) and Chess (empty)."""
    with session_scope() as session:
        makers, chess = Community(name="Makers"), Community(name="Chess")
        ada = PlatformAccount(platform="telegram", platform_user_id="1", display_name="Ada")
        bob = PlatformAccount(platform="telegram", platform_user_id="2", display_name="Bob")
        session.add_all([makers, chess, ada, bob])
        session.flush()
        session.add_all([
            CommunityMember(community_id=makers.id or 0, platform_account_id=ada.id or 0,
                            joined_at=utcnow() - timedelta(days=3)),
            CommunityMember(community_id=makers.id or 0, platform_account_id=bob.id or 0),
        ])  # fmt: skip
        return makers.id or 0, chess.id or 0


def _csv(events: list) -> str:
    args = {str(key._js_expr): value._var_value for key, value in events[0].args}
    return base64.b64decode(args["url"].split("base64,", 1)[1]).decode()


async def test_a_communitys_days_compared_and_downloaded(people: People) -> None:
    makers, chess = _communities()
    tab = Tab(people.cookies["viewer"], "/analytics", community=str(makers))
    assert names(await tab.run(CommunityAnalyticsState, "load")) == ["_call_script", "watch"]
    await tab.run(CommunityAnalyticsState, "set_time_zone", "UTC")
    page = await tab.state(CommunityAnalyticsState)
    assert {o.label for o in page.options} == {"Makers", "Chess"}
    assert len(page.days) == 30 and page.partial_day and page.today["member_count"] == 2
    assert page.today["joined"] == 1

    await tab.run(CommunityAnalyticsState, "toggle_compared", str(chess))
    assert [line.name for line in page.lines] == ["Makers", "Chess"]
    await tab.run(CommunityAnalyticsState, "pick_metric", "joined")
    assert page.compare_rows[-1][f"c{makers}"] == 1 and page.compare_rows[-1][f"c{chess}"] == 0
    await tab.run(CommunityAnalyticsState, "pick_metric", "passwords")
    assert page.metric == "member_count"
    await tab.run(CommunityAnalyticsState, "toggle_compared", str(chess))
    assert [line.name for line in page.lines] == ["Makers"]

    await tab.run(CommunityAnalyticsState, "pick_range", "7")
    assert len(page.days) == 7
    await tab.run(CommunityAnalyticsState, "set_custom", {"start": "2026-13-01", "end": ""})
    assert page.error == "Pick a first and a last day."
    await tab.run(CommunityAnalyticsState, "pick_range", "90")
    assert page.error == "" and len(page.days) == 90

    events = await tab.run(CommunityAnalyticsState, "download_csv")
    csv = _csv(events)
    lines = csv.splitlines()
    assert lines[0].startswith("community_id,community,day (UTC),member_count")
    assert len(lines) == 91 and lines[-1].startswith(f"{makers},Makers,")
    assert lines[-1].endswith(",True")  # today, still counting


async def test_the_flows_figures(people: People) -> None:
    with session_scope() as session:
        admin = session.merge(user(people.admin_id))
        flow = flows.create_flow(session, admin, "Orders")
        now = utcnow()
        session.add_all([
            FlowExecution(flow_id=flow.id or 0, status=ExecutionStatus.failed, error="boom",
                          started_at=now - timedelta(seconds=2), finished_at=now),
            FlowExecution(flow_id=flow.id or 0, status=ExecutionStatus.succeeded,
                          started_at=now - timedelta(seconds=1), finished_at=now),
        ])  # fmt: skip
        flow_id = flow.id or 0
    tab = Tab(people.cookies["viewer"], "/analytics/flows")
    assert names(await tab.run(FlowAnalyticsState, "load")) == ["_call_script"]
    page = await tab.state(FlowAnalyticsState)
    assert (page.executions, page.success_rate) == (2, "50.0%")
    assert [(row.name, row.executions) for row in page.table] == [("Orders", 2)]
    await tab.run(FlowAnalyticsState, "pick_flow", str(flow_id))
    assert page.table == [] and page.executions == 2
    assert [o.label for o in page.options] == ["All flows", "Orders"]
    csv = _csv(await tab.run(FlowAnalyticsState, "download_csv"))
    assert csv.splitlines()[0].startswith("day")
    await tab.run(FlowAnalyticsState, "pick_flow", "x")
    assert page.flow == "all"

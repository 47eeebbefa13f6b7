"""Analytics series from seeded snapshots, roll-ups and live rows, on both databases:
zero-filled days, carried member counts, the live partial day and time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from engine import maintenance
from engine.models import (
    AdminUser,
    Chat,
    Community,
    CommunityAnalyticsSnapshot,
    CommunityMember,
    ExecutionStatus,
    FlowDailyStats,
    FlowDefinition,
    FlowEvent,
    FlowExecution,
    FlowExecutionStep,
    ModerationAction,
    ModerationLog,
    Platform,
    PlatformAccount,
    Role,
    StepStatus,
    Warning,
)
from engine.services import analytics
from engine.services.analytics import InvalidRange
from engine.services.auth import PermissionDenied
from engine.services.errors import NotFound

NOW = datetime(2030, 6, 15, 12, 30, tzinfo=UTC)
TODAY = NOW.date()
VIEWER = AdminUser(username="victor", role=Role.viewer, password_hash="")
NOBODY = AdminUser(username="gone", role=Role.viewer, password_hash="", is_active=False)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def add(session: Session, row):  # type: ignore[no-untyped-def]
    session.add(row)
    session.flush()
    return row


def member(session: Session, community_id: int, joined: datetime, n: int) -> None:
    account = add(session, PlatformAccount(platform=Platform.telegram, platform_user_id=f"u{n}"))
    add(
        session,
        CommunityMember(
            community_id=community_id, platform_account_id=account.id, joined_at=joined
        ),
    )


def run(
    session: Session,
    flow_id: int,
    status: ExecutionStatus,
    finished: datetime,
    ms: float,
    trigger: str = "manual",
) -> FlowExecution:
    started = finished - timedelta(milliseconds=ms)
    return add(
        session,
        FlowExecution(
            flow_id=flow_id,
            status=status,
            trigger_type=trigger,
            started_at=started,
            finished_at=finished,
        ),
    )


def step(session: Session, execution: FlowExecution, node: str, ms: float, error: str = "") -> None:
    add(
        session,
        FlowExecutionStep(
            execution_id=execution.id,
            seq=len(node) + int(ms),
            step_key=node,
            node_id=node,
            node_type="x",
            status=StepStatus.failed if error else StepStatus.succeeded,
            error=error or None,
            duration_ms=ms,
        ),
    )


# --- ranges ----------------------------------------------------------------------------------


def test_a_range_ends_at_the_viewers_today_never_after_the_utc_one() -> None:
    assert analytics.day_range(7, now=NOW) == analytics.DayRange(days_ago(6), TODAY)
    late_utc = datetime(2030, 6, 15, 3, tzinfo=UTC)  # still June 14 in New York
    ny = analytics.day_range(7, tz="America/New_York", now=late_utc)
    assert (ny.start, ny.end) == (date(2030, 6, 8), date(2030, 6, 14))
    evening = datetime(2030, 6, 15, 20, tzinfo=UTC)  # already June 16 in Auckland
    assert analytics.day_range(1, tz="Pacific/Auckland", now=evening).end == TODAY
    custom = analytics.day_range(None, start=date(2030, 1, 1), end=date(2030, 1, 3), now=NOW)
    assert custom.days() == [date(2030, 1, 1), date(2030, 1, 2), date(2030, 1, 3)]


@pytest.mark.parametrize(
    "arguments",
    [
        {"days": 0},
        {"days": 400},
        {"days": None, "start": date(2030, 6, 14), "end": date(2030, 6, 1)},
        {"days": 7, "tz": "Mars/Olympus"},
    ],
)
def test_ranges_it_cannot_show_are_refused(arguments: dict) -> None:
    with pytest.raises(InvalidRange):
        analytics.day_range(now=NOW, **arguments)


# --- communities -----------------------------------------------------------------------------


def test_community_series_zero_fills_carries_members_and_counts_today_live(
    session: Session,
) -> None:
    c = add(session, Community(name="cats")).id
    other = add(session, Community(name="dogs")).id
    add(session, CommunityAnalyticsSnapshot(community_id=c, day=days_ago(9), member_count=40))
    add(
        session,
        CommunityAnalyticsSnapshot(
            community_id=c,
            day=days_ago(4),
            member_count=42,
            joined=3,
            left=1,
            messages=50,
            active_members=7,
            warnings=2,
            bans=1,
        ),
    )
    # Live: two members before yesterday, one joined yesterday, one today (after noon: later).
    for n, joined in enumerate(
        [
            NOW - timedelta(days=5),
            NOW - timedelta(days=5),
            NOW - timedelta(days=1),
            NOW - timedelta(minutes=5),
        ]
    ):
        member(session, c, joined, n)
    member(session, other, NOW - timedelta(hours=1), 99)
    account = session.exec(select(PlatformAccount)).first()
    assert account is not None
    add(session, Warning(community_id=c, platform_account_id=account.id, created_at=NOW))
    session.commit()

    days = analytics.day_range(6, now=NOW)
    series = analytics.community_series(session, VIEWER, c, days, now=NOW)

    assert [row.day for row in series] == days.days()
    figures = [(r.member_count, r.joined, r.messages, r.warnings, r.partial) for r in series]
    assert figures == [
        (40, 0, 0, 0, False),  # no snapshot: carried from 9 days ago
        (42, 3, 50, 2, False),  # the snapshot
        (42, 0, 0, 0, False),
        (42, 0, 0, 0, False),
        (3, 1, 0, 0, False),  # yesterday, live (its job has not necessarily run)
        (4, 1, 0, 1, True),  # today, live and partial
    ]
    both = analytics.compare_communities(session, VIEWER, [c, other], days, now=NOW)
    assert both[c] == series
    assert [r.member_count for r in both[other]] == [0, 0, 0, 0, 0, 1]


def test_two_live_days_are_counted_together_each_by_its_own_end(session: Session) -> None:
    """Yesterday (its snapshot not taken yet) and today are read in one pass per table:
    leaves, bans, messages and senders must still land on their own day."""
    c = add(session, Community(name="cats")).id
    add(session, Chat(platform=Platform.telegram, platform_chat_id="-100", community_id=c))
    yesterday_noon, long_ago = NOW - timedelta(days=1), NOW - timedelta(days=5)
    people = [
        (long_ago, None, False),  # stays: present on both days
        (long_ago, yesterday_noon, False),  # left yesterday: present on neither
        (long_ago, NOW - timedelta(hours=1), False),  # left today: present yesterday only
        (yesterday_noon, None, False),  # joined yesterday
        (long_ago, None, True),  # banned: never counted as present
        (NOW - timedelta(minutes=5), None, False),  # joined today
    ]
    for n, (joined, left, banned) in enumerate(people):
        account = add(session, PlatformAccount(platform=Platform.telegram, platform_user_id=f"{n}"))
        add(
            session,
            CommunityMember(
                community_id=c,
                platform_account_id=account.id,
                joined_at=joined,
                left_at=left,
                is_banned=banned,
            ),
        )
    add(session, Warning(community_id=c, platform_account_id=account.id, created_at=yesterday_noon))
    add(session, ModerationLog(community_id=c, action=ModerationAction.ban, created_at=NOW))
    for n, (kind, user, when) in enumerate(
        [
            ("tg_message", "1", yesterday_noon),
            ("tg_message", "1", yesterday_noon + timedelta(hours=1)),
            ("tg_message", "2", yesterday_noon),
            ("tg_message", "1", NOW),
            ("tg_member_joined", "3", NOW),  # not a message
        ]
    ):
        payload = {"platform": "telegram", "chat": {"id": "-100"}, "user": {"id": user}}
        add(
            session,
            FlowEvent(
                event_id=f"e{n}", kind=kind, platform="telegram", payload=payload, created_at=when
            ),
        )
    session.commit()

    series = analytics.community_series(session, VIEWER, c, analytics.day_range(2, now=NOW), NOW)

    fields = ("member_count", "joined", "left", "messages", "active_members", "warnings", "bans")
    assert [tuple(getattr(r, f) for f in fields) for r in series] == [
        (3, 1, 1, 3, 2, 1, 0),  # yesterday
        (3, 1, 1, 1, 1, 0, 1),  # today so far
    ]


def test_community_series_refuses_unknown_communities_and_signed_out_users(
    session: Session,
) -> None:
    days = analytics.day_range(7, now=NOW)
    with pytest.raises(NotFound):
        analytics.community_series(session, VIEWER, 404, days, now=NOW)
    with pytest.raises(PermissionDenied):
        analytics.community_series(session, NOBODY, 404, days, now=NOW)


# --- flows -----------------------------------------------------------------------------------


def seeded_flows(session: Session) -> tuple[int, int]:
    """Two flows: rolled-up days long ago, and executions yesterday and today."""
    a = add(session, FlowDefinition(name="welcome")).id
    b = add(session, FlowDefinition(name="antispam")).id
    add(
        session,
        FlowDailyStats(
            flow_id=a,
            day=days_ago(3),
            executions=10,
            succeeded=8,
            failed=2,
            duration_histogram={"100": 9, "1000": 1},
        ),
    )
    add(
        session,
        FlowDailyStats(
            flow_id=b, day=days_ago(3), executions=5, succeeded=5, duration_histogram={"10": 5}
        ),
    )
    yesterday = NOW - timedelta(days=1)
    run(session, a, ExecutionStatus.succeeded, yesterday, 40)
    failed = run(session, a, ExecutionStatus.failed, NOW - timedelta(minutes=20), 300)
    step(session, failed, "send1", 250, error="chat not found")
    run(session, b, ExecutionStatus.stopped, NOW - timedelta(minutes=10), 5, trigger="webhook")
    add(session, FlowExecution(flow_id=a, status=ExecutionStatus.running))  # not finished
    session.commit()
    return a, b


def test_flow_series_per_flow_and_across_flows(session: Session) -> None:
    a, _ = seeded_flows(session)
    days = analytics.day_range(4, now=NOW)

    one = analytics.flow_series(session, VIEWER, a, days, now=NOW)
    assert [(r.executions, r.succeeded, r.failed, r.stopped, r.partial) for r in one] == [
        (10, 8, 2, 0, False),
        (0, 0, 0, 0, False),
        (1, 1, 0, 0, False),
        (1, 0, 1, 0, True),
    ]
    assert one[1].p50_ms is None  # a day without executions has no durations
    assert one[0].p50_ms == pytest.approx(50 + 50 * (5 / 9))  # inside the 50..100 bucket
    assert one[0].p95_ms == pytest.approx(500 + 500 * 0.5)  # the one slow run, 500..1000
    assert one[2].p50_ms == pytest.approx(25 + 25 * 0.5)  # 40 ms, counted live

    every = analytics.flow_series(session, VIEWER, None, days, now=NOW)
    assert [(r.executions, r.stopped) for r in every] == [(15, 0), (0, 0), (1, 0), (2, 1)]
    with pytest.raises(NotFound):
        analytics.flow_series(session, VIEWER, 404, days, now=NOW)


def test_executions_per_hour_are_local_hours_with_every_hour_present(session: Session) -> None:
    a, _ = seeded_flows(session)
    hours = analytics.executions_per_hour(session, VIEWER, hours=3, tz="Asia/Tokyo", now=NOW)
    assert [h.hour.isoformat() for h in hours] == [
        "2030-06-15T19:00:00+09:00",
        "2030-06-15T20:00:00+09:00",
        "2030-06-15T21:00:00+09:00",  # the current hour (12:30 UTC)
    ]
    assert [(h.succeeded, h.failed) for h in hours] == [(0, 0), (0, 0), (0, 1)]  # stopped: neither
    day = analytics.executions_per_hour(session, VIEWER, hours=48, now=NOW)
    assert len(day) == 48 and sum(h.succeeded for h in day) == 1
    with pytest.raises(InvalidRange):
        analytics.executions_per_hour(session, VIEWER, hours=10_000, now=NOW)


def test_the_daily_rollup_is_what_the_live_count_was_and_safe_to_rerun(session: Session) -> None:
    a, b = seeded_flows(session)
    yesterday = days_ago(1)
    live = analytics.flow_series(session, VIEWER, None, analytics.day_range(2, now=NOW), now=NOW)

    assert maintenance.rollup_flow_stats(yesterday) == 1
    assert maintenance.rollup_flow_stats(yesterday) == 1  # again: replaced, not added
    session.expire_all()
    rows = session.exec(select(FlowDailyStats).where(FlowDailyStats.day == yesterday)).all()
    assert [(r.flow_id, r.executions, r.succeeded, r.duration_histogram) for r in rows] == [
        (a, 1, 1, {"50": 1})
    ]
    for execution in session.exec(select(FlowExecution).where(FlowExecution.flow_id == a)):
        if execution.finished_at and execution.finished_at.date() == yesterday:
            session.delete(execution)  # as if pruned: the stored day is what is read now
    session.commit()
    from_store = analytics.flow_series(session, VIEWER, a, analytics.day_range(2, now=NOW), now=NOW)
    assert [(r.executions, r.partial) for r in from_store] == [(1, False), (1, True)]
    later = NOW + timedelta(days=2)  # yesterday is now read from the roll-up
    stored = analytics.flow_series(
        session,
        VIEWER,
        None,
        analytics.day_range(None, start=yesterday, end=yesterday, now=later),
        now=later,
    )
    assert (stored[0].executions, stored[0].p50_ms) == (live[0].executions, live[0].p50_ms)

    assert maintenance.rollup_flow_stats(TODAY) == 2
    today = {
        r.flow_id: r
        for r in session.exec(select(FlowDailyStats).where(FlowDailyStats.day == TODAY)).all()
    }
    assert today[a].failed_nodes == {"send1": {"count": 1, "errors": {"chat not found": 1}}}
    assert today[a].node_time == {"send1": [1, 250.0]}
    assert today[b].triggers == {"webhook": 1}
    for execution in session.exec(select(FlowExecution).where(FlowExecution.flow_id == b)):
        session.delete(execution)
    session.commit()
    assert maintenance.rollup_flow_stats(TODAY) == 1  # b's row goes with its executions
    session.expire_all()
    assert [
        r.flow_id for r in session.exec(select(FlowDailyStats).where(FlowDailyStats.day == TODAY))
    ] == [a]


def test_flow_summary_merges_rollups_with_the_live_days(session: Session) -> None:
    a, b = seeded_flows(session)
    add(
        session,
        FlowDailyStats(
            flow_id=a,
            day=days_ago(5),
            executions=4,
            succeeded=2,
            failed=2,
            duration_ms_sum=400.0,
            duration_histogram={"100": 4},
            triggers={"tg_message": 4},
            failed_nodes={"send1": {"count": 2, "errors": {"flood wait": 1, "chat not found": 1}}},
            node_time={"send1": [4, 200.0], "if1": [4, 4.0]},
        ),
    )
    session.commit()
    days = analytics.day_range(7, now=NOW)

    one = analytics.flow_summary(session, VIEWER, a, days, now=NOW)
    assert (one.executions, one.succeeded, one.failed, one.stopped) == (16, 11, 5, 0)
    assert one.success_rate == pytest.approx(11 / 16)
    assert [(t.kind, t.count) for t in one.triggers] == [("tg_message", 4), ("manual", 2)]
    (send1,) = one.top_failing
    assert (send1.flow_name, send1.node_id, send1.failures) == ("welcome", "send1", 3)
    assert (send1.top_error, send1.top_error_count) == ("chat not found", 2)
    assert [(n.node_id, n.runs, n.avg_ms) for n in one.node_times] == [
        ("send1", 5, pytest.approx(90.0)),
        ("if1", 4, pytest.approx(1.0)),
    ]

    every = analytics.flow_summary(session, VIEWER, None, days, now=NOW)
    assert (every.executions, every.stopped) == (22, 1)
    assert [t.kind for t in every.triggers] == ["tg_message", "manual", "webhook"]

    table = analytics.flow_table(session, VIEWER, days, now=NOW)
    assert [(r.name, r.executions, r.failed) for r in table] == [
        ("welcome", 16, 5),
        ("antispam", 6, 0),
    ]
    assert table[1].success_rate == 1.0


def test_csv_exports_the_series_and_keeps_names_from_being_formulas(session: Session) -> None:
    c = add(session, Community(name="=HYPERLINK(1)")).id
    add(session, CommunityAnalyticsSnapshot(community_id=c, day=days_ago(3), member_count=5))
    seeded_flows(session)
    session.commit()
    days = analytics.day_range(3, now=NOW)

    lines = analytics.communities_csv(session, VIEWER, [c], days, now=NOW).splitlines()
    assert lines[0].startswith("community_id,community,day (UTC),member_count,joined")
    assert lines[1] == f"{c},'=HYPERLINK(1),{days_ago(2)},5,0,0,0,0,0,0,False"
    assert lines[-1].endswith(",True")
    flows = analytics.flow_series_csv(session, VIEWER, None, days, now=NOW).splitlines()
    assert flows[1:] == [
        f"{days_ago(2)},0,0,0,0,,,False",
        f"{days_ago(1)},1,1,0,0,37.5,48.8,False",
        f"{TODAY},2,0,1,1,10.0,475.0,True",
    ]


def test_a_finished_month_is_one_row_per_flow_that_long_ranges_read(session: Session) -> None:
    a = add(session, FlowDefinition(name="welcome")).id
    for day, n in (
        (date(2030, 4, 30), 1),
        (date(2030, 5, 10), 2),
        (date(2030, 5, 20), 3),
        (date(2030, 6, 1), 4),
    ):
        add(
            session,
            FlowDailyStats(
                flow_id=a,
                day=day,
                executions=n,
                succeeded=n,
                duration_histogram={"100": n},
                triggers={"manual": n},
                node_time={"send1": [n, 10.0 * n]},
                failed_nodes={"send1": {"count": 1, "errors": {"x": 1}}},
            ),
        )
    session.commit()

    assert maintenance.rollup_flow_month(date(2030, 5, 1)) == 1
    assert maintenance.rollup_flow_month(date(2030, 5, 1)) == 1  # again: replaced
    session.expire_all()
    (month,) = session.exec(select(FlowDailyStats).where(FlowDailyStats.span == "month")).all()
    assert (month.day, month.executions, month.duration_histogram) == (
        date(2030, 5, 1),
        5,
        {"100": 5},
    )
    assert month.node_time == {"send1": [5, 50.0]}
    assert month.failed_nodes == {"send1": {"count": 2, "errors": {"x": 2}}}

    month.executions = 50  # shows which rows a range reads
    session.add(month)
    session.commit()
    whole = analytics.day_range(None, start=date(2030, 4, 30), end=date(2030, 6, 1), now=NOW)
    assert analytics.flow_summary(session, VIEWER, a, whole, now=NOW).executions == 55
    part = analytics.day_range(None, start=date(2030, 5, 10), end=date(2030, 6, 1), now=NOW)
    assert analytics.flow_summary(session, VIEWER, a, part, now=NOW).executions == 9
    days = analytics.flow_series(session, VIEWER, a, whole, now=NOW)
    assert sum(d.executions for d in days) == 10  # the daily series reads the days

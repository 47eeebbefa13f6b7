"""Daily housekeeping: sample events kept once, history pruned, analytics snapshots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from engine import actors, broker, maintenance, worker
from engine.models import (
    Chat,
    Community,
    CommunityAnalyticsSnapshot,
    CommunityMember,
    ExecutionStatus,
    FlowDefinition,
    FlowEvent,
    FlowExecution,
    FlowExecutionStep,
    ModerationAction,
    ModerationLog,
    Platform,
    PlatformAccount,
    Warning,
    WebhookEndpoint,
    WebhookSignatureSeen,
)
from engine.nodes.utility import as_utc, stored_time
from engine.platform_event import EventChat, PlatformEvent
from engine.services.webhooks import SEEN_RETENTION

NOW = datetime(2030, 6, 15, 12, tzinfo=UTC)
DAY = date(2030, 6, 14)
NOON = datetime(2030, 6, 14, 12, tzinfo=UTC)  # in the middle of DAY


def routed_event(event_id: str = "tg:1") -> dict:
    return PlatformEvent(
        event_id=event_id,
        kind="tg_command",
        platform="telegram",
        chat=EventChat(id="-1", type="group"),
        command="start",
    ).as_trigger()


def test_route_event_keeps_a_redelivered_event_once(sqlite_session: Session) -> None:
    payload = routed_event()
    actors.route_event.fn(payload)
    actors.route_event.fn(payload)  # redelivered
    rows = sqlite_session.exec(select(FlowEvent)).all()
    assert [(r.event_id, r.kind, r.platform, r.payload) for r in rows] == [
        ("tg:1", "tg_command", "telegram", payload)
    ]
    ttl = as_utc(rows[0].expires_at) - as_utc(rows[0].created_at)
    assert ttl == maintenance.EVENT_TTL


def test_a_sample_payload_is_kept_redacted(sqlite_session: Session) -> None:
    payload = {**routed_event(), "raw": {"message": {"text": "hi"}, "auth_token": "s3cr3t-value"}}
    actors.route_event.fn(payload)
    (row,) = sqlite_session.exec(select(FlowEvent)).all()
    assert row.payload["raw"] == {"message": {"text": "hi"}, "auth_token": "[redacted]"}


def test_a_refused_sample_does_not_fail_the_routing(
    sqlite_session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    payload = {**routed_event(), "instance_id": 999}  # no such bot instance: FK refuses it
    actors.route_event.fn(payload)
    assert sqlite_session.exec(select(FlowEvent)).all() == []
    assert "tg:1 not kept as a sample payload" in caplog.text


def execution(
    session: Session, flow_id: int, status: ExecutionStatus, finished: datetime | None
) -> int:
    row = FlowExecution(flow_id=flow_id, status=status, finished_at=finished)
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add(
        FlowExecutionStep(
            execution_id=row.id, seq=1, step_key="a", node_id="a", node_type="template"
        )
    )
    return row.id


def test_prune_removes_exactly_the_expired_and_old(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maintenance, "PRUNE_BATCH", 2)  # several batches
    s = sqlite_session
    for n, expires in enumerate([NOW - timedelta(seconds=1)] * 3 + [NOW + timedelta(seconds=1)]):
        s.add(FlowEvent(event_id=f"e{n}", kind="k", platform="telegram", expires_at=expires))
    flow = FlowDefinition(name="f")
    s.add(flow)
    s.flush()
    assert flow.id is not None
    old = NOW - maintenance.EXECUTION_RETENTION - timedelta(seconds=1)
    recent = NOW - maintenance.EXECUTION_RETENTION + timedelta(seconds=1)
    gone = [
        execution(s, flow.id, ExecutionStatus.succeeded, old),
        execution(s, flow.id, ExecutionStatus.failed, old),
        execution(s, flow.id, ExecutionStatus.stopped, old),
    ]
    kept = [
        execution(s, flow.id, ExecutionStatus.succeeded, recent),
        execution(s, flow.id, ExecutionStatus.waiting, None),
        execution(s, flow.id, ExecutionStatus.running, None),
    ]
    s.commit()

    assert maintenance.prune_flow_events(NOW) == {
        "events": 3,
        "executions": 3,
        "webhook_signatures": 0,
    }

    s.expire_all()
    assert s.exec(select(FlowEvent.event_id)).all() == ["e3"]
    assert sorted(s.exec(select(FlowExecution.id)).all()) == kept
    steps = s.exec(select(FlowExecutionStep.execution_id)).all()
    assert sorted(steps) == kept  # the pruned executions' steps went with them
    assert not set(gone) & set(steps)
    assert maintenance.prune_flow_events(NOW) == {
        "events": 0,
        "executions": 0,
        "webhook_signatures": 0,
    }


def test_prune_forgets_webhook_signatures_once_too_old_to_replay(
    sqlite_session: Session,
) -> None:
    s = sqlite_session
    flow = FlowDefinition(name="f")
    s.add(flow)
    s.flush()
    endpoint = WebhookEndpoint(name="w", token="t", flow_id=flow.id)
    s.add(endpoint)
    s.flush()
    for name, age in [("old", SEEN_RETENTION + timedelta(seconds=1)), ("recent", SEEN_RETENTION)]:
        seen_at = stored_time(NOW - age)
        s.add(WebhookSignatureSeen(endpoint_id=endpoint.id, signature=name, seen_at=seen_at))
    s.commit()

    assert maintenance.prune_flow_events(NOW)["webhook_signatures"] == 1
    s.expire_all()
    assert s.exec(select(WebhookSignatureSeen.signature)).all() == ["recent"]


def member(
    session: Session,
    community_id: int,
    platform: Platform,
    joined: datetime,
    *,
    left: datetime | None = None,
    active: datetime | None = None,
    banned: bool = False,
) -> int:
    account = PlatformAccount(platform=platform, platform_user_id=f"u{joined}{platform}{left}")
    session.add(account)
    session.flush()
    assert account.id is not None
    session.add(
        CommunityMember(
            community_id=community_id,
            platform_account_id=account.id,
            joined_at=joined,
            left_at=left,
            last_active_at=active,
            is_banned=banned,
            message_count=40,
        )
    )
    return account.id


def snapshots(session: Session) -> list[CommunityAnalyticsSnapshot]:
    session.expire_all()
    return list(session.exec(select(CommunityAnalyticsSnapshot)).all())


def test_snapshot_figures_for_a_small_community(sqlite_session: Session) -> None:
    s = sqlite_session
    community, empty = Community(name="c"), Community(name="quiet")
    s.add_all([community, empty])
    s.flush()
    assert community.id is not None and empty.id is not None
    c = community.id
    before = NOON - timedelta(days=3)
    member(s, c, Platform.telegram, before, active=NOON)  # stays, active that day
    member(s, c, Platform.telegram, NOON)  # joins that day
    member(s, c, Platform.discord, NOON - timedelta(hours=11))  # joins that day
    member(s, c, Platform.discord, before, left=NOON)  # leaves that day
    member(s, c, Platform.telegram, NOON + timedelta(days=1))  # joins the next day
    member(s, c, Platform.telegram, before, left=NOON + timedelta(days=1))  # leaves later
    spammer = member(s, c, Platform.whatsapp, before, banned=True)
    s.add(Warning(community_id=c, platform_account_id=spammer, created_at=NOON))
    s.add(Warning(community_id=c, platform_account_id=spammer, created_at=NOON - timedelta(days=1)))
    s.add(ModerationLog(community_id=c, action=ModerationAction.ban, created_at=NOON))
    s.add(ModerationLog(community_id=c, action=ModerationAction.mute, created_at=NOON))
    s.add(Chat(platform="telegram", platform_chat_id="-100", community_id=c))
    for n, (kind, chat, user, when) in enumerate(
        [
            ("tg_message", "-100", "1", NOON),
            ("tg_message", "-100", "1", NOON + timedelta(hours=1)),
            ("tg_message", "-100", "2", NOON - timedelta(hours=11)),
            ("tg_message", "-999", "3", NOON),  # a chat of no community
            ("tg_message", "-100", "4", NOON + timedelta(days=1)),  # the next day
            ("tg_member_joined", "-100", "5", NOON),  # not a message
        ]
    ):
        payload = {"platform": "telegram", "chat": {"id": chat}, "user": {"id": user}}
        s.add(FlowEvent(event_id=f"e{n}", kind=kind, platform="telegram", payload=payload,
                        created_at=when))  # fmt: skip
    s.commit()

    assert maintenance.snapshot_analytics(DAY) == 2

    by_community = {row.community_id: row for row in snapshots(s)}
    row = by_community[c]
    assert row.day == DAY
    figures = (row.member_count, row.joined, row.left, row.warnings, row.bans)
    assert figures == (4, 2, 1, 1, 1)
    assert row.by_platform == {"telegram": 3, "discord": 1}
    assert (row.messages, row.active_members) == (3, 2)  # from the day's recorded events
    quiet = by_community[empty.id]
    assert (quiet.member_count, quiet.joined, quiet.by_platform) == (0, 0, {})


def test_rerunning_a_snapshot_replaces_the_day(sqlite_session: Session) -> None:
    s = sqlite_session
    community = Community(name="c")
    s.add(community)
    s.flush()
    assert community.id is not None
    member(s, community.id, Platform.telegram, NOON)
    s.commit()
    maintenance.snapshot_analytics(DAY)
    member(s, community.id, Platform.discord, NOON + timedelta(hours=1))
    s.commit()
    actors.snapshot_communities.fn(DAY.isoformat())
    maintenance.snapshot_analytics(DAY + timedelta(days=1))

    rows = sorted(snapshots(s), key=lambda r: r.day)
    assert [(r.day, r.joined, r.member_count) for r in rows] == [
        (DAY, 2, 2),
        (DAY + timedelta(days=1), 0, 2),
    ]


def test_the_timer_sends_each_daily_job_once_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broker, "_claims", {})
    sent: list[str] = []
    monkeypatch.setattr(actors.snapshot_communities, "send", lambda day: sent.append(day))
    monkeypatch.setattr(actors.prune_history, "send", lambda: sent.append("prune"))
    monkeypatch.setattr(actors.rollup_flow_stats, "send", lambda day: sent.append(f"flows {day}"))
    midnight = datetime(2030, 6, 15, tzinfo=UTC)
    ticks = [midnight + timedelta(minutes=m) for m in range(0, 24 * 60, 15)]
    for tick in ticks + [t + timedelta(days=1) for t in ticks]:
        worker.send_daily(tick)
        worker.send_daily(tick)  # another process, same tick
        if tick.hour == 2 and tick.minute == 0:  # the jobs of 02:00 were sent just now
            yesterday = (tick.date() - timedelta(days=1)).isoformat()
            assert sent[-2:] == [yesterday, f"flows {yesterday}"]
    assert sent == [
        *("2030-06-14", "flows 2030-06-14", "prune"),
        *("2030-06-15", "flows 2030-06-15", "prune"),
    ]

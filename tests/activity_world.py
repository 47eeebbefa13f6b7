"""Rows of each kind the activity feed reads, at known moments (service and API tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from engine.models import (
    BotInstance,
    Community,
    CommunityMember,
    ExecutionStatus,
    FlowDefinition,
    FlowExecution,
    ModerationAction,
    ModerationLog,
    PlatformAccount,
    PlatformConnection,
    PlatformConnectionLog,
)

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def seed_each_kind(session: Session) -> dict[str, int]:
    """One row of each kind, a minute apart, and two executions at the same moment as the
    join (ties are ordered by kind, then id)."""
    flow = FlowDefinition(name="Welcome")
    community = Community(name="Makers")
    ada = PlatformAccount(platform_user_id="42", display_name="Ada")
    bob = PlatformAccount(platform_user_id="43", username="bob")
    bot = BotInstance(name="Support bot")
    session.add_all([flow, community, ada, bob, bot])
    session.flush()
    connection = PlatformConnection(bot_instance_id=bot.id or 0)
    session.add(connection)
    session.flush()
    ok = FlowExecution(flow_id=flow.id or 0, status=ExecutionStatus.succeeded, started_at=at(1))
    failed = FlowExecution(
        flow_id=flow.id or 0,
        status=ExecutionStatus.failed,
        error="HTTP 500 from the API\nand a long trace",
        trigger_type="message",
        started_at=at(3),
    )
    tied = FlowExecution(flow_id=flow.id or 0, started_at=at(3))
    joined = CommunityMember(
        community_id=community.id or 0, platform_account_id=ada.id or 0, joined_at=at(3)
    )
    left = CommunityMember(
        community_id=community.id or 0,
        platform_account_id=bob.id or 0,
        joined_at=at(0),
        left_at=at(5),
    )
    ban = ModerationLog(
        community_id=community.id,
        action=ModerationAction.ban,
        target_account_id=bob.id,
        actor="ada",
        reason="spam",
        details={"results": [{"platform": "telegram", "chat_id": "-1", "ok": False}]},
        created_at=at(4),
    )
    down = PlatformConnectionLog(
        connection_id=connection.id or 0,
        level="error",
        event="status.error",
        message="Unauthorized",
        created_at=at(2),
    )
    session.add_all([ok, failed, tied, joined, left, ban, down])
    session.commit()
    return {
        "ok": ok.id or 0,
        "failed": failed.id or 0,
        "tied": tied.id or 0,
        "joined": joined.id or 0,
        "left": left.id or 0,
    }

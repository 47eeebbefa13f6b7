"""The activity feed read back from seeded rows of each kind, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from engine.models import (
    AdminUser,
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
    Role,
)
from engine.services.activity import ActivityKind, recent_activity
from engine.services.auth import PermissionDenied

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _user(session: Session, name: str, role: Role, *, active: bool = True) -> AdminUser:
    user = AdminUser(username=name, role=role, password_hash="x", is_active=active)
    session.add(user)
    session.flush()
    return user


def _seed(session: Session) -> dict[str, int]:
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
    ok = FlowExecution(flow_id=flow.id or 0, status=ExecutionStatus.succeeded, started_at=_at(1))
    failed = FlowExecution(
        flow_id=flow.id or 0,
        status=ExecutionStatus.failed,
        error="HTTP 500 from the API\nand a long trace",
        trigger_type="message",
        started_at=_at(3),
    )
    tied = FlowExecution(flow_id=flow.id or 0, started_at=_at(3))
    joined = CommunityMember(
        community_id=community.id or 0, platform_account_id=ada.id or 0, joined_at=_at(3)
    )
    left = CommunityMember(
        community_id=community.id or 0,
        platform_account_id=bob.id or 0,
        joined_at=_at(0),
        left_at=_at(5),
    )
    ban = ModerationLog(
        community_id=community.id,
        action=ModerationAction.ban,
        target_account_id=bob.id,
        actor="ada",
        reason="spam",
        details={"results": [{"platform": "telegram", "chat_id": "-1", "ok": False}]},
        created_at=_at(4),
    )
    down = PlatformConnectionLog(
        connection_id=connection.id or 0,
        level="error",
        event="status.error",
        message="Unauthorized",
        created_at=_at(2),
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


def test_newest_first_with_each_kind_in_words(session: Session) -> None:
    ids = _seed(session)
    viewer = _user(session, "vic", Role.viewer)
    items = recent_activity(session, viewer, limit=50)
    assert [(i.kind, i.at) for i in items] == [
        (ActivityKind.member_left, _at(5)),
        (ActivityKind.moderation, _at(4)),
        (ActivityKind.member_joined, _at(3)),
        (ActivityKind.execution, _at(3)),
        (ActivityKind.execution, _at(3)),
        (ActivityKind.connection, _at(2)),
        (ActivityKind.execution, _at(1)),
        (ActivityKind.member_joined, _at(0)),
    ]
    left, ban, joined, tied, failed, down, ok, bob_joined = items
    assert (left.title, left.status, left.link) == (
        "@bob left Makers",
        "left",
        f"/members/{ids['left']}",
    )
    assert (joined.title, joined.status) == ("Ada joined Makers", "joined")
    assert bob_joined.row_id == left.row_id == ids["left"]
    assert (ban.title, ban.detail, ban.status) == ("Ban @bob in Makers", "by ada: spam", "failed")
    assert (tied.row_id, failed.row_id) == (ids["tied"], ids["failed"])  # same moment: by id
    assert (failed.title, failed.status) == ("Welcome", "failed")
    assert failed.detail == "message trigger: HTTP 500 from the API"
    assert failed.link == f"/executions/{ids['failed']}"
    assert (ok.status, ok.detail) == ("succeeded", "manual trigger")
    assert (down.title, down.detail, down.status) == (
        "Support bot: Failed",
        "Unauthorized",
        "error",
    )
    assert all(i.at.tzinfo is not None for i in items)


def test_pages_continue_without_gaps_or_repeats(session: Session) -> None:
    _seed(session)
    viewer = _user(session, "vic", Role.viewer)
    whole = recent_activity(session, viewer, limit=50)
    for size in (1, 2, 3):
        seen, before = [], None
        while page := recent_activity(session, viewer, limit=size, before=before):
            assert len(page) <= size
            seen += page
            before = page[-1].cursor
        assert seen == whole, size


def test_the_limit_is_bounded_and_only_signed_in_accounts_read(session: Session) -> None:
    _seed(session)
    viewer = _user(session, "vic", Role.viewer)
    assert len(recent_activity(session, viewer, limit=3)) == 3
    assert len(recent_activity(session, viewer, limit=0)) == 1
    gone = _user(session, "old", Role.admin, active=False)
    with pytest.raises(PermissionDenied):
        recent_activity(session, gone)

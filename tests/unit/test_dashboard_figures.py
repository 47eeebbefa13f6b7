"""The dashboard's figures: the counters, the checklist's ticks and the charted communities."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from engine.models import (
    AdminUser,
    BotInstance,
    Chat,
    Community,
    CommunityAnalyticsSnapshot,
    CommunityMember,
    FlowDefinition,
    PlatformAccount,
    PlatformConnection,
    Role,
)
from engine.services.analytics import day_range
from engine.services.auth import PermissionDenied
from engine.services.overview import CHARTED_COMMUNITIES, community_trends, overview

NOW = datetime(2030, 3, 10, 15, 0, tzinfo=UTC)


def _viewer(session: Session, *, active: bool = True) -> AdminUser:
    user = AdminUser(username=f"vic{active}", role=Role.viewer, password_hash="x", is_active=active)
    session.add(user)
    session.flush()
    return user


def test_the_checklist_ticks_as_things_are_set_up(session: Session) -> None:
    viewer = _viewer(session)
    empty = overview(session, viewer)
    ticks = ("connection_added", "community_created", "chat_attached", "flow_published")
    assert not any(getattr(empty, tick) for tick in ticks)
    bot, community = BotInstance(name="bot"), Community(name="Makers")
    built_in = FlowDefinition(name="Rules", system_kind="community_rules", published_version_id=1)
    session.add_all([bot, community, built_in, FlowDefinition(name="Draft")])
    session.flush()
    session.add_all(
        [
            PlatformConnection(bot_instance_id=bot.id or 0),
            Chat(platform="telegram", platform_chat_id="-1", title="Loose"),
        ]
    )
    session.commit()
    some = overview(session, viewer)
    assert (some.connection_added, some.community_created) == (True, True)
    assert not some.chat_attached and not some.flow_published  # built-in flows do not count
    assert (some.total_flows, some.connections_total, some.connections_up) == (2, 1, 0)
    session.add_all(
        [
            Chat(platform="telegram", platform_chat_id="-2", title="In", community_id=community.id),
            FlowDefinition(name="Welcome", published_version_id=2),
        ]
    )
    session.commit()
    done = overview(session, viewer)
    assert all(getattr(done, tick) for tick in ticks)


def test_the_largest_communities_are_charted(session: Session) -> None:
    viewer = _viewer(session)
    sizes = [2, 0, 5, 1, 3, 4, 6]  # seven communities: the five largest are charted
    accounts = [PlatformAccount(platform_user_id=str(n)) for n in range(max(sizes) + 1)]
    session.add_all(accounts)
    session.flush()
    ids: list[int] = []
    for n, size in enumerate(sizes):
        community = Community(name=f"c{n}")
        session.add(community)
        session.flush()
        ids.append(community.id or 0)
        members = [
            CommunityMember(
                community_id=community.id or 0,
                platform_account_id=accounts[k].id or 0,
                joined_at=NOW - timedelta(days=30),
            )
            for k in range(size + 1)
        ]
        members[-1].left_at = NOW - timedelta(days=20)  # one left: not counted as present
        session.add_all(members)
    session.add(
        CommunityAnalyticsSnapshot(
            community_id=ids[6], day=date(2030, 3, 5), member_count=6, messages=40
        )
    )
    session.commit()
    trends = community_trends(session, viewer, day_range(7, now=NOW), NOW)
    assert [t.name for t in trends] == ["c6", "c2", "c5", "c4", "c0"]
    assert len(trends) == CHARTED_COMMUNITIES
    largest = trends[0]
    assert [d.day for d in largest.days][0] == date(2030, 3, 4) and len(largest.days) == 7
    assert [d.messages for d in largest.days][1] == 40
    assert largest.days[-1].member_count == 6 and largest.days[-1].partial
    gone = _viewer(session, active=False)
    with pytest.raises(PermissionDenied):
        community_trends(session, gone, day_range(7, now=NOW), NOW)
    with pytest.raises(PermissionDenied):
        overview(session, gone)

"""Figures for the dashboard, counted in the database (never estimated): the counters,
whether each "Getting started" step is done, and which communities its charts show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.models import (
    AdminUser,
    Chat,
    Community,
    CommunityMember,
    ConnectionStatus,
    ExecutionStatus,
    FlowDefinition,
    FlowExecution,
    FlowStatus,
    PlatformConnection,
    Role,
    utcnow,
)
from engine.services import analytics
from engine.services.analytics import CommunityDay, DayRange
from engine.services.auth import require_role

CHARTED_COMMUNITIES = 5


@dataclass(frozen=True)
class Overview:
    active_flows: int
    total_flows: int
    connections_up: int
    connections_total: int
    communities: int
    members: int
    executions_24h: int
    failed_24h: int
    chats_in_communities: int
    flows_published: int  # the admins' own flows, not the built-in automation

    @property
    def connection_added(self) -> bool:
        return self.connections_total > 0

    @property
    def community_created(self) -> bool:
        return self.communities > 0

    @property
    def chat_attached(self) -> bool:
        return self.chats_in_communities > 0

    @property
    def flow_published(self) -> bool:
        return self.flows_published > 0


def _count(session: Session, model: type, *where: sa.ColumnElement[bool]) -> int:
    return session.exec(select(sa.func.count()).select_from(model).where(*where)).one()


def overview(session: Session, viewer: AdminUser) -> Overview:
    require_role(viewer, Role.viewer)
    since = utcnow() - timedelta(hours=24)
    return Overview(
        active_flows=_count(
            session, FlowDefinition, col(FlowDefinition.status) == FlowStatus.active
        ),
        total_flows=_count(session, FlowDefinition),
        connections_up=_count(
            session,
            PlatformConnection,
            col(PlatformConnection.status) == ConnectionStatus.connected,
        ),
        connections_total=_count(session, PlatformConnection),
        communities=_count(session, Community),
        members=_count(session, CommunityMember, col(CommunityMember.left_at).is_(None)),
        executions_24h=_count(session, FlowExecution, col(FlowExecution.started_at) >= since),
        failed_24h=_count(
            session,
            FlowExecution,
            col(FlowExecution.started_at) >= since,
            col(FlowExecution.status) == ExecutionStatus.failed,
        ),
        chats_in_communities=_count(session, Chat, col(Chat.community_id).is_not(None)),
        flows_published=_count(
            session,
            FlowDefinition,
            col(FlowDefinition.published_version_id).is_not(None),
            col(FlowDefinition.system_kind).is_(None),
        ),
    )


@dataclass(frozen=True)
class CommunityTrend:
    community_id: int
    name: str
    days: list[CommunityDay]


def community_trends(
    session: Session, viewer: AdminUser, days: DayRange, now: datetime | None = None
) -> list[CommunityTrend]:
    """The daily figures of the largest communities (by present members): a dashboard
    chart shows a few lines, not one per community."""
    require_role(viewer, Role.viewer)
    present = sa.func.count(col(CommunityMember.id)).filter(col(CommunityMember.left_at).is_(None))
    largest = session.exec(
        select(Community.id, Community.name)
        .outerjoin(CommunityMember, col(CommunityMember.community_id) == Community.id)
        .group_by(col(Community.id), col(Community.name))
        .order_by(present.desc(), col(Community.id))
        .limit(CHARTED_COMMUNITIES)
    ).all()
    if not largest:
        return []
    series = analytics.compare_communities(
        session, viewer, [cid for cid, _ in largest if cid is not None], days, now
    )
    return [CommunityTrend(cid, name, series[cid]) for cid, name in largest if cid is not None]


def count_rows(session: Session, model: type) -> int:
    return _count(session, model)

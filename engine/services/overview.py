"""Figures for the dashboard, counted in the database (never estimated)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.models import (
    Community,
    CommunityMember,
    ConnectionStatus,
    ExecutionStatus,
    FlowDefinition,
    FlowExecution,
    FlowStatus,
    PlatformConnection,
    utcnow,
)


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


def _count(session: Session, model: type, *where: sa.ColumnElement[bool]) -> int:
    return session.exec(select(sa.func.count()).select_from(model).where(*where)).one()


def overview(session: Session) -> Overview:
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
    )


def count_rows(session: Session, model: type) -> int:
    return _count(session, model)

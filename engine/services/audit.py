"""The audit trail: one helper so every change is recorded the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from engine.models import AdminUser, AuditLog, Role


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object | None = None,
    ip: str | None = None,
    **details: Any,
) -> AuditLog:
    entry = AuditLog(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        ip=ip,
        details=details,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class Filters:
    """What an admin narrows the audit log to; None matches anything."""

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before


def _utc(moment: datetime) -> datetime:
    """Rows are recorded in UTC; SQLite keeps no offset, so compare in UTC too."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def entries_query(viewer: AdminUser, filters: Filters) -> SelectOfScalar[AuditLog]:
    """The entries matching ``filters``, for an admin (the caller orders and pages)."""
    from engine.services.auth import require_role  # auth records through this module

    require_role(viewer, Role.admin)
    query = select(AuditLog)
    for column, value in (
        (AuditLog.actor, filters.actor),
        (AuditLog.action, filters.action),
        (AuditLog.target_type, filters.target_type),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(AuditLog.created_at >= _utc(filters.since))
    if filters.until is not None:
        query = query.where(AuditLog.created_at < _utc(filters.until))
    return query

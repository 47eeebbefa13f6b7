"""Reading the audit trail: what an admin may filter it by, and the query they get."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import select
from sqlmodel.sql.expression import SelectOfScalar

from engine.models import AdminUser, AuditLog, Role
from engine.services.auth import require_role


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

"""The audit log (admins only): who changed what, newest first, with filters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Admin, run
from engine.models import AdminUser, AuditLog
from engine.services import audit_trail

router = APIRouter(prefix="/audit", tags=["Audit log"])


class AuditEntry(BaseModel):
    """One recorded change or sign-in."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    actor: str = Field(examples=["ada"])
    action: str = Field(examples=["role_changed"])
    target_type: str | None = Field(examples=["admin_user"])
    target_id: str | None
    ip: str | None
    details: dict[str, Any]
    created_at: datetime


@router.get("", response_model=paging.Page[AuditEntry], summary="List the audit log")
async def list_audit(
    caller: Admin,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
    actor: Annotated[str | None, Query(max_length=64, description="Who acted.")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="What they did, e.g. `login`.")
    ] = None,
    target_type: Annotated[
        str | None, Query(max_length=64, description="What kind of thing, e.g. `flow`.")
    ] = None,
    since: Annotated[datetime | None, Query(description="Recorded at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Recorded before.")] = None,
) -> paging.Page[AuditEntry]:
    filters = audit_trail.Filters(
        actor=actor, action=action, target_type=target_type, since=since, until=until
    )

    def action_(session: Session, me: AdminUser) -> paging.Page[AuditEntry]:
        query = audit_trail.entries_query(me, filters)
        rows, after = paging.fetch(session, query, AuditLog.id, limit, cursor)
        return paging.Page(items=[AuditEntry.model_validate(e) for e in rows], next_cursor=after)

    return await run(caller, action_)

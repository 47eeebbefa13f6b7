"""/api/v1/activity: the dashboard's feed (engine/services/activity.py), newest first, paged.

Items of several tables are merged by time, so the cursor is the last item's place in
that order (time, kind, id), not a single row id as in the other lists; it is as opaque.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Viewer, run
from engine.api.v1.errors import ApiError
from engine.models import AdminUser
from engine.services import activity
from engine.services.activity import ActivityCursor, ActivityItem, ActivityKind

router = APIRouter(prefix="/activity", tags=["Activity"])
BAD_CURSOR = "The cursor is not one this API gave out."


class ActivityOut(BaseModel):
    """Something that happened: an execution, a join or leave, a moderation action, a
    connection's change."""

    at: datetime
    kind: ActivityKind
    id: int = Field(description="The row's id in its kind's list (a member's for joins).")
    title: str = Field(examples=["Ada joined Makers"])
    detail: str = Field(examples=["Telegram"])
    status: str = Field(
        description="An execution's status; `joined`/`left`; a moderation action's result "
        "(`ok`, `failed`, `partial`, `skipped`); a connection log's level (`info`, `error`).",
        examples=["succeeded"],
    )
    link: str = Field(description="The page of the web UI that shows it.", examples=["/members/3"])

    @classmethod
    def of(cls, item: ActivityItem) -> ActivityOut:
        return cls(
            at=item.at,
            kind=item.kind,
            id=item.row_id,
            title=item.title,
            detail=item.detail,
            status=item.status,
            link=item.link,
        )


def encode(cursor: ActivityCursor) -> str:
    body = {"at": cursor.at.isoformat(), "kind": str(cursor.kind), "id": cursor.row_id}
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


def decode(cursor: str | None) -> ActivityCursor | None:
    if not cursor:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        at, row_id = datetime.fromisoformat(body["at"]), body["id"]
        # An aware time that is one in UTC too, and an id a database integer holds.
        if at.tzinfo is None or not isinstance(row_id, int) or not 0 <= row_id < 2**63:
            raise ValueError
        return ActivityCursor(at.astimezone(UTC), ActivityKind(body["kind"]), row_id)
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError):
        raise ApiError(400, BAD_CURSOR) from None


@router.get("", response_model=paging.Page[ActivityOut], summary="List recent activity")
async def list_activity(
    caller: Viewer, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[ActivityOut]:
    before = decode(cursor)

    def action(session: Session, me: AdminUser) -> paging.Page[ActivityOut]:
        found = activity.recent_activity(session, me, limit + 1, before)
        rows, after = found[:limit], found[limit - 1].cursor if len(found) > limit else None
        return paging.Page(
            items=[ActivityOut.of(i) for i in rows], next_cursor=encode(after) if after else None
        )

    return await run(caller, action)

"""New-member holds: muted until they press a button, removed if they do not in time.

A hold is a UserFlowContext row of the community's rules flow (so every worker sees it,
and it survives restarts); the button names the row's id. Pressing it and the deadline
race to delete that row: whichever deletes it decides, so a member who pressed is never
kicked and a member kicked is never let back by a late press.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from engine.db import session_scope
from engine.models import UserFlowContext

SCOPE = "hold"
KEEP_AFTER_DEADLINE = timedelta(days=1)  # then it is stale whatever happened


@dataclass(frozen=True)
class Hold:
    id: int
    community_id: int
    account_id: int
    platform: str
    kind: str
    instance_id: int | None
    where: str  # the chat (Telegram) or server (Discord) the member is muted in
    user_id: str

    def value(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "id"}


def start(flow_id: int, hold: Hold, deadline: datetime) -> Hold:
    """Record a hold (replacing an earlier one for the same member and place)."""
    key = f"{hold.platform}:{hold.where}:{hold.user_id}"[:128]
    with session_scope() as session:
        session.exec(
            sa.delete(UserFlowContext).where(
                col(UserFlowContext.flow_id) == flow_id,
                col(UserFlowContext.scope) == SCOPE,
                col(UserFlowContext.key) == key,
            )
        )
        row = UserFlowContext(
            flow_id=flow_id,
            scope=SCOPE,
            key=key,
            value=hold.value(),
            expires_at=deadline + KEEP_AFTER_DEADLINE,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return Hold(row.id, **hold.value())


def find(flow_id: int, hold_id: int) -> Hold | None:
    with session_scope() as session:
        row = session.exec(
            select(UserFlowContext).where(
                UserFlowContext.id == hold_id,
                UserFlowContext.flow_id == flow_id,
                UserFlowContext.scope == SCOPE,
            )
        ).first()
        return Hold(row.id, **row.value) if row is not None and row.id is not None else None


def settle(hold_id: int) -> bool:
    """End the hold; True for the one caller (the press or the deadline) that ended it."""
    with session_scope() as session:
        result = session.exec(
            sa.delete(UserFlowContext).where(
                col(UserFlowContext.id) == hold_id, col(UserFlowContext.scope) == SCOPE
            )
        )
        return result.rowcount == 1


def overdue(now: datetime, limit: int = 500) -> list[Hold]:
    """Holds whose deadline has passed and that nobody settled: their delayed message was
    lost (an embedded worker restarted), so the sweep expires them instead."""
    with session_scope() as session:
        rows = session.exec(
            select(UserFlowContext)
            .where(
                UserFlowContext.scope == SCOPE,
                col(UserFlowContext.expires_at) <= now + KEEP_AFTER_DEADLINE,
            )
            .order_by(col(UserFlowContext.id))
            .limit(limit)
        ).all()
        return [Hold(row.id, **row.value) for row in rows if row.id is not None]

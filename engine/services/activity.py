"""The activity feed: what happened lately, from the tables that already record it.

Executions (FlowExecution), joins and leaves (CommunityMember's ``joined_at`` and
``left_at``), moderation actions (ModerationLog) and connection changes
(PlatformConnectionLog) are read newest first and merged into one list. Nothing is
stored twice: a live page re-reads this when the bus says one of those writers wrote.

Paging is by keyset on (time, kind, row id), the order of the merged list, so a page
after a cursor is as fast deep as on page one and stable while rows are added.
Reading is a viewer's right, as each of those pages is.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.models import (
    AdminUser,
    BotInstance,
    Community,
    CommunityMember,
    FlowDefinition,
    FlowExecution,
    ModerationLog,
    PlatformAccount,
    PlatformConnection,
    PlatformConnectionLog,
    Role,
)
from engine.nodes.utility import as_utc, stored_time
from engine.services.auth import require_role
from engine.services.connections import event_label
from engine.services.moderation_log import account_name, joined_log, log_entry

MAX_LIMIT = 500
"""The most items one call reads (from each table): a page of the API and one more fit."""
DETAIL_CHARS = 160


class ActivityKind(StrEnum):
    """What an item is about; also the tie-break of items recorded at the same moment."""

    connection = "connection"
    execution = "execution"
    member_joined = "member_joined"
    member_left = "member_left"
    moderation = "moderation"


@dataclass(frozen=True, order=True)
class ActivityCursor:
    """An item's place in the feed; a page ``before`` it starts just after it."""

    at: datetime
    kind: ActivityKind
    row_id: int


@dataclass(frozen=True)
class ActivityItem:
    at: datetime  # aware UTC
    kind: ActivityKind
    row_id: int  # the id in the kind's table (the member's id for joins and leaves)
    title: str
    detail: str
    status: str  # an execution's status; joined/left; ok/failed/partial; info/error
    link: str  # the page that shows it

    @property
    def cursor(self) -> ActivityCursor:
        return ActivityCursor(self.at, self.kind, self.row_id)


def recent_activity(
    session: Session, viewer: AdminUser, limit: int = 50, before: ActivityCursor | None = None
) -> list[ActivityItem]:
    """The newest ``limit`` items (at most ``MAX_LIMIT``), older than ``before`` when given."""
    require_role(viewer, Role.viewer)
    limit = max(1, min(limit, MAX_LIMIT))
    sources = (_executions, _joins, _leaves, _moderation, _connections)
    merged = heapq.merge(
        *(source(session, limit, before) for source in sources),
        key=lambda item: item.cursor,
        reverse=True,
    )
    return [item for _, item in zip(range(limit), merged, strict=False)]


# --- one query per kind, newest first, already past the cursor --------------------------------


def _page(
    query: Any,
    kind: ActivityKind,
    at: Any,
    row_id: Any,
    limit: int,
    before: ActivityCursor | None,
) -> Any:
    """``query`` narrowed to the ``limit`` items after ``before``, ordered like the feed.
    The page's ids are picked on the kind's own table first (two narrow columns), so the
    joins and wide rows are read for those alone, not for every row the sort passes."""
    chosen = select(row_id).where(at.is_not(None))
    if before is not None:
        moment = stored_time(before.at)
        if kind < before.kind:  # at the same moment, this kind comes after the cursor's
            chosen = chosen.where(at <= moment)
        elif kind > before.kind:
            chosen = chosen.where(at < moment)
        else:
            chosen = chosen.where(
                sa.or_(at < moment, sa.and_(at == moment, row_id < before.row_id))
            )
    newest_first = (at.desc(), row_id.desc())
    chosen = chosen.order_by(*newest_first).limit(limit)
    return query.where(row_id.in_(chosen)).order_by(*newest_first)


def _short(text: str | None) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= DETAIL_CHARS else line[: DETAIL_CHARS - 1] + "…"


def _executions(
    session: Session, limit: int, before: ActivityCursor | None
) -> Iterator[ActivityItem]:
    query = select(FlowExecution, FlowDefinition.name).join(
        FlowDefinition, col(FlowDefinition.id) == FlowExecution.flow_id
    )
    at, row_id = col(FlowExecution.started_at), col(FlowExecution.id)
    for execution, flow_name in session.exec(
        _page(query, ActivityKind.execution, at, row_id, limit, before)
    ):
        trigger = f"{execution.trigger_type} trigger"
        yield ActivityItem(
            at=as_utc(execution.started_at),
            kind=ActivityKind.execution,
            row_id=execution.id or 0,
            title=flow_name,
            detail=f"{trigger}: {_short(execution.error)}" if execution.error else trigger,
            status=str(execution.status),
            link=f"/executions/{execution.id}",
        )


def _member_rows(
    session: Session, kind: ActivityKind, at: Any, limit: int, before: ActivityCursor | None
) -> Iterator[tuple[CommunityMember, str, PlatformAccount]]:
    query = (
        select(CommunityMember, Community.name, PlatformAccount)
        .join(Community, col(Community.id) == CommunityMember.community_id)
        .join(PlatformAccount, col(PlatformAccount.id) == CommunityMember.platform_account_id)
    )
    yield from session.exec(_page(query, kind, at, col(CommunityMember.id), limit, before))


def _joins(session: Session, limit: int, before: ActivityCursor | None) -> Iterator[ActivityItem]:
    at = col(CommunityMember.joined_at)
    for member, community, account in _member_rows(
        session, ActivityKind.member_joined, at, limit, before
    ):
        yield _member_item(ActivityKind.member_joined, member.joined_at, member, community, account)


def _leaves(session: Session, limit: int, before: ActivityCursor | None) -> Iterator[ActivityItem]:
    at = col(CommunityMember.left_at)
    for member, community, account in _member_rows(
        session, ActivityKind.member_left, at, limit, before
    ):
        left_at = member.left_at or member.joined_at  # never None here: the query asks for it
        yield _member_item(ActivityKind.member_left, left_at, member, community, account)


def _member_item(
    kind: ActivityKind,
    at: datetime,
    member: CommunityMember,
    community: str,
    account: PlatformAccount,
) -> ActivityItem:
    verb = "joined" if kind == ActivityKind.member_joined else "left"
    return ActivityItem(
        at=as_utc(at),
        kind=kind,
        row_id=member.id or 0,
        title=f"{account_name(account)} {verb} {community}",
        detail=str(account.platform).capitalize(),
        status=verb,
        link=f"/members/{member.id}",
    )


def _moderation(
    session: Session, limit: int, before: ActivityCursor | None
) -> Iterator[ActivityItem]:
    at, row_id = col(ModerationLog.created_at), col(ModerationLog.id)
    for log, community, account in session.exec(
        _page(joined_log(), ActivityKind.moderation, at, row_id, limit, before)
    ):
        entry = log_entry(log, community, account)
        target = f" {entry.target_name}" if entry.target_name else ""
        where = f" in {entry.community_name}" if entry.community_name else ""
        reason = f": {_short(entry.reason)}" if entry.reason else ""
        yield ActivityItem(
            at=entry.created_at,
            kind=ActivityKind.moderation,
            row_id=entry.log_id,
            title=f"{entry.action.capitalize()}{target}{where}",
            detail=f"by {entry.actor or 'unknown'}{reason}",
            status=entry.result or "ok",
            link="/moderation",
        )


def _connections(
    session: Session, limit: int, before: ActivityCursor | None
) -> Iterator[ActivityItem]:
    query = (
        select(PlatformConnectionLog, BotInstance.name)
        .join(PlatformConnection, col(PlatformConnection.id) == PlatformConnectionLog.connection_id)
        .join(BotInstance, col(BotInstance.id) == PlatformConnection.bot_instance_id)
    )
    at, row_id = col(PlatformConnectionLog.created_at), col(PlatformConnectionLog.id)
    for log, name in session.exec(_page(query, ActivityKind.connection, at, row_id, limit, before)):
        yield ActivityItem(
            at=as_utc(log.created_at),
            kind=ActivityKind.connection,
            row_id=log.id or 0,
            title=f"{name}: {event_label(log.event)}",
            detail=_short(log.message),
            status=log.level,
            link="/connections",
        )

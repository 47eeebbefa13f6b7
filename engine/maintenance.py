"""Daily housekeeping: keep recent events as sample payloads, prune old history, and take
each community's daily analytics snapshot.

The worker's timer sends the daily actors (engine/worker.py ``DAILY``); each job is safe to
run twice, so a duplicate send after an embedded restart only repeats harmless work.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.db import session_scope, table_of
from engine.models import (
    Community,
    CommunityAnalyticsSnapshot,
    CommunityMember,
    ExecutionStatus,
    FlowEvent,
    FlowExecution,
    ModerationAction,
    ModerationLog,
    PlatformAccount,
    Warning,
    WebhookSignatureSeen,
    utcnow,
)
from engine.nodes.utility import insert_ignore, stored_time
from engine.platform_event import PlatformEvent
from engine.redaction import Redactor
from engine.services.community_chats import chat_key, community_ids_by_chat
from engine.services.webhooks import SEEN_RETENTION

log = logging.getLogger(__name__)

# Recent events are offered as sample payloads for a week, then pruned.
EVENT_TTL = timedelta(days=7)
# Finished executions (and their steps) are kept this long for the history and debugger.
EXECUTION_RETENTION = timedelta(days=30)
# Rows deleted per transaction: short transactions do not hold up the running flows.
PRUNE_BATCH = 1000
FINISHED = (ExecutionStatus.succeeded, ExecutionStatus.failed, ExecutionStatus.stopped)


# --- recent events ---------------------------------------------------------------------------


def record_event(event: PlatformEvent) -> None:
    """Keep a routed event as a sample payload; a redelivered event is stored once.

    Best effort: a sample payload is not worth failing (and retrying) the routing for, so
    a refused row (a bot instance deleted meanwhile, an over-long id) is only logged.
    """
    now = stored_time(utcnow())
    values = {
        "event_id": event.event_id,
        "kind": event.kind,
        "platform": event.platform,
        "bot_instance_id": event.instance_id,
        "payload": Redactor().redact(event.as_trigger()),  # viewers read samples too
        "created_at": now,
        "expires_at": now + EVENT_TTL,
    }
    try:
        with session_scope() as session:
            insert_ignore(session, table_of(FlowEvent), values, ["event_id"])
    except sa.exc.SQLAlchemyError:
        log.warning("event %s not kept as a sample payload", event.event_id, exc_info=True)


# --- pruning ---------------------------------------------------------------------------------


def prune_flow_events(now: datetime) -> dict[str, int]:
    """Delete expired events, executions finished more than ``EXECUTION_RETENTION`` ago and
    webhook signatures too old to be replayed (the timestamp check refuses them anyway);
    the number of rows deleted of each. Steps go with their execution (ON DELETE CASCADE;
    SQLite connections enable foreign keys in engine/db.py)."""
    now = stored_time(now)
    return {
        "webhook_signatures": _delete_in_batches(
            WebhookSignatureSeen, WebhookSignatureSeen.seen_at < now - SEEN_RETENTION
        ),
        "events": _delete_in_batches(FlowEvent, col(FlowEvent.expires_at) <= now),
        "executions": _delete_in_batches(
            FlowExecution,
            col(FlowExecution.status).in_(FINISHED),
            col(FlowExecution.finished_at) < now - EXECUTION_RETENTION,
        ),
    }


def _delete_in_batches(model: Any, *where: Any) -> int:
    """Delete the rows matching ``where``, ``PRUNE_BATCH`` per transaction."""
    deleted = 0
    while True:
        with session_scope() as session:
            ids = session.exec(select(model.id).where(*where).limit(PRUNE_BATCH)).all()
            if ids:
                session.exec(sa.delete(model).where(model.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < PRUNE_BATCH:
            return deleted


# --- analytics -------------------------------------------------------------------------------


def snapshot_analytics(day: date) -> int:
    """Write (or replace) every community's figures for the UTC ``day``; how many.

    What the tables allow:
    - ``member_count``/``by_platform``: joined before the day ended and not left by then;
      bans carry no date on the member, so the *current* ``is_banned`` flag is used.
    - ``joined``/``left``/``warnings``/``bans``: rows dated that day (exact).
    - ``messages``/``active_members``: the message events Flowbot recorded that day in the
      community's chats, and their distinct senders (events are kept for a week, and the
      snapshot runs for yesterday).
    """
    start = datetime.combine(day, time(), UTC)
    start, end = stored_time(start), stored_time(start + timedelta(days=1))
    member = CommunityMember
    with session_scope() as session:
        communities = session.exec(select(Community.id)).all()
        present = _members_by_platform(session, start, end)
        figures = {
            "joined": _count(session, member, _within(member.joined_at, start, end)),
            "left": _count(session, member, _within(member.left_at, start, end)),
            "warnings": _count(session, Warning, _within(Warning.created_at, start, end)),
            "bans": _count(
                session,
                ModerationLog,
                ModerationLog.action == ModerationAction.ban,
                _within(ModerationLog.created_at, start, end),
            ),
        }
        figures.update(_message_figures(session, start, end))
        table = table_of(CommunityAnalyticsSnapshot)
        for community_id in communities:
            by_platform = present.get(community_id, {})
            values = {
                "member_count": sum(by_platform.values()),
                "by_platform": by_platform,
                "created_at": stored_time(utcnow()),
                **{name: counts.get(community_id, 0) for name, counts in figures.items()},
            }
            key = {"community_id": community_id, "day": day}
            # Insert-if-absent then overwrite: an upsert that is race-safe on both databases.
            insert_ignore(session, table, {**key, **values}, list(key))
            session.exec(
                sa.update(table)
                .where(table.c.community_id == community_id, table.c.day == day)
                .values(**values)
            )
    return len(communities)


MESSAGE_KINDS = ("tg_message", "dc_message", "wa_message", "wa_group_message", "tgu_message")


def _message_figures(session: Session, start: datetime, end: datetime) -> dict[str, dict[int, int]]:
    """Messages and distinct senders per community, from the day's recorded events."""
    chats = community_ids_by_chat(session)
    messages: dict[int, int] = defaultdict(int)
    senders: dict[int, set[str]] = defaultdict(set)
    payloads = session.exec(
        select(FlowEvent.payload).where(
            col(FlowEvent.kind).in_(MESSAGE_KINDS), _within(col(FlowEvent.created_at), start, end)
        )
    )
    for payload in payloads:
        key = chat_key(payload)
        community_id = chats.get(key) if key else None
        if community_id is None:
            continue
        messages[community_id] += 1
        if user := (payload.get("user") or {}).get("id"):
            senders[community_id].add(str(user))
    return {
        "messages": dict(messages),
        "active_members": {cid: len(users) for cid, users in senders.items()},
    }


def _within(column: Any, start: datetime, end: datetime) -> Any:
    return sa.and_(column >= start, column < end)


def _count(session: Session, model: Any, *where: Any) -> dict[int, int]:
    """Rows of ``model`` matching ``where``, per community."""
    rows = session.exec(
        select(model.community_id, sa.func.count()).where(*where).group_by(model.community_id)
    ).all()
    return {community_id: count for community_id, count in rows if community_id is not None}


def _members_by_platform(
    session: Session, start: datetime, end: datetime
) -> dict[int, dict[str, int]]:
    """Members present at the end of the day, per community and platform."""
    rows = session.exec(
        select(CommunityMember.community_id, PlatformAccount.platform, sa.func.count())
        .join(PlatformAccount, col(PlatformAccount.id) == col(CommunityMember.platform_account_id))
        .where(
            CommunityMember.joined_at < end,
            sa.or_(col(CommunityMember.left_at).is_(None), col(CommunityMember.left_at) >= end),
            sa.not_(col(CommunityMember.is_banned)),
        )
        .group_by(col(CommunityMember.community_id), col(PlatformAccount.platform))
    ).all()
    present: dict[int, dict[str, int]] = defaultdict(dict)
    for community_id, platform, count in rows:
        present[community_id][str(platform)] = count
    return present

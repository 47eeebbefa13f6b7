"""Daily housekeeping: keep recent events as sample payloads, prune old history, take
each community's daily analytics snapshot and roll up each flow's day.

The worker's timer sends the daily actors (engine/worker.py ``DAILY``); each job is safe to
run twice, so a duplicate send after an embedded restart only repeats harmless work.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.db import insert_ignore, session_scope, table_of
from engine.models import (
    Community,
    CommunityAnalyticsSnapshot,
    FlowDailyStats,
    FlowEvent,
    FlowExecution,
    WebhookSignatureSeen,
    utcnow,
)
from engine.nodes.utility import stored_time
from engine.platform_event import PlatformEvent
from engine.redaction import Redactor
from engine.services import daily_figures, flow_rollups
from engine.services.webhooks import SEEN_RETENTION

log = logging.getLogger(__name__)

# Recent events are offered as sample payloads for a week, then pruned.
EVENT_TTL = timedelta(days=7)
# Finished executions (and their steps) are kept this long for the history and debugger.
EXECUTION_RETENTION = timedelta(days=30)
# Rows deleted per transaction: short transactions do not hold up the running flows.
PRUNE_BATCH = 1000
FINISHED = daily_figures.FINISHED


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
    """Write (or replace) every community's figures for the UTC ``day`` (counted as
    engine/services/daily_figures.py says); how many."""
    with session_scope() as session:
        communities = session.exec(select(Community.id)).all()
        figures = daily_figures.community_figures(
            session, day, [c for c in communities if c], by_platform=True
        )
        table = table_of(CommunityAnalyticsSnapshot)
        for community_id, counted in figures.items():
            values = {
                "member_count": counted.member_count,
                "by_platform": counted.by_platform,
                "created_at": stored_time(utcnow()),
                **counted.counts,
            }
            _upsert(session, table, {"community_id": community_id, "day": day}, values)
    return len(communities)


def rollup_flow_stats(day: date) -> int:
    """Write (or replace) every flow's figures for the UTC ``day``; how many flows ran.
    A flow that has a row for the day but no finished execution any more loses the row,
    so a re-run always leaves exactly what the executions say. When the day's month is
    over, its month rows are written again from the days (``rollup_flow_month``)."""
    with session_scope() as session:
        figures = daily_figures.flow_figures(session, day)
        _replace_flow_rows(session, day, "day", figures)
    first = day.replace(day=1)
    if _next_month(first) <= utcnow().date():
        rollup_flow_month(first)
    return len(figures)


def rollup_flow_month(first: date) -> int:
    """Merge each flow's day rows of the month starting ``first`` into its month row."""
    last = _next_month(first) - timedelta(days=1)
    with session_scope() as session:
        figures = flow_rollups.stored_figures(
            session, None, first, last, by="flow_id", details=True, months=False
        )
        _replace_flow_rows(session, first, "month", figures)
    return len(figures)


def _replace_flow_rows(
    session: Session, day: date, span: str, figures: dict[int, daily_figures.FlowFigures]
) -> None:
    table = table_of(FlowDailyStats)
    session.exec(
        sa.delete(table).where(
            table.c.day == day, table.c.span == span, table.c.flow_id.not_in(list(figures) or [0])
        )
    )
    for flow_id, counted in figures.items():
        values = {**counted.as_values(), "updated_at": stored_time(utcnow())}
        _upsert(session, table, {"flow_id": flow_id, "day": day, "span": span}, values)


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def _upsert(session: Session, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
    """Insert-if-absent then overwrite: an upsert that is race-safe on both databases."""
    insert_ignore(session, table, {**key, **values}, list(key))
    session.exec(
        sa.update(table)
        .where(*(table.c[name] == value for name, value in key.items()))
        .values(**values)
    )

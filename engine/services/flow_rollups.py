"""Sums over the daily flow roll-ups (``FlowDailyStats``), computed by the database.

A year of 100 flows is 36,500 rows whose JSON columns (histograms, triggers, per-node
figures) would take seconds to decode in Python; the database opens them itself
(``json_each`` on SQLite, ``jsonb_each`` on PostgreSQL) and hands back the sums.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from engine.models import FlowDailyStats
from engine.services.daily_figures import BUCKETS_MS, OVERFLOW, FlowFigures, fast_plan

STATS = FlowDailyStats.__table__  # type: ignore[attr-defined]
BUCKET_KEYS = (*(str(bound) for bound in BUCKETS_MS), OVERFLOW)
TOTALS = ("executions", "succeeded", "failed", "stopped", "duration_ms_sum")


def stored_figures(
    session: Session,
    flows: list[int] | None,
    start: date,
    end: date,
    by: str,
    details: bool = False,
    months: bool = True,
) -> dict[Any, FlowFigures]:
    """The roll-ups of ``start``..``end`` summed per ``by`` ("day" or "flow_id"); with
    ``details`` the triggers and per-node figures too, else only counts and durations.
    Per flow, a whole month of the range is read from its month row when there is one
    (unless ``months`` is False)."""
    if end < start:
        return {}
    fast_plan(session)
    key = STATS.c[by]
    whole = _whole_months(session, start, end) if by == "flow_id" and months else []
    # Day rows only between the whole months, so the day index finds just those.
    gaps = sa.or_(*(STATS.c.day.between(a, b) for a, b in _gaps(start, end, whole)))
    rows = sa.and_(STATS.c.span == "day", gaps)
    if whole:
        rows = sa.or_(sa.and_(STATS.c.span == "month", STATS.c.day.in_(whole)), rows)
    where = [rows]
    if flows is not None:
        where.append(STATS.c.flow_id.in_(flows))
    figures: dict[Any, FlowFigures] = {}
    histogram = STATS.c.duration_histogram
    sums_per_group = session.execute(
        sa.select(
            key,
            *(sa.func.sum(STATS.c[name]) for name in TOTALS),
            # The buckets are known, so each is read by its key in the same pass (no row
            # per bucket to unnest and regroup, no second read of the rows).
            *(sa.func.sum(histogram[bucket].as_integer()) for bucket in BUCKET_KEYS),
        )
        .where(*where)
        .group_by(key)
    ).all()
    for group, *sums in sums_per_group:
        executions, succeeded, failed, stopped, ms = sums[: len(TOTALS)]
        figures[group] = one = FlowFigures(
            executions=int(executions),
            succeeded=int(succeeded),
            failed=int(failed),
            stopped=int(stopped),
            duration_ms_sum=float(ms),
        )
        for bucket, count in zip(BUCKET_KEYS, sums[len(TOTALS) :], strict=True):
            if count:
                one.duration_histogram[bucket] += int(count)
    if details:
        _add_details(session, figures, key, where)
    return figures


def _whole_months(session: Session, start: date, end: date) -> list[date]:
    """The months inside ``start``..``end`` that have month rows (the 1st of each)."""
    found = session.execute(
        sa.select(STATS.c.day)
        .where(STATS.c.span == "month", STATS.c.day >= start, STATS.c.day <= end)
        .distinct()
    ).scalars()
    return sorted(first for first in found if _month_end(first) <= end)


def _gaps(start: date, end: date, whole: list[date]) -> list[tuple[date, date]]:
    """The stretches of ``start``..``end`` outside the (sorted) whole months."""
    gaps, cursor = [], start
    for first in whole:
        if cursor < first:
            gaps.append((cursor, first - timedelta(days=1)))
        cursor = _month_end(first) + timedelta(days=1)
    if cursor <= end:
        gaps.append((cursor, end))
    return gaps or [(start, start - timedelta(days=1))]  # nothing: an empty stretch


def _month_end(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _add_details(
    session: Session, figures: dict[Any, FlowFigures], key: Any, where: list[Any]
) -> None:
    for group, trigger, count in _summed(session, "triggers", key, where):
        figures[group].triggers[trigger] += int(count)
    for group, node_id, runs, total_ms in _summed(session, "node_time", key, where, ("0", "1")):
        figures[group].node_time[node_id] = [int(runs), float(total_ms)]
    for group, node_id, count in _summed(session, "failed_nodes", key, where, ("count",)):
        figures[group].failed_nodes[node_id] = {"count": int(count), "errors": {}}
    for group, node_id, message, count in _error_counts(session, key, where):
        figures[group].failed_nodes[node_id]["errors"][message] = int(count)


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _pairs(session: Session, document: Any, member: str | None = None) -> Any:
    """The key/value rows of a JSON object (or of its object ``member``), to join."""
    if _postgresql(session):
        target = sa.func.jsonb_extract_path(document, member) if member else document
        return sa.func.jsonb_each(target).table_valued("key", "value").lateral()
    args = (document, f"$.{member}") if member else (document,)
    return sa.func.json_each(*args).table_valued("key", "value")


def _number(session: Session, value: Any, path: str | None = None) -> Any:
    """The number in a JSON ``value`` (at ``path``: an array index or an object key)."""
    if _postgresql(session):
        if path is None:
            return sa.cast(sa.cast(value, sa.Text), sa.Float)
        # ->> with an int reads an array's item directly (half the time of
        # jsonb_extract_path_text, which takes a path of text keys).
        step: int | str = int(path) if path.isdigit() else path
        return sa.cast(value.op("->>")(step), sa.Float)
    if path is None:
        return value
    return sa.func.json_extract(value, f"$[{path}]" if path.isdigit() else f"$.{path}")


def _summed(
    session: Session,
    column: str,
    key: Any,
    where: list[Any],
    paths: tuple[str, ...] | tuple[None] = (None,),
) -> list[Any]:
    """Per group and JSON key of ``column``: the sum of each of ``paths`` of its values."""
    pairs = _pairs(session, STATS.c[column])
    sums = (sa.func.sum(_number(session, pairs.c.value, path)) for path in paths)
    rows = session.execute(
        sa.select(key, pairs.c.key, *sums)
        .select_from(STATS)
        .join(pairs, sa.true())
        .where(*where)
        .group_by(key, pairs.c.key)
    ).all()
    return list(rows)


def _error_counts(session: Session, key: Any, where: list[Any]) -> list[Any]:
    """Per group, failed node and error message: how often (two levels of JSON)."""
    nodes = _pairs(session, STATS.c.failed_nodes)
    errors = _pairs(session, nodes.c.value, "errors")
    rows = session.execute(
        sa.select(key, nodes.c.key, errors.c.key, sa.func.sum(_number(session, errors.c.value)))
        .select_from(STATS)
        .join(nodes, sa.true())
        .join(errors, sa.true())
        .where(*where)
        .group_by(key, nodes.c.key, errors.c.key)
    ).all()
    return list(rows)


def most_common(counts: Counter[str] | dict[str, int]) -> tuple[str, int]:
    """The most frequent key and its count (ties: the first in order of the keys)."""
    if not counts:
        return "", 0
    best = max(sorted(counts), key=lambda k: counts[k])
    return best, int(counts[best])

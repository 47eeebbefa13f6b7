"""Community and flow analytics: daily series, the executions of recent hours, a flow's
summary, comparisons and CSV; read by the Analytics pages, the dashboard and the REST API.

Time zones. Daily figures are UTC days: the snapshots and roll-ups are taken per UTC day,
and the events that would let a day be cut again in another zone are pruned (a week, 30
days). So the row of day D is the UTC day D wherever the viewer is; the viewer's zone only
decides which day is *today* (the default end of a range), never later than the UTC today
(a later day has not begun). Hourly figures are counted from the executions themselves, so
they are the viewer's local hours (whole-hour zones; a half-hour zone sees UTC hours).

Live and stored. Today is counted live from the rows, with the same code the daily jobs
store (engine/services/daily_figures.py), and shown as ``partial``; so is yesterday until
its daily job (02:00 UTC) has stored it. Earlier days are read from the community
snapshots and flow roll-ups (which outlive the 30 days executions are kept).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.models import (
    AdminUser,
    Community,
    CommunityAnalyticsSnapshot,
    ExecutionStatus,
    FlowDailyStats,
    FlowDefinition,
    FlowExecution,
    Role,
    utcnow,
)
from engine.nodes.utility import as_utc, stored_time
from engine.services import daily_figures, flow_rollups
from engine.services.auth import require_role
from engine.services.errors import NotFound
from engine.services.flow_rollups import most_common
from engine.services.moderation_log import csv_text

MAX_DAYS = 366
MAX_HOURS = 30 * 24  # executions are kept 30 days


class InvalidRange(ValueError):
    """A range the analytics cannot show: reversed, too long or in an unknown zone."""


def community_choices(session: Session, viewer: AdminUser) -> list[tuple[int, str]]:
    """Every community's id and name, by name: what the pages offer to pick and compare."""
    require_role(viewer, Role.viewer)
    rows = session.exec(select(Community.id, Community.name).order_by(col(Community.name)))
    return [(cid, name) for cid, name in rows if cid is not None]


def flow_choices(session: Session, viewer: AdminUser) -> list[tuple[int, str]]:
    """Every flow's id and name, by name."""
    require_role(viewer, Role.viewer)
    return sorted(_flow_names(session, None).items(), key=lambda item: item[1].lower())


# --- ranges ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayRange:
    """Inclusive days (UTC days, see the module's doc) ending at the viewer's today."""

    start: date
    end: date
    tz: str = "UTC"

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRange(f"Unknown time zone {tz!r}.") from None


def day_range(
    days: int | None = 30,
    start: date | None = None,
    end: date | None = None,
    tz: str = "UTC",
    now: datetime | None = None,
) -> DayRange:
    """The last ``days`` days up to today in ``tz``, or ``start``..``end`` (a custom range);
    never past the UTC today, never longer than ``MAX_DAYS``."""
    moment = as_utc(now or utcnow())
    utc_today = moment.date()
    today = min(moment.astimezone(zone(tz)).date(), utc_today)
    last = min(end or today, utc_today)
    if start is None:
        if not days or days < 1:
            raise InvalidRange("A range needs a number of days or a start day.")
        if (last - date.min).days < days - 1:
            raise InvalidRange("The range starts before the calendar does.")
        start = last - timedelta(days=days - 1)
    if start > last:
        raise InvalidRange(f"The range starts ({start}) after it ends ({last}).")
    if (last - start).days >= MAX_DAYS:
        raise InvalidRange(f"A range is at most {MAX_DAYS} days.")
    return DayRange(start=start, end=last, tz=tz)


def _first_live_day(session: Session, model: Any, now: datetime | None) -> tuple[date, date]:
    """The first day counted live, and the UTC today: today always, yesterday too until its
    daily job has stored it (``model``: the snapshot or roll-up table)."""
    today = as_utc(now or utcnow()).date()
    yesterday = today - timedelta(days=1)
    stored = session.exec(select(model.day).where(model.day == yesterday).limit(1)).first()
    return (today if stored is not None else yesterday), today


# --- communities -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CommunityDay:
    day: date
    member_count: int
    joined: int
    left: int
    messages: int
    active_members: int
    warnings: int
    bans: int
    partial: bool  # today, counted live


COMMUNITY_FIELDS = ("member_count", *daily_figures.COMMUNITY_COUNTS)


def community_series(
    session: Session,
    viewer: AdminUser,
    community_id: int,
    days: DayRange,
    now: datetime | None = None,
) -> list[CommunityDay]:
    """One row per day of ``days``; a day without a snapshot has zero events and the member
    count of the day before."""
    return compare_communities(session, viewer, [community_id], days, now)[community_id]


def compare_communities(
    session: Session,
    viewer: AdminUser,
    community_ids: Sequence[int],
    days: DayRange,
    now: datetime | None = None,
) -> dict[int, list[CommunityDay]]:
    """The series of several communities over the same days (live days counted once)."""
    require_role(viewer, Role.viewer)
    ids = list(dict.fromkeys(community_ids))
    known = set(session.exec(select(Community.id).where(col(Community.id).in_(ids))).all())
    if missing := [cid for cid in ids if cid not in known]:
        raise NotFound(f"No community {missing[0]}.")
    first_live, today = _first_live_day(session, CommunityAnalyticsSnapshot, now)
    stored = _snapshots(session, ids, days.start, min(days.end, first_live - timedelta(days=1)))
    carried = _members_before(session, ids, days.start)
    live_days = [day for day in days.days() if day >= first_live]
    live = daily_figures.community_days(session, live_days, ids) if live_days else {}
    series: dict[int, list[CommunityDay]] = {}
    for cid in ids:
        rows, members = [], carried.get(cid, 0)
        for day in days.days():
            counted = live[day][cid] if day in live else None
            snapshot = stored.get((cid, day))
            if counted is not None:
                values = {"member_count": counted.member_count, **counted.counts}
            elif snapshot is not None:
                values = {name: getattr(snapshot, name) for name in COMMUNITY_FIELDS}
            else:
                values = {name: 0 for name in COMMUNITY_FIELDS} | {"member_count": members}
            members = values["member_count"]
            rows.append(CommunityDay(day=day, partial=day == today, **values))
        series[cid] = rows
    return series


def _snapshots(
    session: Session, ids: list[int], start: date, end: date
) -> dict[tuple[int, date], CommunityAnalyticsSnapshot]:
    if end < start:
        return {}
    snapshot = CommunityAnalyticsSnapshot
    rows = session.exec(
        select(snapshot).where(
            col(snapshot.community_id).in_(ids), snapshot.day >= start, snapshot.day <= end
        )
    ).all()
    return {(row.community_id, row.day): row for row in rows}


def _members_before(session: Session, ids: list[int], day: date) -> dict[int, int]:
    """Each community's member count of its last snapshot before ``day``."""
    snapshot = CommunityAnalyticsSnapshot
    last = (
        select(snapshot.community_id, sa.func.max(snapshot.day).label("day"))
        .where(col(snapshot.community_id).in_(ids), snapshot.day < day)
        .group_by(col(snapshot.community_id))
        .subquery()
    )
    rows = session.exec(
        select(snapshot.community_id, snapshot.member_count).join(
            last,
            sa.and_(
                col(snapshot.community_id) == last.c.community_id, col(snapshot.day) == last.c.day
            ),
        )
    ).all()
    return dict(rows)


# --- flows: daily series ---------------------------------------------------------------------


@dataclass(frozen=True)
class FlowDay:
    day: date
    executions: int
    succeeded: int
    failed: int
    stopped: int
    p50_ms: float | None
    p95_ms: float | None
    partial: bool = False


def flow_series(
    session: Session,
    viewer: AdminUser,
    flow_id: int | None,
    days: DayRange,
    now: datetime | None = None,
) -> list[FlowDay]:
    """Executions per day of one flow (``flow_id``) or of all flows (None), zero-filled."""
    require_role(viewer, Role.viewer)
    flows = _flow_filter(session, flow_id)
    first_live, today = _first_live_day(session, FlowDailyStats, now)
    last_stored = min(days.end, first_live - timedelta(days=1))
    per_day = flow_rollups.stored_figures(session, flows, days.start, last_stored, by="day")
    for day, live in _live_flow_days(session, days, first_live, flows, False).items():
        per_day[day] = merge(live.values())
    rows = []
    for day in days.days():
        figures = per_day.get(day) or daily_figures.FlowFigures()
        rows.append(
            FlowDay(
                day=day,
                executions=figures.executions,
                succeeded=figures.succeeded,
                failed=figures.failed,
                stopped=figures.stopped,
                p50_ms=percentile(figures.duration_histogram, 0.50),
                p95_ms=percentile(figures.duration_histogram, 0.95),
                partial=day == today,
            )
        )
    return rows


def _flow_filter(session: Session, flow_id: int | None) -> list[int] | None:
    if flow_id is None:
        return None
    if session.get(FlowDefinition, flow_id) is None:
        raise NotFound(f"No flow {flow_id}.")
    return [flow_id]


def merge(many: Iterable[daily_figures.FlowFigures]) -> daily_figures.FlowFigures:
    """Several flows' or days' figures as one."""
    total = daily_figures.FlowFigures()
    for figures in many:
        total.add(figures)
    return total


def percentile(histogram: Counter[str] | dict[str, int], fraction: float) -> float | None:
    """The duration below which ``fraction`` of the executions ended, interpolated inside
    its bucket (so within one bucket's width); None without executions."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen, lower = fraction * total, 0, 0.0
    for bound in daily_figures.BUCKETS_MS:
        count = histogram.get(str(bound), 0)
        if count and seen + count >= rank:
            return lower + (bound - lower) * (rank - seen) / count
        seen += count
        lower = float(bound)
    return lower  # in the open-ended bucket: at least the last bound


# --- flows: hours ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HourCount:
    hour: datetime  # the hour's start, aware, in the viewer's zone
    succeeded: int
    failed: int


def executions_per_hour(
    session: Session,
    viewer: AdminUser,
    hours: int = 168,
    tz: str = "UTC",
    now: datetime | None = None,
) -> list[HourCount]:
    """Executions that ended in each of the last ``hours`` hours (the current one included),
    by local hour of ``tz``; stopped ones count as neither."""
    require_role(viewer, Role.viewer)
    if not 1 <= hours <= MAX_HOURS:
        raise InvalidRange(f"Between 1 and {MAX_HOURS} hours.")
    local = zone(tz)
    moment = as_utc(now or utcnow())
    current = moment.replace(minute=0, second=0, microsecond=0)
    first = current - timedelta(hours=hours - 1)
    execution = FlowExecution
    hour = _hour_of(session, col(execution.finished_at))
    rows = session.execute(
        sa.select(hour, col(execution.status), sa.func.count())
        .where(
            col(execution.finished_at) >= stored_time(first),
            col(execution.finished_at) < stored_time(current + timedelta(hours=1)),
            col(execution.status).in_((ExecutionStatus.succeeded, ExecutionStatus.failed)),
        )
        .group_by(hour, col(execution.status))
    ).all()
    counts: dict[datetime, Counter[str]] = defaultdict(Counter)
    for started, status, count in rows:
        moment = datetime.fromisoformat(started) if isinstance(started, str) else started
        counts[as_utc(moment)][str(status)] += count
    return [
        HourCount(
            hour=(first + timedelta(hours=n)).astimezone(local),
            succeeded=counts[first + timedelta(hours=n)]["succeeded"],
            failed=counts[first + timedelta(hours=n)]["failed"],
        )
        for n in range(hours)
    ]


def _hour_of(session: Session, moment: Any) -> Any:
    """The UTC hour a stored time falls in, truncated by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.date_trunc("hour", sa.func.timezone("UTC", moment))
    return sa.func.strftime("%Y-%m-%d %H:00:00", moment)


# --- flows: summary and table ----------------------------------------------------------------

TOP_NODES = 10


@dataclass(frozen=True)
class FailingNode:
    flow_id: int
    flow_name: str
    node_id: str
    failures: int
    top_error: str  # the most common error of the node in the range
    top_error_count: int


@dataclass(frozen=True)
class NodeTime:
    flow_id: int
    flow_name: str
    node_id: str
    runs: int
    avg_ms: float


@dataclass(frozen=True)
class TriggerCount:
    kind: str
    count: int


@dataclass(frozen=True)
class FlowSummary:
    executions: int
    succeeded: int
    failed: int
    stopped: int
    success_rate: float | None  # succeeded / (succeeded + failed); stopped ones are neither
    p50_ms: float | None
    p95_ms: float | None
    avg_ms: float | None
    top_failing: list[FailingNode]
    node_times: list[NodeTime]  # slowest first
    triggers: list[TriggerCount]  # most used first


@dataclass(frozen=True)
class FlowRow:
    flow_id: int
    name: str
    executions: int
    succeeded: int
    failed: int
    stopped: int
    success_rate: float | None
    p50_ms: float | None
    p95_ms: float | None


def flow_summary(
    session: Session,
    viewer: AdminUser,
    flow_id: int | None,
    days: DayRange,
    now: datetime | None = None,
) -> FlowSummary:
    """One flow's (or all flows') range at a glance."""
    require_role(viewer, Role.viewer)
    per_flow = _figures_by_flow(session, _flow_filter(session, flow_id), days, now)
    names = _flow_names(session, per_flow)
    total = merge(per_flow.values())
    failing = [
        FailingNode(fid, names[fid], node_id, int(failed["count"]), *most_common(failed["errors"]))
        for fid, figures in per_flow.items()
        for node_id, failed in figures.failed_nodes.items()
    ]
    timed = [
        NodeTime(fid, names[fid], node_id, int(runs), total_ms / runs)
        for fid, figures in per_flow.items()
        for node_id, (runs, total_ms) in figures.node_time.items()
        if runs
    ]
    return FlowSummary(
        executions=total.executions,
        succeeded=total.succeeded,
        failed=total.failed,
        stopped=total.stopped,
        success_rate=_rate(total),
        p50_ms=percentile(total.duration_histogram, 0.50),
        p95_ms=percentile(total.duration_histogram, 0.95),
        avg_ms=total.duration_ms_sum / total.executions if total.executions else None,
        top_failing=sorted(failing, key=lambda n: (-n.failures, n.flow_id, n.node_id))[:TOP_NODES],
        node_times=sorted(timed, key=lambda n: (-n.avg_ms, n.flow_id, n.node_id))[:TOP_NODES],
        triggers=[TriggerCount(kind, n) for kind, n in total.triggers.most_common()],
    )


def flow_table(
    session: Session, viewer: AdminUser, days: DayRange, now: datetime | None = None
) -> list[FlowRow]:
    """Every flow's range, busiest first (flows that did not run included, last)."""
    require_role(viewer, Role.viewer)
    per_flow = _figures_by_flow(session, None, days, now, details=False)
    rows = []
    for fid, name in _flow_names(session, None).items():
        figures = per_flow.get(fid) or daily_figures.FlowFigures()
        rows.append(
            FlowRow(
                flow_id=fid,
                name=name,
                executions=figures.executions,
                succeeded=figures.succeeded,
                failed=figures.failed,
                stopped=figures.stopped,
                success_rate=_rate(figures),
                p50_ms=percentile(figures.duration_histogram, 0.50),
                p95_ms=percentile(figures.duration_histogram, 0.95),
            )
        )
    return sorted(rows, key=lambda r: (-r.executions, r.name.lower(), r.flow_id))


def _rate(figures: daily_figures.FlowFigures) -> float | None:
    ended = figures.succeeded + figures.failed
    return figures.succeeded / ended if ended else None


def _figures_by_flow(
    session: Session,
    flows: list[int] | None,
    days: DayRange,
    now: datetime | None,
    details: bool = True,
) -> dict[int, daily_figures.FlowFigures]:
    first_live, _ = _first_live_day(session, FlowDailyStats, now)
    last_stored = min(days.end, first_live - timedelta(days=1))
    per_flow = flow_rollups.stored_figures(
        session, flows, days.start, last_stored, by="flow_id", details=details
    )
    for live in _live_flow_days(session, days, first_live, flows, details).values():
        for fid, figures in live.items():
            per_flow.setdefault(fid, daily_figures.FlowFigures()).add(figures)
    return per_flow


def _live_flow_days(
    session: Session, days: DayRange, first_live: date, flows: list[int] | None, details: bool
) -> dict[date, dict[int, daily_figures.FlowFigures]]:
    """The days of ``days`` counted live from the executions (read once for all)."""
    live = [day for day in days.days() if day >= first_live]
    return daily_figures.flow_days(session, live, flows, details) if live else {}


def _flow_names(session: Session, flow_ids: Iterable[int] | None) -> dict[int, str]:
    """The names of ``flow_ids`` (None: of every flow)."""
    query = select(FlowDefinition.id, FlowDefinition.name)
    if flow_ids is not None:
        query = query.where(col(FlowDefinition.id).in_(list(flow_ids)))
    return {fid: name for fid, name in session.exec(query).all() if fid is not None}


# --- CSV -------------------------------------------------------------------------------------

COMMUNITY_CSV_HEADER = ("community_id", "community", "day (UTC)", *COMMUNITY_FIELDS, "partial")
FLOW_CSV_HEADER = (
    "day (UTC)",
    "executions",
    "succeeded",
    "failed",
    "stopped",
    "p50_ms",
    "p95_ms",
    "partial",
)


def communities_csv(
    session: Session,
    viewer: AdminUser,
    community_ids: Sequence[int],
    days: DayRange,
    now: datetime | None = None,
) -> str:
    """The compared communities' series, one line per community and day."""
    series = compare_communities(session, viewer, community_ids, days, now)
    names = dict(
        session.exec(
            select(Community.id, Community.name).where(col(Community.id).in_(list(series)))
        ).all()
    )
    return csv_text(
        header=COMMUNITY_CSV_HEADER,
        rows=(
            [
                cid,
                names[cid],
                row.day.isoformat(),
                *(getattr(row, f) for f in COMMUNITY_FIELDS),
                row.partial,
            ]
            for cid, rows in series.items()
            for row in rows
        ),
    )


def flow_series_csv(
    session: Session,
    viewer: AdminUser,
    flow_id: int | None,
    days: DayRange,
    now: datetime | None = None,
) -> str:
    rows = flow_series(session, viewer, flow_id, days, now)
    return csv_text(
        header=FLOW_CSV_HEADER,
        rows=(
            [
                r.day.isoformat(),
                r.executions,
                r.succeeded,
                r.failed,
                r.stopped,
                _ms(r.p50_ms),
                _ms(r.p95_ms),
                r.partial,
            ]
            for r in rows
        ),
    )


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"

"""One UTC day's figures, counted from the rows: the one place both the daily jobs (which
store them, engine/maintenance.py) and the analytics (which show today's live) use.

Communities: what the tables allow
- ``member_count``/``by_platform``: joined before the day ended and not left by then;
  bans carry no date on the member, so the *current* ``is_banned`` flag is used.
- ``joined``/``left``/``warnings``/``bans``: rows dated that day (exact).
- ``messages``/``active_members``: the message events Flowbot recorded that day in the
  community's chats, and their distinct senders (events are kept for a week).

Flows: the executions that *finished* that day (one that waited on a durable delay counts
on the day it ended), their durations as a histogram that merges across days (percentiles
cannot be added), trigger kinds, failed steps with their errors and the time per node.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from engine.models import (
    Chat,
    CommunityMember,
    ExecutionStatus,
    FlowEvent,
    FlowExecution,
    FlowExecutionStep,
    ModerationAction,
    ModerationLog,
    PlatformAccount,
    StepStatus,
    Warning,
)
from engine.nodes.utility import stored_time
from engine.services.member_ingest import MESSAGE_KINDS

COMMUNITY_COUNTS = ("joined", "left", "messages", "active_members", "warnings", "bans")
FINISHED = (ExecutionStatus.succeeded, ExecutionStatus.failed, ExecutionStatus.stopped)
# Upper bounds (ms) of the duration histogram's buckets; longer ones go to "inf".
BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000)
OVERFLOW = "inf"
# An error message is a key of the day's figures: a long one is cut to this.
ERROR_CHARS = 200


def utc_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC ``day`` as stored times, end excluded."""
    start = datetime.combine(day, time(), UTC)
    return stored_time(start), stored_time(start + timedelta(days=1))


# --- communities -----------------------------------------------------------------------------


@dataclass
class CommunityFigures:
    member_count: int = 0
    by_platform: dict[str, int] = field(default_factory=dict)  # only when asked for
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMMUNITY_COUNTS, 0))


def community_figures(
    session: Session, day: date, community_ids: Collection[int], by_platform: bool = False
) -> dict[int, CommunityFigures]:
    """The figures of each of ``community_ids`` for the UTC ``day`` (members per platform
    too with ``by_platform``: the snapshot keeps them, the live count does without)."""
    return community_days(session, [day], community_ids, by_platform)[day]


def community_days(
    session: Session,
    days: Sequence[date],
    community_ids: Collection[int],
    by_platform: bool = False,
) -> dict[date, dict[int, CommunityFigures]]:
    """:func:`community_figures` of a few consecutive ``days`` at once (the analytics'
    live today and yesterday): each table is read once for all of them, each day's
    figure summed by a condition, so two live days cost one scan, not two."""
    bounds = [utc_bounds(day) for day in days]
    ids = list(community_ids)
    fast_plan(session)
    member = CommunityMember
    figures = {day: {cid: CommunityFigures() for cid in ids} for day in days}
    for community_id, platform, *present in _members_present(session, ids, bounds, by_platform):
        for day, count in zip(days, present, strict=True):
            figures[day][community_id].member_count += int(count or 0)
            if by_platform:
                figures[day][community_id].by_platform[platform] = int(count or 0)
    moments = {
        "joined": (member, member.joined_at, ()),
        "left": (member, member.left_at, ()),
        "warnings": (Warning, Warning.created_at, ()),
        "bans": (
            ModerationLog,
            ModerationLog.created_at,
            (ModerationLog.action == ModerationAction.ban,),
        ),
    }
    counts = {
        name: _count(session, model, ids, col(moment), bounds, *where)
        for name, (model, moment, where) in moments.items()
    }
    counts.update(_message_figures(session, ids, bounds))
    for name, per_community in counts.items():
        for community_id, per_day in per_community.items():
            for day, count in zip(days, per_day, strict=True):
                figures[day][community_id].counts[name] = int(count or 0)
    return figures


def _message_figures(
    session: Session, ids: list[int], bounds: list[tuple[datetime, datetime]]
) -> dict[str, dict[int, list[int]]]:
    """Messages and distinct senders per community and day, from the recorded events in
    the communities' chats (a Discord event's chat is its guild, as ``chat_key`` says)."""
    event, payload = FlowEvent, col(FlowEvent.payload)
    chat_id = payload["chat"]["id"].as_string()
    key = sa.case(
        (
            col(event.platform) == "discord",
            sa.func.coalesce(payload["chat"]["guild_id"].as_string(), chat_id),
        ),
        else_=chat_id,
    )
    sender = payload["user"]["id"].as_string()
    created = col(event.created_at)
    day_of = sa.case(*((created < end, n) for n, (_, end) in enumerate(bounds)))
    rows = session.execute(
        sa.select(
            col(Chat.community_id), day_of, sa.func.count(), sa.func.count(sa.distinct(sender))
        )
        .select_from(event)
        .join(
            Chat,
            sa.and_(col(Chat.platform) == col(event.platform), col(Chat.platform_chat_id) == key),
        )
        .where(
            col(event.kind).in_(MESSAGE_KINDS),
            _within(created, bounds[0][0], bounds[-1][1]),
            col(Chat.community_id).in_(ids),
        )
        .group_by(col(Chat.community_id), day_of)
    ).all()
    figures: dict[str, dict[int, list[int]]] = {"messages": {}, "active_members": {}}
    for community_id, n, messages, senders in rows:
        for name, count in (("messages", messages), ("active_members", senders)):
            figures[name].setdefault(community_id, [0] * len(bounds))[n] = int(count)
    return figures


def _within(column: Any, start: datetime, end: datetime) -> Any:
    return sa.and_(column >= start, column < end)


def _per_day(column: Any, start: datetime, end: datetime) -> Any:
    """How many of the grouped rows have ``column`` inside one day."""
    return sa.func.sum(sa.case((_within(column, start, end), 1), else_=0))


def _count(
    session: Session,
    model: Any,
    ids: list[int],
    moment: Any,
    bounds: list[tuple[datetime, datetime]],
    *where: Any,
) -> dict[int, list[int]]:
    """Rows of ``model`` dated (``moment``) on each day, per community of ``ids``."""
    rows = session.execute(
        sa.select(col(model.community_id), *(_per_day(moment, a, b) for a, b in bounds))
        .where(
            col(model.community_id).in_(ids),
            _within(moment, bounds[0][0], bounds[-1][1]),
            *where,
        )
        .group_by(col(model.community_id))
    ).all()
    return {community_id: list(per_day) for community_id, *per_day in rows}


def _members_present(
    session: Session,
    ids: list[int],
    bounds: list[tuple[datetime, datetime]],
    by_platform: bool,
) -> list[tuple[Any, ...]]:
    """Members present at the end of each day, per community (and platform, or "" for
    all). Counted in two parts that each follow the (community, left_at, joined_at,
    is_banned) index without reading the table: those who never left, and those who left
    after the first day ended (a single OR of the two reads every member row)."""
    member = CommunityMember
    platform: Any = col(PlatformAccount.platform) if by_platform else sa.literal("")
    joined, left = col(member.joined_at), col(member.left_at)
    first_end, last_end = bounds[0][1], bounds[-1][1]
    found: dict[tuple[int, str], list[int]] = {}
    for still_there, present_at in (
        (left.is_(None), lambda end: joined < end),
        (left >= first_end, lambda end: sa.and_(joined < end, left >= end)),
    ):
        query = sa.select(
            col(member.community_id),
            platform,
            *(sa.func.sum(sa.case((present_at(end), 1), else_=0)) for _, end in bounds),
        ).where(
            col(member.community_id).in_(ids),
            still_there,
            joined < last_end,
            sa.not_(col(member.is_banned)),
        )
        if by_platform:
            query = query.join(
                PlatformAccount, col(PlatformAccount.id) == col(member.platform_account_id)
            )
        groups = (col(member.community_id), platform) if by_platform else (member.community_id,)
        for community_id, name, *present in session.execute(query.group_by(*groups)).all():
            into = found.setdefault((community_id, str(name)), [0] * len(bounds))
            for n, count in enumerate(present):
                into[n] += int(count or 0)
    return [(cid, name, *present) for (cid, name), present in found.items()]


def fast_plan(session: Session) -> None:
    """For the rest of the transaction, plan these reads of a few thousand rows without
    parallel workers or JIT: on PostgreSQL starting workers (tens of ms on a busy
    machine) and compiling (a second, as jsonb_each's guessed 100 rows per call make a
    few thousand rows look like millions) cost more than the whole read."""
    if _postgresql(session):
        session.execute(sa.text("SET LOCAL jit = off"))
        session.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))


# --- flows -----------------------------------------------------------------------------------


@dataclass
class FlowFigures:
    """One flow's day, in the shape of a ``FlowDailyStats`` row."""

    executions: int = 0
    succeeded: int = 0
    failed: int = 0
    stopped: int = 0
    duration_ms_sum: float = 0.0
    duration_histogram: Counter[str] = field(default_factory=Counter)
    triggers: Counter[str] = field(default_factory=Counter)
    failed_nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    node_time: dict[str, list[float]] = field(default_factory=dict)

    def add(self, other: FlowFigures) -> None:
        """Count ``other`` (another day or flow) in too: everything here adds up."""
        self.executions += other.executions
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.stopped += other.stopped
        self.duration_ms_sum += other.duration_ms_sum
        self.duration_histogram.update(other.duration_histogram)
        self.triggers.update(other.triggers)
        for node_id, (runs, total_ms) in other.node_time.items():
            mine = self.node_time.setdefault(node_id, [0, 0.0])
            mine[0] += runs
            mine[1] += total_ms
        for node_id, failed in other.failed_nodes.items():
            into = self.failed_nodes.setdefault(node_id, {"count": 0, "errors": {}})
            into["count"] += failed["count"]
            for message, count in failed["errors"].items():
                into["errors"][message] = into["errors"].get(message, 0) + count

    def as_values(self) -> dict[str, Any]:
        return {
            "executions": self.executions,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "stopped": self.stopped,
            "duration_ms_sum": self.duration_ms_sum,
            "duration_histogram": dict(self.duration_histogram),
            "triggers": dict(self.triggers),
            "failed_nodes": self.failed_nodes,
            "node_time": self.node_time,
        }


def flow_figures(
    session: Session, day: date, flow_ids: Collection[int] | None = None, details: bool = True
) -> dict[int, FlowFigures]:
    """Per flow (all, or ``flow_ids``), the executions that finished on the UTC ``day``,
    grouped by the database; with ``details`` their steps' times and failures too."""
    return flow_days(session, [day], flow_ids, details)[day]


def flow_days(
    session: Session,
    days: Sequence[date],
    flow_ids: Collection[int] | None = None,
    details: bool = True,
) -> dict[date, dict[int, FlowFigures]]:
    """:func:`flow_figures` of a few consecutive ``days``, each table read once for all."""
    bounds = [utc_bounds(day) for day in days]
    execution = FlowExecution
    finished = col(execution.finished_at)
    where: list[Any] = [
        col(execution.status).in_(FINISHED),
        _within(finished, bounds[0][0], bounds[-1][1]),
    ]
    if flow_ids is not None:
        where.append(col(execution.flow_id).in_(list(flow_ids)))
    fast_plan(session)
    day_of = sa.case(*((finished < end, n) for n, (_, end) in enumerate(bounds)))
    ms = sa.func.greatest if _postgresql(session) else sa.func.max
    duration = ms(_milliseconds(session, execution.started_at, execution.finished_at), 0.0)
    bucket = sa.case(*((duration <= bound, str(bound)) for bound in BUCKETS_MS), else_=OVERFLOW)
    group = (day_of, col(execution.flow_id), col(execution.status), col(execution.trigger_type))
    figures: list[dict[int, FlowFigures]] = [defaultdict(FlowFigures) for _ in days]
    runs = session.execute(
        sa.select(*group, bucket, sa.func.count(), sa.func.sum(duration))
        .where(*where)
        .group_by(*group, bucket)
    ).all()
    for n, flow_id, status, trigger, bucket_key, count, total_ms in runs:
        one = figures[n][flow_id]
        one.executions += count
        setattr(one, str(status), getattr(one, str(status)) + count)
        one.duration_ms_sum += float(total_ms or 0)
        one.duration_histogram[bucket_key] += count
        one.triggers[trigger] += count
    if details:
        _add_steps(session, figures, day_of, where)
    return {day: dict(figures[n]) for n, day in enumerate(days)}


def _add_steps(
    session: Session, figures: list[dict[int, FlowFigures]], day_of: Any, where: list[Any]
) -> None:
    step, execution = FlowExecutionStep, FlowExecution
    failed = col(step.status) == StepStatus.failed
    error = sa.case((failed, sa.func.substr(sa.func.coalesce(col(step.error), ""), 1, ERROR_CHARS)))
    group = (day_of, col(execution.flow_id), col(step.node_id), error)
    steps_of = [col(execution.id) == col(step.execution_id)]
    if _postgresql(session):
        # Its executions' ids as an array: else the planner joins by reading every step
        # kept (30 days of them) to find one day's.
        ids = sa.select(col(execution.id)).where(*where).correlate(None).scalar_subquery()
        steps_of.append(col(step.execution_id) == sa.any_(sa.func.array(ids)))
    rows = session.execute(
        sa.select(
            *group,
            sa.func.count(col(step.duration_ms)),
            sa.func.sum(col(step.duration_ms)),
            sa.func.sum(sa.case((failed, 1), else_=0)),
        )
        .join(execution, sa.and_(*steps_of))
        .where(*where)
        .group_by(*group)
    ).all()
    for n, flow_id, node_id, message, timed, total_ms, failures in rows:
        one = figures[n][flow_id]
        if timed:
            runs_ms = one.node_time.setdefault(node_id, [0, 0.0])
            runs_ms[0] += timed
            runs_ms[1] += float(total_ms)
        if failures:
            node = one.failed_nodes.setdefault(node_id, {"count": 0, "errors": {}})
            node["count"] += failures
            node["errors"][message] = node["errors"].get(message, 0) + failures


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _milliseconds(session: Session, start: Any, end: Any) -> Any:
    """``end - start`` in milliseconds, computed by the database."""
    if _postgresql(session):
        return sa.func.extract("epoch", col(end) - col(start)) * 1000
    return (sa.func.julianday(col(end)) - sa.func.julianday(col(start))) * 86_400_000.0

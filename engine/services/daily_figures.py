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
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

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
    start, end = utc_bounds(day)
    ids = list(community_ids)
    member = CommunityMember
    figures = {cid: CommunityFigures() for cid in ids}
    for community_id, platform, count in _members_present(session, ids, end, by_platform):
        figures[community_id].member_count += count
        if by_platform:
            figures[community_id].by_platform[platform] = count
    counts = {
        "joined": _count(session, member, ids, _within(member.joined_at, start, end)),
        "left": _count(session, member, ids, _within(member.left_at, start, end)),
        "warnings": _count(session, Warning, ids, _within(Warning.created_at, start, end)),
        "bans": _count(
            session,
            ModerationLog,
            ids,
            ModerationLog.action == ModerationAction.ban,
            _within(ModerationLog.created_at, start, end),
        ),
        **_message_figures(session, ids, start, end),
    }
    for name, per_community in counts.items():
        for community_id, count in per_community.items():
            figures[community_id].counts[name] = count
    return figures


def _message_figures(
    session: Session, ids: list[int], start: datetime, end: datetime
) -> dict[str, dict[int, int]]:
    """Messages and distinct senders per community, from the day's recorded events in the
    communities' chats (a Discord event's chat is its guild, as ``chat_key`` says)."""
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
    rows = session.execute(
        sa.select(col(Chat.community_id), sa.func.count(), sa.func.count(sa.distinct(sender)))
        .select_from(event)
        .join(
            Chat,
            sa.and_(col(Chat.platform) == col(event.platform), col(Chat.platform_chat_id) == key),
        )
        .where(
            col(event.kind).in_(MESSAGE_KINDS),
            _within(col(event.created_at), start, end),
            col(Chat.community_id).in_(ids),
        )
        .group_by(col(Chat.community_id))
    ).all()
    return {
        "messages": {cid: int(n) for cid, n, _ in rows},
        "active_members": {cid: int(senders) for cid, _, senders in rows},
    }


def _within(column: Any, start: datetime, end: datetime) -> Any:
    return sa.and_(column >= start, column < end)


def _count(session: Session, model: Any, ids: list[int], *where: Any) -> dict[int, int]:
    """Rows of ``model`` matching ``where``, per community of ``ids``."""
    rows = session.exec(
        select(model.community_id, sa.func.count())
        .where(col(model.community_id).in_(ids), *where)
        .group_by(model.community_id)
    ).all()
    return {community_id: count for community_id, count in rows}


def _members_present(
    session: Session, ids: list[int], end: datetime, by_platform: bool
) -> list[tuple[int, str, int]]:
    """Members present at ``end``, per community (and platform, or "" for all)."""
    member = CommunityMember
    platform: Any = col(PlatformAccount.platform) if by_platform else sa.literal("")
    query = sa.select(col(member.community_id), platform, sa.func.count()).where(
        col(member.community_id).in_(ids),
        col(member.joined_at) < end,
        sa.or_(col(member.left_at).is_(None), col(member.left_at) >= end),
        sa.not_(col(member.is_banned)),
    )
    if by_platform:
        query = query.join(
            PlatformAccount, col(PlatformAccount.id) == col(member.platform_account_id)
        ).group_by(col(member.community_id), platform)
    else:
        query = query.group_by(col(member.community_id))
    return [(cid, str(name), int(count)) for cid, name, count in session.execute(query).all()]


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
    start, end = utc_bounds(day)
    execution = FlowExecution
    where: list[Any] = [
        col(execution.status).in_(FINISHED),
        _within(col(execution.finished_at), start, end),
    ]
    if flow_ids is not None:
        where.append(col(execution.flow_id).in_(list(flow_ids)))
    ms = sa.func.greatest if _postgresql(session) else sa.func.max
    duration = ms(_milliseconds(session, execution.started_at, execution.finished_at), 0.0)
    bucket = sa.case(*((duration <= bound, str(bound)) for bound in BUCKETS_MS), else_=OVERFLOW)
    group = (col(execution.flow_id), col(execution.status), col(execution.trigger_type), bucket)
    figures: dict[int, FlowFigures] = defaultdict(FlowFigures)
    runs = session.execute(
        sa.select(*group, sa.func.count(), sa.func.sum(duration)).where(*where).group_by(*group)
    ).all()
    for flow_id, status, trigger, bucket_key, count, total_ms in runs:
        day_of = figures[flow_id]
        day_of.executions += count
        setattr(day_of, str(status), getattr(day_of, str(status)) + count)
        day_of.duration_ms_sum += float(total_ms or 0)
        day_of.duration_histogram[bucket_key] += count
        day_of.triggers[trigger] += count
    if details:
        _add_steps(session, figures, where)
    return dict(figures)


def _add_steps(session: Session, figures: dict[int, FlowFigures], where: list[Any]) -> None:
    step, execution = FlowExecutionStep, FlowExecution
    failed = col(step.status) == StepStatus.failed
    error = sa.case((failed, sa.func.substr(sa.func.coalesce(col(step.error), ""), 1, ERROR_CHARS)))
    group = (col(execution.flow_id), col(step.node_id), error)
    rows = session.execute(
        sa.select(
            *group,
            sa.func.count(col(step.duration_ms)),
            sa.func.sum(col(step.duration_ms)),
            sa.func.sum(sa.case((failed, 1), else_=0)),
        )
        .join(execution, col(execution.id) == col(step.execution_id))
        .where(*where)
        .group_by(*group)
    ).all()
    for flow_id, node_id, message, timed, total_ms, failures in rows:
        day_of = figures[flow_id]
        if timed:
            runs_ms = day_of.node_time.setdefault(node_id, [0, 0.0])
            runs_ms[0] += timed
            runs_ms[1] += float(total_ms)
        if failures:
            node = day_of.failed_nodes.setdefault(node_id, {"count": 0, "errors": {}})
            node["count"] += failures
            node["errors"][message] = node["errors"].get(message, 0) + failures


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _milliseconds(session: Session, start: Any, end: Any) -> Any:
    """``end - start`` in milliseconds, computed by the database."""
    if _postgresql(session):
        return sa.func.extract("epoch", col(end) - col(start)) * 1000
    return (sa.func.julianday(col(end)) - sa.func.julianday(col(start))) * 86_400_000.0

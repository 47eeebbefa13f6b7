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
from engine.nodes.utility import as_utc, stored_time
from engine.services.community_chats import chat_key, community_ids_by_chat
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
    by_platform: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMMUNITY_COUNTS, 0))

    @property
    def member_count(self) -> int:
        return sum(self.by_platform.values())


def community_figures(
    session: Session, day: date, community_ids: Collection[int]
) -> dict[int, CommunityFigures]:
    """The figures of each of ``community_ids`` for the UTC ``day``."""
    start, end = utc_bounds(day)
    ids = list(community_ids)
    member = CommunityMember
    figures = {cid: CommunityFigures() for cid in ids}
    for community_id, platform, count in _members_by_platform(session, ids, end):
        figures[community_id].by_platform[str(platform)] = count
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
        **_message_figures(session, start, end),
    }
    for name, per_community in counts.items():
        for community_id, count in per_community.items():
            if community_id in figures:
                figures[community_id].counts[name] = count
    return figures


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


def _count(session: Session, model: Any, ids: list[int], *where: Any) -> dict[int, int]:
    """Rows of ``model`` matching ``where``, per community of ``ids``."""
    rows = session.exec(
        select(model.community_id, sa.func.count())
        .where(col(model.community_id).in_(ids), *where)
        .group_by(model.community_id)
    ).all()
    return {community_id: count for community_id, count in rows}


def _members_by_platform(
    session: Session, ids: list[int], end: datetime
) -> list[tuple[int, str, int]]:
    """Members present at ``end``, per community and platform."""
    rows = session.exec(
        select(CommunityMember.community_id, PlatformAccount.platform, sa.func.count())
        .join(PlatformAccount, col(PlatformAccount.id) == col(CommunityMember.platform_account_id))
        .where(
            col(CommunityMember.community_id).in_(ids),
            CommunityMember.joined_at < end,
            sa.or_(col(CommunityMember.left_at).is_(None), col(CommunityMember.left_at) >= end),
            sa.not_(col(CommunityMember.is_banned)),
        )
        .group_by(col(CommunityMember.community_id), col(PlatformAccount.platform))
    ).all()
    return [(cid, str(platform), count) for cid, platform, count in rows]


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


def bucket_of(duration_ms: float) -> str:
    """The histogram key of a duration: the smallest upper bound it fits under."""
    for bound in BUCKETS_MS:
        if duration_ms <= bound:
            return str(bound)
    return OVERFLOW


def flow_figures(
    session: Session, day: date, flow_ids: Collection[int] | None = None
) -> dict[int, FlowFigures]:
    """Per flow (all, or ``flow_ids``), the executions that finished on the UTC ``day``."""
    start, end = utc_bounds(day)
    execution = FlowExecution
    where: list[Any] = [
        col(execution.status).in_(FINISHED),
        _within(execution.finished_at, start, end),
    ]
    if flow_ids is not None:
        where.append(col(execution.flow_id).in_(list(flow_ids)))
    figures: dict[int, FlowFigures] = defaultdict(FlowFigures)
    runs = session.execute(
        sa.select(
            col(execution.flow_id),
            col(execution.status),
            col(execution.trigger_type),
            col(execution.started_at),
            col(execution.finished_at),
        ).where(*where)
    ).all()
    for flow_id, status, trigger, started, finished in runs:
        day_of = figures[flow_id]
        day_of.executions += 1
        setattr(day_of, str(status), getattr(day_of, str(status)) + 1)
        ms = max(0.0, (as_utc(finished) - as_utc(started)).total_seconds() * 1000)
        day_of.duration_ms_sum += ms
        day_of.duration_histogram[bucket_of(ms)] += 1
        day_of.triggers[trigger] += 1
    step = FlowExecutionStep
    steps = session.execute(
        sa.select(
            *(col(c) for c in (execution.flow_id, step.node_id, step.status, step.error)),
            col(step.duration_ms),
        )
        .join(execution, col(execution.id) == col(step.execution_id))
        .where(*where)
    ).all()
    for flow_id, node_id, status, error, duration_ms in steps:
        day_of = figures[flow_id]
        if duration_ms is not None:
            runs_ms = day_of.node_time.setdefault(node_id, [0, 0.0])
            runs_ms[0] += 1
            runs_ms[1] += duration_ms
        if status == StepStatus.failed:
            failed = day_of.failed_nodes.setdefault(node_id, {"count": 0, "errors": {}})
            failed["count"] += 1
            message = (error or "")[:ERROR_CHARS]
            failed["errors"][message] = failed["errors"].get(message, 0) + 1
    return dict(figures)

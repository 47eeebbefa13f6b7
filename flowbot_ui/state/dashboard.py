"""The Dashboard's state: counters, the activity feed, the checklist and the charts.

Everything is read through the services as the signed-in user. While the page is open it
follows the bus topics of the writers the feed reads (executions, joins and leaves,
moderation actions, connections, flows); a burst of events is gathered for
``BATCH_SECONDS`` and costs one reload and one update to the browser. The charts are read
again when an execution ends, a member joins or leaves or a message is counted, at most
every ``CHART_SECONDS`` (a chart reads a week of rows); a change held back by that limit
is drawn with the next events or after the watcher's quiet poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import reflex as rx
from pydantic import BaseModel
from sqlmodel import Session

from engine import events
from engine.community_events import MEMBER_JOINED, MEMBER_LEFT, MESSAGE
from engine.db import session_scope
from engine.models import AdminUser, utcnow
from engine.services import activity, analytics, auth, overview
from engine.services.connections import CHANGED_TOPIC
from engine.services.moderation import TOPIC as MODERATION_TOPIC
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.bus_follow import follow_batches

T = TypeVar("T")
FEED_SIZE = 15
CHART_DAYS = 7
BATCH_SECONDS = 1.0
CHART_SECONDS = 5.0
# Disjoint patterns (Redis delivers an event once per pattern it matches).
TOPICS = (
    "execution.*",
    MEMBER_JOINED,
    MEMBER_LEFT,
    MESSAGE,
    MODERATION_TOPIC,
    "connection.*",
    CHANGED_TOPIC,
    "flows.changed",
)
COUNTERS = (
    "active_flows",
    "total_flows",
    "connections_up",
    "connections_total",
    "communities",
    "members",
    "executions_24h",
    "failed_24h",
)
PALETTE = ("blue", "orange", "green", "purple", "crimson")
ICONS = {
    "execution": "workflow",
    "member_joined": "user-plus",
    "member_left": "user-minus",
    "moderation": "shield",
    "connection": "plug",
}
STATUS_COLORS = {
    "succeeded": "green",
    "ok": "green",
    "joined": "green",
    "failed": "red",
    "error": "red",
    "partial": "amber",
    "running": "blue",
    "queued": "gray",
    "waiting": "amber",
}


class ActivityRow(BaseModel):
    key: str
    when: str
    icon: str
    title: str
    detail: str
    status: str
    color: str
    link: str


class StartStep(BaseModel):
    title: str
    text: str
    link: str
    done: bool
    test_id: str


class Series(BaseModel):
    key: str  # the data key in the chart rows (never a community's name: recharts reads dots)
    name: str
    color: str  # a CSS color


def _per_day(trends: list[overview.CommunityTrend], field: str) -> list[dict[str, Any]]:
    """Chart rows: one per day, one value per community (the days are the same for all)."""
    days = trends[0].days if trends else []
    return [
        {
            "day": day.day.strftime("%b %d"),
            **{f"c{t.community_id}": getattr(t.days[n], field) for t in trends},
        }
        for n, day in enumerate(days)
    ]


def _when(moment: datetime, now: datetime) -> str:
    return moment.strftime("%H:%M" if moment.date() == now.date() else "%b %d %H:%M")


def _row(item: activity.ActivityItem, now: datetime) -> ActivityRow:
    return ActivityRow(
        key=f"{item.kind}-{item.row_id}",
        when=_when(item.at, now),
        icon=ICONS[item.kind],
        title=item.title,
        detail=item.detail,
        status=item.status,
        color=STATUS_COLORS.get(item.status, "gray"),
        link=item.link,
    )


# Each "Getting started" step: title, text, link, the Overview flag that ticks it, test id.
STEPS = (
    (
        "Connect a bot or account",
        "Telegram bots and accounts, Discord bots, WhatsApp.",
        "/connections",
        "connection_added",
        "start-connection",
    ),
    (
        "Create a community",
        "Warnings, reputation and logs that span platforms.",
        "/communities",
        "community_created",
        "start-community",
    ),
    (
        "Attach a chat to it",
        "The groups and channels your connections are in.",
        "/communities",
        "chat_attached",
        "start-chat",
    ),
    (
        "Publish a flow",
        "A trigger, conditions and actions on any platform.",
        "/flows",
        "flow_published",
        "start-flow",
    ),
)


def _steps(figures: overview.Overview) -> list[StartStep]:
    return [
        StartStep(title=title, text=text, link=link, done=getattr(figures, flag), test_id=test_id)
        for title, text, link, flag, test_id in STEPS
    ]


def _is_step(event: events.BusEvent) -> bool:
    """A node's step: the feed and counters change only with an execution's status."""
    return event.topic.startswith("execution.") and event.payload.get("type") == "step"


def _moves_feed(event: events.BusEvent) -> bool:
    """Counters and feed show executions' states, members, moderation, connections and
    flows; not single steps, nor messages (only the charts count those)."""
    return not _is_step(event) and event.topic != MESSAGE


def _moves_charts(event: events.BusEvent) -> bool:
    """An execution that ended (the hours count succeeded and failed ones), a join, a
    leave or a message (the days' messages and members)."""
    if event.topic.startswith("execution."):
        return event.payload.get("type") == "execution" and event.payload.get("status") in (
            "succeeded",
            "failed",
        )
    return event.topic in (MEMBER_JOINED, MEMBER_LEFT, MESSAGE)


class DashboardState(AuthState):
    active_flows: int = 0
    total_flows: int = 0
    connections_up: int = 0
    connections_total: int = 0
    communities: int = 0
    members: int = 0
    executions_24h: int = 0
    failed_24h: int = 0
    feed: list[ActivityRow] = []
    steps: list[StartStep] = []
    hours: list[dict[str, Any]] = []
    hour_ticks: list[str] = []  # the hour chart's labels shown: each day's midnight
    messages: list[dict[str, Any]] = []
    growth: list[dict[str, Any]] = []
    series: list[Series] = []
    checklist_open: bool = True
    loaded: bool = False

    _watching: int = 0
    # time.time() of the last chart read (the wall clock: any web process may hold the state)
    _charts_read_at: float = 0.0
    _charts_stale: bool = False

    @rx.var
    def steps_done(self) -> int:
        return sum(step.done for step in self.steps)

    @rx.event
    def load(self):  # type: ignore[no-untyped-def]
        self._reload()
        self._charts()
        self.checklist_open = self.steps_done < len(self.steps)
        self.loaded = True
        return DashboardState.watch

    @rx.event
    def toggle_checklist(self) -> None:
        self.checklist_open = not self.checklist_open

    @rx.event(background=True)
    async def watch(self) -> None:
        """Follow the writers' topics while the page is open (see the module's doc)."""
        await follow_batches(
            self, TOPICS, self._on_batch, window=BATCH_SECONDS, on_quiet=self._charts_if_due
        )

    def _on_batch(self, batch: list[events.BusEvent]) -> None:
        if any(_moves_feed(event) for event in batch):
            self._reload()
        if any(_moves_charts(event) for event in batch):
            self._charts_stale = True
        self._charts_if_due()

    def _charts_if_due(self) -> None:
        if self._charts_stale and time.time() - self._charts_read_at >= CHART_SECONDS:
            self._charts()

    def _read(self, read: Callable[[Session, AdminUser], T]) -> T | None:
        """``read`` as the signed-in user; a refusal shown on the page instead."""
        try:
            with session_scope() as session:
                return read(session, self._current_user(session))
        except (auth.AuthError, analytics.InvalidRange) as exc:
            self.error = str(exc)
            return None

    def _reload(self) -> None:
        """The counters, the checklist and the feed."""

        def read(
            session: Session, me: AdminUser
        ) -> tuple[overview.Overview, list[activity.ActivityItem]]:
            return overview.overview(session, me), activity.recent_activity(session, me, FEED_SIZE)

        found = self._read(read)
        if found is None:
            return
        figures, items = found
        for name in COUNTERS:
            setattr(self, name, getattr(figures, name))
        now = utcnow()
        self.feed = [_row(item, now) for item in items]
        self.steps = _steps(figures)

    def _charts(self) -> None:
        self._charts_read_at, self._charts_stale = time.time(), False

        def read(
            session: Session, me: AdminUser
        ) -> tuple[list[analytics.HourCount], list[overview.CommunityTrend]]:
            days = analytics.day_range(CHART_DAYS)
            return (
                analytics.executions_per_hour(session, me, CHART_DAYS * 24),
                overview.community_trends(session, me, days),
            )

        found = self._read(read)
        if found is None:
            return
        hours, trends = found
        self.hours = [
            {
                "hour": h.hour.strftime("%a %H:00"),
                "succeeded": h.succeeded,
                "failed": h.failed,
            }
            for h in hours
        ]
        self.hour_ticks = [h["hour"] for h in self.hours if h["hour"].endswith(" 00:00")]
        self.series = [
            Series(
                key=f"c{t.community_id}",
                name=t.name,
                color=f"var(--{PALETTE[i % len(PALETTE)]}-9)",
            )
            for i, t in enumerate(trends)
        ]
        self.messages = _per_day(trends, "messages")
        self.growth = _per_day(trends, "member_count")

"""The Community analytics and Flow analytics pages' state.

Everything is read through engine/services/analytics.py as the signed-in user (viewers
may read); the range and time-zone rules are the service's (a day is a UTC day; the
viewer's zone, asked from the browser, picks today and the hours). A refused range or an
unknown community or flow is shown, never guessed around.

While Community analytics shows today, it follows the bus topics of what today's figures
count (joins, leaves, messages, moderation) in the communities shown; a burst is gathered
for ``LIVE_BATCH_SECONDS`` and costs one read of the series.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import reflex as rx
from pydantic import BaseModel
from sqlmodel import Session

from engine import events
from engine.community_events import MEMBER_JOINED, MEMBER_LEFT, MESSAGE
from engine.db import session_scope
from engine.models import AdminUser
from engine.services import analytics, auth
from engine.services.analytics import CommunityDay, DayRange, FlowDay, FlowSummary
from engine.services.errors import NotFound
from engine.services.moderation import TOPIC as MODERATION_TOPIC
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.broadcasts import ASK_TIME_ZONE, ViewerTime
from flowbot_ui.state.bus_follow import follow_batches
from flowbot_ui.state.steps import duration

ALL = "all"
CUSTOM = "custom"
RANGES = ("7", "30", "90", CUSTOM)
MAX_COMPARED = 5
COLORS = ("#3e63dd", "#e5484d", "#30a46c", "#f76b15", "#8e4ec6")
METRICS = ("member_count", "joined", "left", "messages", "active_members", "warnings", "bans")
REFUSALS = (auth.AuthError, analytics.InvalidRange, NotFound)
# What today's community figures count (disjoint patterns: Redis delivers once per match).
LIVE_TOPICS = (MEMBER_JOINED, MEMBER_LEFT, MESSAGE, MODERATION_TOPIC)
LIVE_BATCH_SECONDS = 2.0
T = TypeVar("T")


class Option(BaseModel):
    value: str
    label: str


class Line(BaseModel):
    """One line of a comparison chart: its data key in the rows, legend name and colour."""

    key: str
    name: str
    color: str


class FailingRow(BaseModel):
    node: str
    failures: int
    error: str


class NodeTimeRow(BaseModel):
    node: str
    runs: int
    avg_ms: str


class FlowTableRow(BaseModel):
    flow_id: int
    name: str
    executions: int
    success_rate: str
    p50: str
    p95: str


def _concerns(event: events.BusEvent, shown: set[int]) -> bool:
    """The event changes a shown community's day (one without a community: maybe)."""
    community_id = event.payload.get("community_id")
    return community_id is None or community_id in shown


def _label(day: date, partial: bool) -> str:
    return f"{day.isoformat()} (today so far)" if partial else day.isoformat()


def _ms(value: float | None) -> str:
    """The debugger's readable duration (flowbot_ui/state/steps.py); "—" where no run counted."""
    return "—" if value is None else duration(value)


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


class RangeState(rx.State, mixin=True):
    """The range picker both pages share: the last 7/30/90 days, or custom dates."""

    range: str = "30"
    start: str = ""  # YYYY-MM-DD, a custom range's first day
    end: str = ""
    loaded: bool = False
    message: str = ""

    @rx.event
    def pick_range(self, value: str) -> None:
        self.range = value if value in RANGES else "30"
        if self.range != CUSTOM:
            self._reload()

    @rx.event
    def set_custom(self, form: dict[str, Any]) -> None:
        self.range = CUSTOM
        self.start, self.end = str(form.get("start", ""))[:10], str(form.get("end", ""))[:10]
        self._reload()

    def _days(self) -> DayRange:
        zone = self._zone().key
        if self.range != CUSTOM:
            return analytics.day_range(int(self.range), tz=zone)
        try:
            start, end = date.fromisoformat(self.start), date.fromisoformat(self.end)
        except ValueError:
            raise analytics.InvalidRange("Pick a first and a last day.") from None
        return analytics.day_range(None, start=start, end=end, tz=zone)

    def _read(self, read: Callable[[Session, AdminUser], T]) -> T | None:
        """``read`` as the signed-in user; a refusal shown on the page instead."""
        self.error = ""
        try:
            with session_scope() as session:
                return read(session, self._current_user(session))
        except REFUSALS as exc:
            self.error = str(exc)
            return None
        finally:
            self.loaded = True


# --------------------------------------------------------------------------- communities


class CommunityAnalyticsState(RangeState, ViewerTime, AuthState):
    community: str = ""
    compared: list[str] = []  # other communities' ids, drawn against the chosen one
    metric: str = "member_count"
    options: list[Option] = []
    days: list[dict[str, Any]] = []
    compare_rows: list[dict[str, Any]] = []
    lines: list[Line] = []
    today: dict[str, int] = {}
    partial_day: str = ""

    _watching: int = 0

    @rx.event
    def load(self):  # type: ignore[no-untyped-def]
        wanted = str(self.router.page.params.get("community", "") or "")
        self.community = wanted if wanted.isdigit() else ""
        self.compared, self.error = [], ""
        self._reload()
        return [
            rx.call_script(ASK_TIME_ZONE, callback=CommunityAnalyticsState.set_time_zone),
            CommunityAnalyticsState.watch,
        ]

    @rx.event(background=True)
    async def watch(self) -> None:
        """Today's figures follow the bus while the page is open (see the module's doc)."""
        await follow_batches(self, LIVE_TOPICS, self._on_batch, window=LIVE_BATCH_SECONDS)

    def _on_batch(self, batch: list[events.BusEvent]) -> None:
        shown = set(self._ids())
        if self.partial_day and any(_concerns(event, shown) for event in batch):
            self._reload()

    @rx.event
    def pick_community(self, value: str) -> None:
        self.community = value if value.isdigit() else ""
        self.compared = [c for c in self.compared if c != self.community]
        self._reload()

    @rx.event
    def toggle_compared(self, community_id: str) -> None:
        if community_id in self.compared:
            self.compared = [c for c in self.compared if c != community_id]
        elif community_id.isdigit() and len(self.compared) < MAX_COMPARED - 1:
            self.compared = [*self.compared, community_id]
        self._reload()

    @rx.event
    def pick_metric(self, value: str) -> None:
        self.metric = value if value in METRICS else "member_count"
        self._reload()

    @rx.event
    def refresh(self) -> None:
        self._reload()

    @rx.event
    def download_csv(self):  # type: ignore[no-untyped-def]
        ids = self._ids()
        text = self._read(lambda s, me: analytics.communities_csv(s, me, ids, self._days()))
        if text is None or not ids:
            return None
        return rx.download(data=text, filename="community-analytics.csv", mime_type="text/csv")

    def _ids(self) -> list[int]:
        chosen = [self.community, *self.compared]
        return [int(c) for c in chosen if c.isdigit()]

    def _reload(self) -> None:
        def read(session: Session, me: AdminUser) -> dict[int, list[CommunityDay]]:
            choices = analytics.community_choices(session, me)
            self.options = [Option(value=str(cid), label=name) for cid, name in choices]
            if not self.community and self.options:
                self.community = self.options[0].value
            ids = self._ids()
            return analytics.compare_communities(session, me, ids, self._days()) if ids else {}

        series = self._read(read) or {}
        names = {o.value: o.label for o in self.options}
        own = series.get(int(self.community)) if self.community.isdigit() else None
        self.days = [{**vars(d), "day": _label(d.day, d.partial)} for d in own or []]
        last = own[-1] if own else None
        self.partial_day = _label(last.day, True) if last and last.partial else ""
        self.today = {m: getattr(last, m) for m in METRICS} if last and last.partial else {}
        self.lines = [
            Line(key=f"c{cid}", name=names.get(str(cid), str(cid)), color=COLORS[n])
            for n, cid in enumerate(series)
        ]
        self.compare_rows = [
            {"day": _label(day.day, day.partial)}
            | {f"c{cid}": getattr(rows[i], self.metric) for cid, rows in series.items()}
            for i, day in enumerate(own or [])
        ]


# --------------------------------------------------------------------------- flows


class FlowAnalyticsState(RangeState, ViewerTime, AuthState):
    flow: str = ALL
    options: list[Option] = []
    days: list[dict[str, Any]] = []
    executions: int = 0
    success_rate: str = "—"
    p50: str = "—"
    p95: str = "—"
    failing: list[FailingRow] = []
    node_times: list[NodeTimeRow] = []
    triggers: list[dict[str, Any]] = []
    table: list[FlowTableRow] = []

    @rx.event
    def load(self):  # type: ignore[no-untyped-def]
        wanted = str(self.router.page.params.get("flow", "") or "")
        self.flow = wanted if wanted.isdigit() else ALL
        self.error = ""
        self._reload()
        return rx.call_script(ASK_TIME_ZONE, callback=FlowAnalyticsState.set_time_zone)

    @rx.event
    def pick_flow(self, value: str) -> None:
        self.flow = value if value.isdigit() else ALL
        self._reload()

    @rx.event
    def download_csv(self):  # type: ignore[no-untyped-def]
        flow_id = self._flow_id()
        text = self._read(lambda s, me: analytics.flow_series_csv(s, me, flow_id, self._days()))
        if text is None:
            return None
        return rx.download(data=text, filename="flow-analytics.csv", mime_type="text/csv")

    def _flow_id(self) -> int | None:
        return int(self.flow) if self.flow.isdigit() else None

    def _reload(self) -> None:
        flow_id = self._flow_id()

        def read(
            session: Session, me: AdminUser
        ) -> tuple[list[FlowDay], FlowSummary, list[analytics.FlowRow]]:
            days = self._days()
            series = analytics.flow_series(session, me, flow_id, days)
            summary = analytics.flow_summary(session, me, flow_id, days)
            table = analytics.flow_table(session, me, days) if flow_id is None else []
            self.options = [Option(value=ALL, label="All flows")] + [
                Option(value=str(fid), label=name)
                for fid, name in analytics.flow_choices(session, me)
            ]
            return series, summary, table

        found = self._read(read)
        if found is None:
            self.days, self.failing, self.node_times, self.triggers, self.table = [], [], [], [], []
            return
        series, summary, table = found
        self.days = [
            {**vars(d), "day": _label(d.day, d.partial), "p50": d.p50_ms, "p95": d.p95_ms}
            for d in series
        ]
        self.executions = summary.executions
        self.success_rate = _rate(summary.success_rate)
        self.p50, self.p95 = _ms(summary.p50_ms), _ms(summary.p95_ms)
        prefix = flow_id is None
        self.failing = [
            FailingRow(
                node=f"{n.flow_name} / {n.node_id}" if prefix else n.node_id,
                failures=n.failures,
                error=f"{n.top_error} ({n.top_error_count}×)" if n.top_error else "—",
            )
            for n in summary.top_failing
        ]
        self.node_times = [
            NodeTimeRow(
                node=f"{n.flow_name} / {n.node_id}" if prefix else n.node_id,
                runs=n.runs,
                avg_ms=_ms(n.avg_ms),
            )
            for n in summary.node_times
        ]
        self.triggers = [{"kind": t.kind, "count": t.count} for t in summary.triggers]
        self.table = [
            FlowTableRow(
                flow_id=r.flow_id,
                name=r.name,
                executions=r.executions,
                success_rate=_rate(r.success_rate),
                p50=_ms(r.p50_ms),
                p95=_ms(r.p95_ms),
            )
            for r in table
        ]

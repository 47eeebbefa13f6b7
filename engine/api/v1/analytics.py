"""Community and flow analytics, read-only: viewers may read them.

Every rule is engine/services/analytics.py's (the Analytics pages call the same functions),
including the time-zone semantics: a day is a UTC day, ``tz`` decides which day is today
and what the hours of the hourly series are.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.api.v1.caller import Viewer, run
from engine.api.v1.errors import ApiError
from engine.models import AdminUser
from engine.services import analytics
from engine.services.analytics import DayRange

router = APIRouter(prefix="/analytics", tags=["Analytics"])
MAX_COMPARED = 10
CommunityIds = Annotated[
    list[int],
    Query(
        min_length=1,
        max_length=MAX_COMPARED,
        description="One community, or several to compare (repeat the parameter).",
    ),
]
FlowId = Annotated[int | None, Query(description="One flow; omit for every flow together.")]
Zone = Annotated[
    str,
    Query(
        max_length=64,
        description="The viewer's IANA time zone: which day is today, and the local hours.",
        examples=["Europe/Berlin"],
    ),
]


def day_range(
    days: Annotated[
        int | None,
        Query(ge=1, le=analytics.MAX_DAYS, description="The last N days, today included."),
    ] = 30,
    start: Annotated[date | None, Query(description="A custom range's first day.")] = None,
    end: Annotated[date | None, Query(description="A custom range's last day.")] = None,
    tz: Zone = "UTC",
) -> DayRange:
    try:
        return analytics.day_range(days, start, end, tz)
    except analytics.InvalidRange as exc:
        raise ApiError(422, str(exc)) from None


Days = Annotated[DayRange, Depends(day_range)]


class CommunityDayOut(BaseModel):
    day: date = Field(description="A UTC day.")
    member_count: int = Field(description="Members at the end of the day (banned ones not).")
    joined: int
    left: int
    messages: int = Field(description="Messages Flowbot saw in the community's chats.")
    active_members: int = Field(description="Distinct senders of those messages.")
    warnings: int
    bans: int
    partial: bool = Field(description="Today: counted live, still going on.")


class CommunitySeriesOut(BaseModel):
    community_id: int
    start: date
    end: date
    days: list[CommunityDayOut]


class FlowDayOut(BaseModel):
    day: date = Field(description="A UTC day: the executions that ended on it.")
    executions: int
    succeeded: int
    failed: int
    stopped: int
    p50_ms: float | None = Field(description="Median duration (within one histogram bucket).")
    p95_ms: float | None
    partial: bool


class FailingNodeOut(BaseModel):
    flow_id: int
    flow_name: str
    node_id: str = Field(examples=["send1"])
    failures: int
    top_error: str = Field(description="Its most common error.", examples=["chat not found"])
    top_error_count: int


class NodeTimeOut(BaseModel):
    flow_id: int
    flow_name: str
    node_id: str
    runs: int
    avg_ms: float


class TriggerOut(BaseModel):
    kind: str = Field(examples=["tg_message"])
    count: int


class FlowSummaryOut(BaseModel):
    executions: int
    succeeded: int
    failed: int
    stopped: int
    success_rate: float | None = Field(description="succeeded / (succeeded + failed).")
    p50_ms: float | None
    p95_ms: float | None
    avg_ms: float | None
    top_failing: list[FailingNodeOut]
    node_times: list[NodeTimeOut] = Field(description="Slowest nodes first.")
    triggers: list[TriggerOut] = Field(description="Most used first.")


class FlowAnalyticsOut(BaseModel):
    flow_id: int | None = Field(description="None: every flow together.")
    start: date
    end: date
    days: list[FlowDayOut]
    summary: FlowSummaryOut


class FlowRowOut(BaseModel):
    flow_id: int
    name: str
    executions: int
    succeeded: int
    failed: int
    stopped: int
    success_rate: float | None
    p50_ms: float | None
    p95_ms: float | None


class HourOut(BaseModel):
    hour: datetime = Field(description="The hour's start in the requested time zone.")
    succeeded: int
    failed: int


def _csv(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "One line per day."}
}


@router.get(
    "/communities",
    response_model=list[CommunitySeriesOut],
    summary="Daily figures of one or several communities",
)
async def community_series(
    caller: Viewer, community_id: CommunityIds, days: Days
) -> list[CommunitySeriesOut]:
    def action(session: Session, me: AdminUser) -> list[CommunitySeriesOut]:
        series = analytics.compare_communities(session, me, community_id, days)
        return [
            CommunitySeriesOut(
                community_id=cid,
                start=days.start,
                end=days.end,
                days=[CommunityDayOut(**vars(row)) for row in rows],
            )
            for cid, rows in series.items()
        ]

    return await run(caller, action)


@router.get(
    "/communities.csv",
    summary="Export communities' daily figures as CSV",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def export_communities(caller: Viewer, community_id: CommunityIds, days: Days) -> Response:
    text = await run(caller, lambda s, me: analytics.communities_csv(s, me, community_id, days))
    return _csv(text, "community-analytics.csv")


@router.get("/flows", response_model=FlowAnalyticsOut, summary="A flow's (or all flows') analytics")
async def flow_analytics(caller: Viewer, days: Days, flow_id: FlowId = None) -> FlowAnalyticsOut:
    def action(session: Session, me: AdminUser) -> FlowAnalyticsOut:
        series = analytics.flow_series(session, me, flow_id, days)
        summary = analytics.flow_summary(session, me, flow_id, days)
        return FlowAnalyticsOut(
            flow_id=flow_id,
            start=days.start,
            end=days.end,
            days=[FlowDayOut(**vars(row)) for row in series],
            summary=FlowSummaryOut(
                **{
                    **vars(summary),
                    "top_failing": [FailingNodeOut(**vars(n)) for n in summary.top_failing],
                    "node_times": [NodeTimeOut(**vars(n)) for n in summary.node_times],
                    "triggers": [TriggerOut(**vars(t)) for t in summary.triggers],
                }
            ),
        )

    return await run(caller, action)


@router.get("/flows/table", response_model=list[FlowRowOut], summary="Every flow's figures")
async def flow_table(caller: Viewer, days: Days) -> list[FlowRowOut]:
    rows = await run(caller, lambda s, me: analytics.flow_table(s, me, days))
    return [FlowRowOut(**vars(row)) for row in rows]


@router.get(
    "/flows.csv",
    summary="Export a flow's (or all flows') daily figures as CSV",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def export_flows(caller: Viewer, days: Days, flow_id: FlowId = None) -> Response:
    text = await run(caller, lambda s, me: analytics.flow_series_csv(s, me, flow_id, days))
    return _csv(text, "flow-analytics.csv")


@router.get(
    "/executions-per-hour",
    response_model=list[HourOut],
    summary="Executions that ended in each recent hour",
)
async def executions_per_hour(
    caller: Viewer,
    hours: Annotated[int, Query(ge=1, le=analytics.MAX_HOURS)] = 168,
    tz: Zone = "UTC",
) -> list[HourOut]:
    rows = await run(caller, lambda s, me: analytics.executions_per_hour(s, me, hours, tz))
    return [HourOut(**vars(row)) for row in rows]

"""/api/v1/analytics: community and flow series, the flow summary and table, CSV, hours."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta

import httpx

from engine.db import session_scope
from engine.models import (
    Community,
    CommunityAnalyticsSnapshot,
    ExecutionStatus,
    FlowDailyStats,
    FlowDefinition,
    FlowExecution,
    FlowExecutionStep,
    StepStatus,
)
from tests.api.conftest import Tokens

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/analytics/communities"): "viewer",
    ("GET", "/api/v1/analytics/communities.csv"): "viewer",
    ("GET", "/api/v1/analytics/flows"): "viewer",
    ("GET", "/api/v1/analytics/flows/table"): "viewer",
    ("GET", "/api/v1/analytics/flows.csv"): "viewer",
    ("GET", "/api/v1/analytics/executions-per-hour"): "viewer",
}


def _seed() -> tuple[int, int, int]:
    """Two communities (one with a snapshot 5 days ago) and a flow with a roll-up 5 days
    ago and a failed execution that ended today, a minute ago at most."""
    now = datetime.now(UTC)
    today = now.date()
    with session_scope() as session:
        cats, dogs = Community(name="Cats"), Community(name="Dogs")
        flow = FlowDefinition(name="welcome")
        session.add_all([cats, dogs, flow])
        session.flush()
        assert cats.id and dogs.id and flow.id
        session.add(
            CommunityAnalyticsSnapshot(
                community_id=cats.id, day=today - timedelta(days=5), member_count=12, joined=4
            )
        )
        session.add(
            FlowDailyStats(
                flow_id=flow.id,
                day=today - timedelta(days=5),
                executions=3,
                succeeded=3,
                duration_histogram={"100": 3},
                triggers={"tg_message": 3},
            )
        )
        ended = max(now - timedelta(minutes=1), datetime.combine(today, time(), UTC))
        run = FlowExecution(
            flow_id=flow.id,
            status=ExecutionStatus.failed,
            trigger_type="manual",
            started_at=ended - timedelta(milliseconds=80),
            finished_at=ended,
        )
        session.add(run)
        session.flush()
        assert run.id
        session.add(
            FlowExecutionStep(
                execution_id=run.id,
                seq=1,
                step_key="send1",
                node_id="send1",
                node_type="tg_send_message",
                status=StepStatus.failed,
                error="chat not found",
                duration_ms=70.0,
            )
        )
        return cats.id, dogs.id, flow.id


async def test_community_series_and_comparison(api: httpx.AsyncClient, tokens: Tokens) -> None:
    cats, dogs, _ = _seed()
    answer = await api.get(
        "/api/v1/analytics/communities",
        params={"community_id": [cats, dogs], "days": 7, "tz": "Europe/Berlin"},
        headers=tokens.read_only,
    )
    assert answer.status_code == 200, answer.text
    [cat_series, dog_series] = answer.json()
    assert cat_series["community_id"] == cats and len(cat_series["days"]) == 7
    assert [d["member_count"] for d in cat_series["days"]][:3] == [0, 12, 12]  # carried on
    assert cat_series["days"][1]["joined"] == 4
    assert cat_series["days"][-1]["partial"] and not cat_series["days"][0]["partial"]
    assert dog_series["community_id"] == dogs

    exported = await api.get(
        "/api/v1/analytics/communities.csv",
        params={"community_id": cats, "days": 7},
        headers=tokens.viewer,
    )
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:3] == ["community_id", "community", "day (UTC)"] and len(rows) == 8


async def test_flow_analytics_table_csv_and_hours(api: httpx.AsyncClient, tokens: Tokens) -> None:
    _, _, flow = _seed()
    answer = await api.get(
        "/api/v1/analytics/flows", params={"flow_id": flow, "days": 7}, headers=tokens.viewer
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [d["executions"] for d in body["days"]] == [0, 3, 0, 0, 0, 0, 1]
    summary = body["summary"]
    assert (summary["executions"], summary["failed"]) == (4, 1)
    assert summary["success_rate"] == 0.75
    assert summary["top_failing"][0]["node_id"] == "send1"
    assert summary["top_failing"][0]["top_error"] == "chat not found"
    assert [t["kind"] for t in summary["triggers"]] == ["tg_message", "manual"]
    every = await api.get("/api/v1/analytics/flows", headers=tokens.viewer)
    assert every.json()["flow_id"] is None and len(every.json()["days"]) == 30

    table = await api.get("/api/v1/analytics/flows/table", headers=tokens.viewer)
    assert [(r["name"], r["executions"]) for r in table.json()] == [("welcome", 4)]
    exported = await api.get(
        "/api/v1/analytics/flows.csv", params={"days": 2}, headers=tokens.viewer
    )
    assert exported.text.splitlines()[0].startswith("day (UTC),executions")
    hours = await api.get(
        "/api/v1/analytics/executions-per-hour",
        params={"hours": 24, "tz": "Asia/Tokyo"},
        headers=tokens.viewer,
    )
    assert hours.status_code == 200
    assert len(hours.json()) == 24 and hours.json()[-1]["hour"].endswith("+09:00")
    assert sum(h["failed"] for h in hours.json()) == 1


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    assert (await api.get("/api/v1/analytics/flows")).status_code == 401
    for path, params in [
        ("/communities", {"community_id": 999}),
        ("/communities.csv", {"community_id": 999}),
        ("/flows", {"flow_id": 999}),
        ("/flows.csv", {"flow_id": 999}),
    ]:
        gone = await api.get(f"/api/v1/analytics{path}", params=params, headers=tokens.viewer)
        assert gone.status_code == 404, path
    for params in (
        {"tz": "Mars/Olympus"},
        {"days": 0},
        {"start": "2030-01-05", "end": "2030-01-01"},
    ):
        bad = await api.get("/api/v1/analytics/flows", params=params, headers=tokens.viewer)
        assert bad.status_code == 422, params
    missing = await api.get("/api/v1/analytics/communities", headers=tokens.viewer)
    assert missing.status_code == 422

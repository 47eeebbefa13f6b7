"""/api/v1/executions: filtered lists, one execution with its (redacted) steps, cancelling
a queued, waiting or running one, and re-running from a node."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from engine import actors, runtime
from engine.broker import QUEUE
from engine.db import session_scope
from engine.models import (
    ExecutionStatus,
    FlowDefinition,
    FlowExecution,
    FlowExecutionStep,
    StepStatus,
)
from engine.nodes import REGISTRY
from engine.nodes.base import NodeResult
from tests.api.conftest import Tokens
from tests.flow_helpers import chain, make_flow

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/executions"): "viewer",
    ("GET", "/api/v1/executions/{execution_id}"): "viewer",
    ("POST", "/api/v1/executions/{execution_id}/cancel"): "editor",
    ("POST", "/api/v1/executions/{execution_id}/rerun"): "editor",
}

SECRET = "hunter2-password-xyz"
TWO_TEMPLATES = chain(
    ("t", "tg_command", {"command": "start"}),
    ("m1", "template", {"text": "one"}),
    ("m2", "template", {"text": "two {{node.m1.text}}"}),
)


def _execution(
    flow_id: int,
    *,
    status: ExecutionStatus = ExecutionStatus.succeeded,
    trigger_type: str = "tg_command",
    started_at: datetime | None = None,
) -> int:
    """A recorded execution of the flow's published version, as a worker would leave it."""
    with session_scope() as session:
        flow = session.get(FlowDefinition, flow_id)
        assert flow is not None
        execution = FlowExecution(
            flow_id=flow_id,
            version_id=flow.published_version_id,
            status=status,
            trigger_type=trigger_type,
            trigger_data={"text": "/start", "password": SECRET},
            started_at=started_at or datetime.now(UTC),
        )
        session.add(execution)
        session.flush()
        assert execution.id is not None
        return execution.id


async def _run(flow_id: int) -> int:
    """A real run of the flow, here and now, with a secret in its trigger."""
    outcome = await runtime.run_flow_now(flow_id, {"text": "/start", "password": SECRET})
    return outcome.execution_id


def _steps(execution_id: int) -> list[FlowExecutionStep]:
    with session_scope() as session:
        query = select(FlowExecutionStep).where(FlowExecutionStep.execution_id == execution_id)
        return list(session.exec(query.order_by(FlowExecutionStep.seq)).all())


def _queued_messages() -> int:
    return actors.broker.queues[QUEUE].qsize()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- list


async def test_lists_newest_first_with_filters_and_pages(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    first, second = make_flow(TWO_TEMPLATES, name="one"), make_flow(TWO_TEMPLATES, name="two")
    now = datetime.now(UTC)
    old = _execution(first, started_at=now - timedelta(days=3))
    failed = _execution(first, status=ExecutionStatus.failed, trigger_type="webhook")
    other = _execution(second, status=ExecutionStatus.waiting)
    newest = _execution(first)

    async def ids(**params: Any) -> list[int]:
        answer = await api.get("/api/v1/executions", params=params, headers=tokens.viewer)
        assert answer.status_code == 200, answer.text
        return [item["execution_id"] for item in answer.json()["items"]]

    assert await ids() == [newest, other, failed, old]
    assert await ids(flow_id=first) == [newest, failed, old]
    assert await ids(status="waiting") == [other]
    assert await ids(trigger_type="webhook") == [failed]
    assert await ids(flow_id=first, status="succeeded") == [newest, old]
    day_ago = (now - timedelta(days=1)).isoformat()
    assert await ids(started_after=day_ago) == [newest, other, failed]
    assert await ids(started_before=day_ago) == [old]
    assert await ids(started_before=(now - timedelta(days=1)).replace(tzinfo=None).isoformat()) == [
        old
    ]  # no zone: UTC

    page = (await api.get("/api/v1/executions?limit=3", headers=tokens.read_only)).json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = await ids(limit=3, cursor=page["next_cursor"])
    assert rest == [old]
    item = page["items"][0]
    assert item["status"] == "succeeded" and item["flow_id"] == first
    assert "steps" not in item and "trigger_data" not in item


async def test_list_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    assert (await api.get("/api/v1/executions")).status_code == 401
    bad_status = await api.get("/api/v1/executions?status=sleeping", headers=tokens.viewer)
    assert bad_status.status_code == 422
    assert bad_status.json()["error"]["details"][0]["field"] == "status"
    bad_time = await api.get("/api/v1/executions?started_after=yesterday", headers=tokens.viewer)
    assert bad_time.status_code == 422
    bad_cursor = await api.get("/api/v1/executions?cursor=x", headers=tokens.viewer)
    assert bad_cursor.status_code == 400


# --------------------------------------------------------------------------- one


async def test_one_execution_with_its_steps_redacted(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    execution_id = await _run(make_flow(TWO_TEMPLATES))
    answer = await api.get(f"/api/v1/executions/{execution_id}", headers=tokens.viewer)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "succeeded" and body["finished_at"]
    assert [(s["seq"], s["node_id"], s["status"]) for s in body["steps"]] == [
        (1, "t", "succeeded"),
        (2, "m1", "succeeded"),
        (3, "m2", "succeeded"),
    ]
    assert body["steps"][2]["output"] == {"text": "two one"}
    assert body["steps"][0]["output"]["password"] == "[redacted]"
    assert SECRET not in answer.text and "_sealed" not in answer.text

    missing = await api.get("/api/v1/executions/999999", headers=tokens.viewer)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert (await api.get("/api/v1/executions/abc", headers=tokens.viewer)).status_code == 422


# --------------------------------------------------------------------------- cancel


async def test_cancel_a_queued_execution_and_it_never_runs(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    execution_id = _execution(make_flow(TWO_TEMPLATES), status=ExecutionStatus.queued)
    url = f"/api/v1/executions/{execution_id}/cancel"
    assert (await api.post(url, headers=tokens.viewer)).status_code == 403
    assert (await api.post(url, headers=tokens.read_only)).status_code == 403
    answer = await api.post(url, headers=tokens.editor)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "stopped" and answer.json()["error"] == "cancelled by eddie"

    outcome = await runtime.run_execution(execution_id)  # its message arrives after all
    assert outcome.status is ExecutionStatus.stopped and _steps(execution_id) == []

    again = await api.post(url, headers=tokens.editor)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert "already stopped" in again.json()["error"]["message"]
    missing = await api.post("/api/v1/executions/999999/cancel", headers=tokens.editor)
    assert missing.status_code == 404


async def test_cancel_a_waiting_execution(api: httpx.AsyncClient, tokens: Tokens) -> None:
    flow_id = make_flow(
        chain(
            ("t", "tg_command", {"command": "start"}),
            ("wait", "delay", {"seconds": 3600}),
            ("m", "template", {"text": "later"}),
        )
    )
    execution_id = await _run(flow_id)
    url = f"/api/v1/executions/{execution_id}/cancel"
    waiting = await api.get(f"/api/v1/executions/{execution_id}", headers=tokens.viewer)
    assert waiting.json()["status"] == "waiting" and waiting.json()["resume_at"]
    answer = await api.post(url, headers=tokens.admin)
    assert answer.status_code == 200 and answer.json()["status"] == "stopped"
    assert answer.json()["resume_at"] is None
    with session_scope() as session:  # the sweep of due delays no longer finds it
        execution = session.get(FlowExecution, execution_id)
        assert execution is not None
        execution.resume_at = datetime.now(UTC) - timedelta(minutes=1)
    assert execution_id not in actors.overdue_executions(datetime.now(UTC), datetime.now(UTC))
    await runtime.run_execution(execution_id)
    assert "m" not in {step.node_id for step in _steps(execution_id)}
    assert (await api.post(url, headers=tokens.editor)).status_code == 409


async def test_cancel_a_running_execution_stops_it_before_its_next_step(
    api: httpx.AsyncClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The editor cancels while step m1 runs: m1 finishes, m2 never starts, and the run's
    end keeps the cancellation (status, reason) instead of recording success."""
    execution_id = _execution(make_flow(TWO_TEMPLATES), status=ExecutionStatus.queued)
    answers: list[httpx.Response] = []
    template = REGISTRY.get("template")
    assert template.run is not None
    original = template.run

    async def cancelled_meanwhile(ctx: Any, params: Any) -> NodeResult:
        if ctx.step_key == "m1":
            url = f"/api/v1/executions/{execution_id}/cancel"
            answers.append(await api.post(url, headers=tokens.editor))
        return await original(ctx, params)

    patched = dataclasses.replace(template, run=cancelled_meanwhile)
    monkeypatch.setitem(REGISTRY._types, "template", patched)

    outcome = await runtime.run_execution(execution_id)

    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["status"] == "stopped"
    assert outcome.status is ExecutionStatus.stopped
    assert [(s.node_id, s.status) for s in _steps(execution_id)] == [
        ("t", StepStatus.succeeded),
        ("m1", StepStatus.succeeded),
    ]
    body = (await api.get(f"/api/v1/executions/{execution_id}", headers=tokens.viewer)).json()
    assert body["status"] == "stopped" and body["error"] == "cancelled by eddie"
    assert body["result"]["last_node"] == "m1" and body["finished_at"]


# --------------------------------------------------------------------------- re-run


async def test_rerun_from_a_node_once_per_idempotency_key(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    execution_id = await _run(make_flow(TWO_TEMPLATES))
    url = f"/api/v1/executions/{execution_id}/rerun"
    actors.broker.flush_all()
    headers = {**tokens.editor, "Idempotency-Key": "rerun-m2"}
    first = await api.post(url, json={"node_id": "m2"}, headers=headers)
    again = await api.post(url, json={"node_id": "m2"}, headers=headers)
    assert first.status_code == again.status_code == 202, first.text
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    new_id = first.json()["execution_id"]
    assert new_id != execution_id and first.json()["status"] == "queued"
    assert _queued_messages() == 1  # sent to the workers once

    outcome = await runtime.run_execution(new_id)  # what the worker does with it
    assert outcome.status is ExecutionStatus.succeeded
    replayed = _steps(new_id)
    assert [s.node_id for s in replayed] == ["t", "m1", "m2"]
    assert json.dumps(outcome.result or {}).count("two one") == 1


async def test_rerun_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    execution_id = await _run(make_flow(TWO_TEMPLATES))
    url = f"/api/v1/executions/{execution_id}/rerun"
    body = {"node_id": "m2"}
    assert (await api.post(url, json=body)).status_code == 401
    assert (await api.post(url, json=body, headers=tokens.viewer)).status_code == 403
    assert (await api.post(url, json=body, headers=tokens.read_only)).status_code == 403
    never_ran = await api.post(url, json={"node_id": "nowhere"}, headers=tokens.editor)
    assert never_ran.status_code == 422 and "did not run" in never_ran.json()["error"]["message"]
    empty = await api.post(url, json={}, headers=tokens.editor)
    assert empty.status_code == 422 and empty.json()["error"]["details"][0]["field"] == "node_id"
    missing = await api.post("/api/v1/executions/999999/rerun", json=body, headers=tokens.editor)
    assert missing.status_code == 404

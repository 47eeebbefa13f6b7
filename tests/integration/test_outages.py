"""Outages of the broker or the database while a request starts a flow: the caller is told
503 with Retry-After and nothing is recorded, or it is told 2xx and the flow runs; never a
refusal followed by a run (a caller that retries would run it twice)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa

from engine import actors
from engine.db import session_scope
from engine.execution_store import create_execution
from engine.models import ExecutionStatus, FlowExecution, Role, WebhookEndpoint
from engine.services import executions
from tests.api_client import api_client
from tests.conftest import _clear_caches
from tests.flow_helpers import api_token, chain, execution_count, flow_endpoint, make_flow

# Savepoints roll back on PostgreSQL (pysqlite commits a savepoint opened before any write),
# and outages happen in scaled mode: PostgreSQL with the in-process broker standing in.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

GRAPH = chain(
    ("hook", "webhook", {"endpoint_name": "orders"}),
    ("m", "template", {"text": "order {{trigger.data.body.order_id}}"}),
)


@pytest.fixture
async def client(pg_worker: None) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client() as http:
        yield http


def broker_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise redis.exceptions.ConnectionError("Error 111 connecting to redis. Connection refused.")

    monkeypatch.setattr(actors.execute_flow, "send", refuse)


def call_count() -> int:
    with session_scope() as session:
        return session.exec(sa.select(WebhookEndpoint.call_count)).one()[0]


async def test_webhook_during_a_broker_outage_is_503_and_records_nothing(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = flow_endpoint(make_flow(GRAPH))
    with monkeypatch.context() as patch:
        broker_down(patch)
        answer = await client.post(url, json={"order_id": 1}, headers={"Idempotency-Key": "k1"})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == str(executions.RETRY_AFTER_SECONDS)
    assert execution_count() == 0 and call_count() == 0
    # The caller retries once the broker is back: the flow runs once.
    answer = await client.post(url, json={"order_id": 1}, headers={"Idempotency-Key": "k1"})
    assert answer.status_code == 202
    finished = await executions.wait_for_finish(answer.json()["execution_id"], 20)
    assert finished is not None and finished.status == ExecutionStatus.succeeded
    assert execution_count() == 1 and call_count() == 1


async def test_run_api_during_a_broker_outage_is_503(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_id = make_flow(GRAPH)
    broker_down(monkeypatch)
    headers = {"Authorization": f"Bearer {api_token(Role.editor)}"}
    answer = await client.post(f"/api/flows/{flow_id}/run", json={}, headers=headers)
    assert answer.status_code == 503 and "retry-after" in answer.headers
    assert execution_count() == 0


async def test_webhook_during_a_database_outage_is_503(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = flow_endpoint(make_flow(GRAPH))
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://flowbot@127.0.0.1:9/down")
    _clear_caches()
    answer = await client.post(url, json={"order_id": 2})
    assert answer.status_code == 503 and "retry-after" in answer.headers


async def test_waiting_for_the_result_through_an_outage_still_answers_accepted(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope() as session:
        session.add(
            WebhookEndpoint(name="w", token="wait", flow_id=make_flow(GRAPH), wait_for_result=True)
        )

    async def bus_down(*_: Any) -> None:
        raise redis.exceptions.ConnectionError("bus unreachable")

    monkeypatch.setattr(executions, "_wait_for_finish", bus_down)
    answer = await client.post("/api/webhooks/wait", json={"order_id": 3})
    assert answer.status_code == 202 and answer.json()["execution_id"]


def test_a_message_ahead_of_its_commit_waits_for_the_row(
    pg_worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """launch sends inside its transaction: a fast worker waits for the commit, and a
    message whose transaction rolled back finds nothing to run."""
    monkeypatch.setattr(actors, "UNCOMMITTED_WAIT", actors.timedelta(seconds=0.3))
    actors.execute_flow.fn(10_000)  # never committed: returns, nothing raised

    flow_id = make_flow(GRAPH)
    trigger = {"event_id": "e", "kind": "webhook", "data": {"body": {"order_id": 4}}}
    monkeypatch.setattr(actors, "UNCOMMITTED_WAIT", actors.timedelta(seconds=5))

    def commit_later() -> None:
        time.sleep(0.3)
        with session_scope() as session:
            create_execution(session, flow_id, trigger, trigger_type="webhook")

    committer = threading.Thread(target=commit_later)
    committer.start()
    actors.execute_flow.fn(1)
    committer.join()
    with session_scope() as session:
        assert session.get(FlowExecution, 1).status == ExecutionStatus.succeeded

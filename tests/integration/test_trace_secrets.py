"""Secrets a webhook brings (query api_key, X-Gitlab-Token, X-Auth-Token, body password
and token) never reach a stored trace, the views viewers read, or the live event bus,
while the running flow, and a re-run from a node, use the real values."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from engine import events, runtime
from engine.db import session_scope
from engine.models import ExecutionStatus, FlowExecution, FlowExecutionStep, WebhookEndpoint
from engine.rerun import seed_rerun
from engine.services import executions
from engine.settings import get_settings
from tests.api_client import api_client
from tests.fakes.recording_http import RecordingHttp
from tests.flow_helpers import chain, make_admin, make_flow

API_KEY = "q-api-key-0123456789"
GITLAB_TOKEN = "gl-token-abcdefghij"
AUTH_TOKEN = "x-auth-token-9876543210"
PASSWORD = "hunter2-password-xyz"
BODY_TOKEN = "body-token-qwertyuiop"
SERVER_TOKEN = "srv-access-token-555"
SECRETS = (API_KEY, GITLAB_TOKEN, AUTH_TOKEN, PASSWORD, BODY_TOKEN, SERVER_TOKEN)
HEADER = "{{trigger.data.headers['x-auth-token']}}"


@pytest.fixture
async def target(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RecordingHttp]:
    """The upstream API the flow calls; it answers with a token of its own."""
    monkeypatch.setenv("FLOWBOT_HTTP_ALLOWLIST", '["127.0.0.1"]')
    get_settings.cache_clear()
    async with RecordingHttp({"access_token": SERVER_TOKEN, "ok": True}) as server:
        yield server


@pytest.fixture
async def client(worker: None) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client() as http:
        yield http


def secret_flow(target: RecordingHttp) -> int:
    """Checks the real header, keeps it in a variable, sends the secrets upstream, then
    fails on a step whose error message echoes the body's token."""
    flow_id = make_flow(
        chain(
            ("hook", "webhook", {"endpoint_name": "gitlab"}),
            ("check", "text_equals", {"text": HEADER, "value": AUTH_TOKEN}),
            ("v", "set_variable", {"name": "upstream_auth", "value": HEADER}),
            (
                "call",
                "http_request",
                {
                    "method": "POST",
                    "url": f"{target.origin}/hook?key={{{{trigger.data.query.api_key}}}}",
                    "headers": {"X-Auth-Token": "{{context.upstream_auth}}"},
                    "json_body": {"note": "pw {{trigger.data.body.password}}"},
                },
            ),
            ("bad", "message_length", {"text": "x", "min": "{{trigger.data.body.token}}"}),
        )
    )
    with session_scope() as session:
        session.add(WebhookEndpoint(name="gitlab", token="hook-tok", flow_id=flow_id))
    return flow_id


async def call_webhook(client: httpx.AsyncClient) -> int:
    answer = await client.post(
        f"/api/webhooks/hook-tok?api_key={API_KEY}",
        json={"order_id": 7, "password": PASSWORD, "token": BODY_TOKEN},
        headers={"X-Gitlab-Token": GITLAB_TOKEN, "X-Auth-Token": AUTH_TOKEN},
    )
    assert answer.status_code == 202, answer.text
    return int(answer.json()["execution_id"])


def stored(execution_id: int) -> str:
    """Every stored column of the execution and its steps, as one text."""
    with session_scope() as session:
        execution = session.get(FlowExecution, execution_id)
        assert execution is not None
        rows = session.exec(
            select(FlowExecutionStep).where(FlowExecutionStep.execution_id == execution_id)
        ).all()
        columns = [
            {column.name: getattr(row, column.name) for column in row.__table__.columns}
            for row in [execution, *rows]
        ]
        return json.dumps(columns, default=str)


def assert_no_secret(text: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"secrets in the trace: {leaked}"


async def test_webhook_secrets_are_redacted_but_used(
    client: httpx.AsyncClient, target: RecordingHttp
) -> None:
    flow_id = secret_flow(target)
    published: list[dict[str, Any]] = []
    async with events.subscribe(f"flow.{flow_id}") as bus:
        execution_id = await call_webhook(client)
        while not (published and published[-1].get("status") in ("succeeded", "failed")):
            published.append((await asyncio.wait_for(anext(bus), 20)).payload)
    execution = await executions.wait_for_finish(execution_id, 20)
    assert execution is not None and execution.status == ExecutionStatus.failed

    # the flow saw and sent the real values
    sent = target.calls.calls
    assert len(sent) == 1
    assert sent[0].headers["X-Auth-Token"] == AUTH_TOKEN and sent[0].query["key"] == API_KEY
    assert PASSWORD in sent[0].body

    view = executions.execution_view(execution, steps=True)
    by_node = {step["node_id"]: step for step in view["steps"]}
    assert by_node["check"]["handle"] == "true"  # compared with the real header
    hook = by_node["hook"]["output"]["data"]
    assert hook["query"]["api_key"] == "[redacted]"
    assert hook["headers"]["x-gitlab-token"] == hook["headers"]["x-auth-token"] == "[redacted]"
    assert hook["body"] == {"order_id": 7, "password": "[redacted]", "token": "[redacted]"}
    assert by_node["call"]["output"]["json"]["access_token"] == "[redacted]"
    assert "[redacted]" in by_node["bad"]["error"] and "[redacted]" in (execution.error or "")

    assert_no_secret(json.dumps(view))  # what a viewer reads
    assert_no_secret(stored(execution_id))  # what the database holds
    assert_no_secret(json.dumps(published))  # what the live debugger got


async def test_a_rerun_from_a_node_sends_the_real_values_again(
    client: httpx.AsyncClient, target: RecordingHttp
) -> None:
    """Recorded values are redacted, yet a re-run from the HTTP node sends the real ones
    (sealed with the record, engine/redaction.py), never the redaction marker."""
    secret_flow(target)
    execution_id = await call_webhook(client)
    assert await executions.wait_for_finish(execution_id, 20) is not None
    with session_scope() as session:
        rerun_id = seed_rerun(session, make_admin(), execution_id, "call")
    outcome = await runtime.run_execution(rerun_id)
    assert outcome.status is ExecutionStatus.failed  # at "bad", as the first run
    assert len(target.calls.calls) == 2
    again = target.calls.calls[1]
    assert again.headers["X-Auth-Token"] == AUTH_TOKEN and again.query["key"] == API_KEY
    assert PASSWORD in again.body
    assert_no_secret(stored(rerun_id))

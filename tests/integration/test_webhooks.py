"""Webhooks and the run API against a migrated SQLite database and the embedded broker."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from engine.api.app import create_api
from engine.db import session_scope
from engine.models import FlowStatus, Role, WebhookEndpoint
from engine.services import executions, flows
from tests.flow_helpers import api_token, chain, execution_count, make_admin, make_flow

SECRET = "s3cret"


def webhook_graph() -> dict[str, Any]:
    return chain(
        ("hook", "webhook", {"endpoint_name": "orders"}),
        ("v", "set_variable", {"name": "order", "value": "{{trigger.data.body.order_id}}"}),
        ("m", "template", {"text": "order {{context.order}} received"}),
    )


@pytest.fixture
async def client(worker: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://flowbot") as http:
        yield http


def endpoint(flow_id: int, token: str = "tok", **fields: Any) -> str:
    with session_scope() as session:
        session.add(WebhookEndpoint(name="orders", token=token, flow_id=flow_id, **fields))
    return f"/api/webhooks/{token}"


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Flowbot-Signature": f"sha256={digest}"}


async def finished(execution_id: int) -> Any:
    execution = await executions.wait_for_finish(execution_id, 20)
    assert execution is not None and execution.status in executions.TERMINAL, execution
    return execution


async def test_unknown_or_inactive_token_is_404(client: httpx.AsyncClient) -> None:
    url = endpoint(make_flow(webhook_graph()), is_active=False)
    assert (await client.post("/api/webhooks/nope", json={})).status_code == 404
    assert (await client.post(url, json={})).status_code == 404
    assert execution_count() == 0


async def test_signature_is_required_when_set(client: httpx.AsyncClient) -> None:
    url = endpoint(make_flow(webhook_graph()), secret=SECRET)
    body = b'{"order_id": 7}'
    headers = {"content-type": "application/json"}
    assert (await client.post(url, content=body, headers=headers)).status_code == 401
    wrong = signed(b'{"order_id": 8}')
    assert (await client.post(url, content=body, headers=headers | wrong)).status_code == 401
    assert execution_count() == 0
    answer = await client.post(url, content=body, headers=headers | signed(body))
    assert answer.status_code == 202


async def test_oversized_body_is_413_even_without_content_length(
    client: httpx.AsyncClient,
) -> None:
    url = endpoint(make_flow(webhook_graph()), max_body_bytes=100)
    assert (await client.post(url, content=b"x" * 101)).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # streamed: no Content-Length at all
        for _ in range(10):
            yield b"y" * 20

    assert (await client.post(url, content=chunks())).status_code == 413
    assert execution_count() == 0
    assert (await client.post(url, content=b"z" * 100)).status_code == 202


async def test_flow_not_published_or_paused_is_409(client: httpx.AsyncClient) -> None:
    draft = endpoint(make_flow(webhook_graph(), publish=False), token="draft")
    answer = await client.post(draft, json={})
    assert answer.status_code == 409 and "not published" in answer.json()["detail"]

    flow_id = make_flow(webhook_graph())
    with session_scope() as session:
        flows.set_status(session, make_admin(), flow_id, FlowStatus.paused)
    answer = await client.post(endpoint(flow_id, token="paused"), json={})
    assert answer.status_code == 409 and "paused" in answer.json()["detail"]
    assert execution_count() == 0


async def test_accepted_request_runs_the_flow(client: httpx.AsyncClient) -> None:
    flow_id = make_flow(webhook_graph())
    url = endpoint(flow_id)
    answer = await client.post(
        url + "?source=shop",
        json={"order_id": 1042},
        headers={"Authorization": "Bearer x", "Cookie": "a=b", "X-Shop": "demo"},
    )
    assert answer.status_code == 202
    execution = await finished(answer.json()["execution_id"])
    assert execution.status == "succeeded", execution.error
    assert execution.result["output"] == {"text": "order 1042 received"}
    data = execution.trigger_data["data"]
    assert data["query"] == {"source": "shop"} and data["body"] == {"order_id": 1042}
    assert data["headers"]["x-shop"] == "demo"
    assert "authorization" not in data["headers"] and "cookie" not in data["headers"]
    assert [step.node_id for step in executions.load_steps(execution.id)] == ["hook", "v", "m"]
    with session_scope() as session:
        hook = session.get(WebhookEndpoint, 1)
        assert hook.call_count == 1 and hook.last_called_at is not None


async def test_idempotency_key_starts_one_execution(client: httpx.AsyncClient) -> None:
    url = endpoint(make_flow(webhook_graph()))
    headers = {"Idempotency-Key": "order-1042"}
    first = await client.post(url, json={"order_id": 1}, headers=headers)
    second = await client.post(url, json={"order_id": 1}, headers=headers)
    assert first.json() == second.json()
    assert execution_count() == 1


async def test_wait_for_result_answers_with_the_result(client: httpx.AsyncClient) -> None:
    url = endpoint(make_flow(webhook_graph()), wait_for_result=True, wait_timeout_seconds=20)
    answer = await client.post(url, content=b"not json", headers={"content-type": "text/plain"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "succeeded"
    assert body["result"]["output"] == {"text": "order  received"}


async def test_wait_for_result_times_out_with_202(client: httpx.AsyncClient) -> None:
    graph = chain(("hook", "webhook", {"endpoint_name": "slow"}), ("d", "delay", {"seconds": 30}))
    url = endpoint(make_flow(graph), wait_for_result=True, wait_timeout_seconds=1)
    answer = await client.post(url, json={})
    assert answer.status_code == 202 and "execution_id" in answer.json()


# --- the run API ----------------------------------------------------------------------------


async def test_run_api_needs_an_editor_token(client: httpx.AsyncClient) -> None:
    flow_id = make_flow(webhook_graph())
    url = f"/api/flows/{flow_id}/run"
    assert (await client.post(url, json={})).status_code == 401
    bad = {"Authorization": "Bearer fbt_nope"}
    assert (await client.post(url, json={}, headers=bad)).status_code == 401
    viewer = {"Authorization": f"Bearer {api_token(Role.viewer)}"}
    assert (await client.post(url, json={}, headers=viewer)).status_code == 403
    assert execution_count() == 0

    editor = {"Authorization": f"Bearer {api_token(Role.editor)}"}
    answer = await client.post(url, json={"payload": {"x": 1}}, headers=editor)
    assert answer.status_code == 202
    execution_id = answer.json()["execution_id"]
    await finished(execution_id)
    seen = await client.get(f"/api/executions/{execution_id}", headers=viewer)
    assert seen.status_code == 200
    view = seen.json()
    assert view["status"] == "succeeded"
    assert [step["node_id"] for step in view["steps"]] == ["hook", "v", "m"]
    assert (await client.get("/api/executions/999", headers=viewer)).status_code == 404


async def test_run_api_waits_and_runs_drafts(client: httpx.AsyncClient) -> None:
    editor = {"Authorization": f"Bearer {api_token(Role.editor)}"}
    flow_id = make_flow(webhook_graph(), publish=False)
    url = f"/api/flows/{flow_id}/run"
    assert (await client.post(url, json={}, headers=editor)).status_code == 409

    payload = {"payload": {"kind": "webhook", "platform": "flowbot", "data": {"body": {}}}}
    answer = await client.post(url + "?wait=20", json=payload | {"draft": True}, headers=editor)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "succeeded"
    again = await client.post(url + "?wait=20", json=payload | {"draft": True}, headers=editor)
    assert again.json()["version_id"] == answer.json()["version_id"]  # snapshot reused
    with session_scope() as session:
        flows.save_draft(session, make_admin(), flow_id, json.loads(json.dumps(webhook_graph())))
    with session_scope() as session:
        flows.save_draft(
            session,
            make_admin(),
            flow_id,
            chain(("hook", "webhook", {"endpoint_name": "x"}), ("m", "template", {"text": "2"})),
        )
    changed = await client.post(url + "?wait=20", json=payload | {"draft": True}, headers=editor)
    assert changed.json()["result"]["output"] == {"text": "2"}
    assert changed.json()["version_id"] != answer.json()["version_id"]

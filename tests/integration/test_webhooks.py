"""Webhooks and the run API against a migrated SQLite database and the embedded broker."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from engine import actors, events
from engine.api.webhooks import MAX_JSON_DEPTH
from engine.db import get_engine, session_scope, table_of
from engine.models import (
    FlowDefinition,
    FlowExecution,
    FlowExecutionStep,
    FlowStatus,
    FlowVersion,
    Role,
    WebhookEndpoint,
)
from engine.services import executions, flows, webhook_cache, webhooks
from tests.api_client import api_client
from tests.flow_helpers import (
    api_token,
    chain,
    execution_count,
    flow_endpoint,
    make_admin,
    make_flow,
)
from tests.live_api import served_in_process
from tests.webhook_signing import signed_headers

SECRET = "s3cret"


def webhook_graph() -> dict[str, Any]:
    return chain(
        ("hook", "webhook", {"endpoint_name": "orders"}),
        ("v", "set_variable", {"name": "order", "value": "{{trigger.data.body.order_id}}"}),
        ("m", "template", {"text": "order {{context.order}} received"}),
    )


@pytest.fixture
async def client(worker: None) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client() as http:
        yield http


def signed(body: bytes, timestamp: int | None = None) -> dict[str, str]:
    return signed_headers(SECRET, body, timestamp)


async def finished(execution_id: int) -> Any:
    execution = await executions.wait_for_finish(execution_id, 20)
    assert execution is not None and execution.status in executions.TERMINAL, execution
    return execution


async def test_unknown_or_inactive_token_is_404(client: httpx.AsyncClient) -> None:
    url = flow_endpoint(make_flow(webhook_graph()), is_active=False)
    assert (await client.post("/api/webhooks/nope", json={})).status_code == 404
    assert (await client.post(url, json={})).status_code == 404
    assert execution_count() == 0


async def test_signature_is_required_when_set(client: httpx.AsyncClient) -> None:
    url = flow_endpoint(make_flow(webhook_graph()), secret=SECRET)
    body = b'{"order_id": 7}'
    headers = {"content-type": "application/json"}
    assert (await client.post(url, content=body, headers=headers)).status_code == 401
    wrong = signed(b'{"order_id": 8}')
    assert (await client.post(url, content=body, headers=headers | wrong)).status_code == 401
    assert execution_count() == 0
    answer = await client.post(url, content=body, headers=headers | signed(body))
    assert answer.status_code == 202
    # The timestamp is signed too: a new stamp on an old signature does not pass.
    moved = signed(body) | {"X-Flowbot-Timestamp": str(int(time.time()) + 1)}
    answer = await client.post(url, content=body, headers=headers | moved)
    assert answer.status_code == 401 and "X-Flowbot-Signature" in answer.json()["detail"]
    # The body alone, signed as before timestamps (a request captured then), is refused.
    body_only = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    old_style = {"X-Flowbot-Signature": f"sha256={body_only}"}
    assert (await client.post(url, content=body, headers=headers | old_style)).status_code == 401
    assert execution_count() == 1


@pytest.mark.parametrize(
    ("offset", "status", "reason"),
    [
        (-301, 401, "301 s old"),
        (301, 401, "301 s in the future"),
        (-299, 202, None),
        (299, 202, None),
    ],
    ids=["too-old", "too-far-ahead", "just-in-window", "just-ahead-in-window"],
)
async def test_timestamp_must_be_within_five_minutes(
    client: httpx.AsyncClient, offset: int, status: int, reason: str | None
) -> None:
    url = flow_endpoint(make_flow(webhook_graph()), secret=SECRET)
    body = b'{"order_id": 7}'
    answer = await client.post(url, content=body, headers=signed(body, int(time.time()) + offset))
    assert answer.status_code == status, answer.text
    if reason:
        detail = answer.json()["detail"]
        assert "Stale request" in detail and reason in detail and "5-minute" in detail
    for stamp in ("", "soon", "-5", "1" * 13):
        headers = signed(body) | {"X-Flowbot-Timestamp": stamp}
        answer = await client.post(url, content=body, headers=headers)
        assert answer.status_code == 401 and "X-Flowbot-Timestamp" in answer.json()["detail"]


async def test_a_signature_is_accepted_once(client: httpx.AsyncClient) -> None:
    url = flow_endpoint(make_flow(webhook_graph()), secret=SECRET)
    body = b'{"order_id": 7}'
    captured = signed(body)
    assert (await client.post(url, content=body, headers=captured)).status_code == 202
    replayed = await client.post(url, content=body, headers=captured)
    assert replayed.status_code == 409 and "Replayed" in replayed.json()["detail"]
    assert execution_count() == 1
    # Signed anew (another second), the same body is a new request.
    fresh = signed(body, int(captured["X-Flowbot-Timestamp"]) + 1)
    assert (await client.post(url, content=body, headers=fresh)).status_code == 202
    with session_scope() as session:
        assert session.get(WebhookEndpoint, 1).call_count == 2  # the replay was not counted


async def test_a_refused_request_does_not_use_up_its_signature(
    client: httpx.AsyncClient,
) -> None:
    """The signature is recorded with the execution, so a retry after 409 (flow not
    published yet) with the same signed request still works within the window."""
    flow_id = make_flow(webhook_graph(), publish=False)
    url = flow_endpoint(flow_id, secret=SECRET)
    body = b'{"order_id": 7}'
    headers = signed(body)
    assert (await client.post(url, content=body, headers=headers)).status_code == 409
    with session_scope() as session:
        flows.publish(session, make_admin(), flow_id)
    assert (await client.post(url, content=body, headers=headers)).status_code == 202
    assert (await client.post(url, content=body, headers=headers)).status_code == 409


async def test_concurrent_replays_start_one_execution(migrated_db: str) -> None:
    """Many copies of one signed request at once (as from several web processes): the unique
    (endpoint, signature) row lets exactly one through, on SQLite and PostgreSQL."""
    url = flow_endpoint(make_flow(webhook_graph()), secret=SECRET)
    body = b'{"order_id": 7}'
    headers = signed(body)
    try:
        async with api_client() as http:
            answers = await asyncio.gather(
                *(http.post(url, content=body, headers=headers) for _ in range(8))
            )
    finally:
        actors.broker.flush_all()  # no worker here: drop the one queued message
    assert sorted(answer.status_code for answer in answers) == [202] + [409] * 7
    assert execution_count() == 1


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


async def test_json_nested_too_deep_is_400(client: httpx.AsyncClient) -> None:
    url = flow_endpoint(make_flow(webhook_graph()))
    for depth in (MAX_JSON_DEPTH + 1, 100_000):
        answer = await client.post(url, content=nested(depth), headers=JSON)
        assert answer.status_code == 400, answer.text[:200]
        assert answer.json() == {
            "detail": f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels."
        }
    assert execution_count() == 0
    assert (await client.post(url, content=nested(MAX_JSON_DEPTH), headers=JSON)).status_code == 202
    # Brackets inside strings (escaped quotes included) are text, not nesting.
    text = json.dumps({"note": '\\"' + "[" * 500}).encode()
    assert (await client.post(url, content=text, headers=JSON)).status_code == 202
    # Not declared as JSON: kept as text, whatever it looks like.
    plain = {"content-type": "text/plain"}
    assert (await client.post(url, content=nested(500), headers=plain)).status_code == 202


JSON = {"content-type": "application/json"}


@pytest.fixture
def served_api(sqlite_session: Any) -> Iterator[str]:
    """The API behind a real granian server (what serves `flowbot web`), reading bodies with
    a 1 s timeout; it shares the test's database and data directory through the environment."""
    with served_in_process({"FLOWBOT_WEBHOOK_READ_TIMEOUT_SECONDS": "1"}) as base:
        yield base


def test_a_trickled_body_is_cut_after_the_read_timeout(served_api: str) -> None:
    path = flow_endpoint(make_flow(webhook_graph()))
    port = int(served_api.rsplit(":", 1)[1])
    head = (
        f"POST {path} HTTP/1.1\r\nHost: flowbot\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
        sock.sendall(head.encode())
        started = time.monotonic()
        answer = b""
        while b"\r\n\r\n" not in answer and time.monotonic() - started < 8:
            try:
                sock.sendall(b" ")  # one byte every 0.2 s: it would take 200 s to finish
                answer += sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"did not arrive within 1 s" in answer
    assert 0.9 < elapsed < 4
    assert execution_count() == 0


def test_the_documented_examples_sign_as_the_server_checks(served_api: str) -> None:
    """The Python and curl examples of the Webhooks page and README, run as they stand."""
    url = served_api + flow_endpoint(make_flow(webhook_graph()), secret=SECRET)
    env = {"WEBHOOK_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    curl = webhooks.curl_example(url, signed=True) + " -s -o /dev/null -w '%{http_code}'"
    pasted = subprocess.run(
        ["bash", "-c", curl], env=env, capture_output=True, text=True, timeout=30
    )
    assert pasted.stdout == "202", pasted
    time.sleep(1.05 - time.time() % 1)  # same body, same second: same signature, a replay
    python = subprocess.run(
        [sys.executable, "-c", webhooks.python_example(url)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert python.stdout.strip() == "202", python
    assert execution_count() == 2


async def test_oversized_body_is_413_even_without_content_length(
    client: httpx.AsyncClient,
) -> None:
    url = flow_endpoint(make_flow(webhook_graph()), max_body_bytes=100)
    assert (await client.post(url, content=b"x" * 101)).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # streamed: no Content-Length at all
        for _ in range(10):
            yield b"y" * 20

    assert (await client.post(url, content=chunks())).status_code == 413
    assert execution_count() == 0
    assert (await client.post(url, content=b"z" * 100)).status_code == 202


async def test_flow_not_published_or_paused_is_409(client: httpx.AsyncClient) -> None:
    draft = flow_endpoint(make_flow(webhook_graph(), publish=False), token="draft")
    answer = await client.post(draft, json={})
    assert answer.status_code == 409 and "not published" in answer.json()["detail"]

    flow_id = make_flow(webhook_graph())
    with session_scope() as session:
        flows.set_status(session, make_admin(), flow_id, FlowStatus.paused)
    answer = await client.post(flow_endpoint(flow_id, token="paused"), json={})
    assert answer.status_code == 409 and "paused" in answer.json()["detail"]
    assert execution_count() == 0


async def test_a_flow_paused_after_calls_refuses_the_next_call_at_once(
    client: httpx.AsyncClient,
) -> None:
    """The receiver keeps a runnable flow's version; pausing it (a committed change of the
    flow in this process, or another's announced on the bus) is seen by the next call."""
    flow_id = make_flow(webhook_graph())
    url = flow_endpoint(flow_id)
    for n in range(3):
        assert (await client.post(url, json={"order_id": n})).status_code == 202
    admin = make_admin()
    with session_scope() as session:
        flows.set_status(session, admin, flow_id, FlowStatus.paused)
    answer = await client.post(url, json={"order_id": 4})
    assert answer.status_code == 409 and "paused" in answer.json()["detail"]
    with session_scope() as session:
        flows.set_status(session, admin, flow_id, FlowStatus.active)
    assert (await client.post(url, json={"order_id": 5})).status_code == 202
    assert execution_count() == 4

    flows_table = table_of(FlowDefinition)
    with get_engine().begin() as connection:  # no session: only the bus will tell
        connection.execute(
            sa.update(flows_table).where(flows_table.c.id == flow_id).values(status="paused")
        )
    await announced_then_answered(client, url, {"order_id": 6}, 409)


async def test_a_flow_deleted_unannounced_is_refused_not_an_error(
    client: httpx.AsyncClient,
) -> None:
    """A kept version whose flow is gone (deleted by another process, the bus message not
    arrived yet) fails the insert: the flow is read again and the call refused with 409."""
    flow_id = make_flow(webhook_graph())
    url = flow_endpoint(flow_id)
    first = await client.post(url, json={"order_id": 1})
    assert first.status_code == 202
    await finished(first.json()["execution_id"])  # its end written before the rows go
    with get_engine().begin() as connection:  # behind the caches' back
        for model in (FlowExecutionStep, FlowExecution, FlowVersion):
            connection.execute(sa.delete(table_of(model)))
        connection.execute(sa.update(table_of(FlowDefinition)).values(published_version_id=None))
    answer = await client.post(url, json={"order_id": 2})
    assert answer.status_code == 409 and "not published" in answer.json()["detail"]


async def announced_then_answered(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], status: int
) -> None:
    """Announce a change on the bus as another process does; calls get ``status`` well
    before the caches would have expired on their own."""
    events.publish(webhook_cache.TOPIC, {})
    deadline = time.monotonic() + webhook_cache.MAX_AGE_SECONDS / 2
    while (await client.post(url, json=body)).status_code != status:
        assert time.monotonic() < deadline, "the announcement was not followed"
        await asyncio.sleep(0.01)


async def test_a_changed_endpoint_is_seen_by_the_next_call(client: httpx.AsyncClient) -> None:
    """The receiver keeps endpoints (engine/services/webhook_cache.py); a committed change
    is seen at once in this process, whether made by the service or any session."""
    flow_id = make_flow(webhook_graph())
    url = flow_endpoint(flow_id)
    assert (await client.post(url, json={"order_id": 1})).status_code == 202
    with session_scope() as session:
        hook = session.exec(sa.select(WebhookEndpoint).where(WebhookEndpoint.flow_id == flow_id))
        hook_id = hook.scalar_one().id
        webhooks.set_active(session, make_admin(), hook_id, False)
    assert (await client.post(url, json={"order_id": 2})).status_code == 404
    flow_endpoint(flow_id, is_active=True, secret=SECRET)
    assert (await client.post(url, json={"order_id": 3})).status_code == 401


async def test_an_endpoint_change_announced_on_the_bus_is_seen(
    client: httpx.AsyncClient,
) -> None:
    """Another process's change reaches this one as an announcement on the bus."""
    flow_id = make_flow(webhook_graph())
    url = flow_endpoint(flow_id)
    assert (await client.post(url, json={"order_id": 1})).status_code == 202
    with get_engine().begin() as connection:  # no session: only the bus will tell
        connection.execute(
            sa.update(WebhookEndpoint.__table__)
            .where(WebhookEndpoint.__table__.c.flow_id == flow_id)
            .values(is_active=False)
        )
    await announced_then_answered(client, url, {"order_id": 2}, 404)


async def test_endpoints_are_read_while_the_bus_cannot_be_followed(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis down: no caching, and the call is answered as without a cache."""
    url = flow_endpoint(make_flow(webhook_graph()))

    def bus_down(*_patterns: str) -> None:
        raise ConnectionError("the bus is down")

    monkeypatch.setattr(webhook_cache, "_cache", webhook_cache._Cache())
    monkeypatch.setattr(webhook_cache.events, "subscribe", bus_down)
    assert (await client.post(url, json={"order_id": 1})).status_code == 202
    assert (await client.post("/api/webhooks/nope", json={})).status_code == 404


async def test_accepted_request_runs_the_flow(client: httpx.AsyncClient) -> None:
    flow_id = make_flow(webhook_graph())
    url = flow_endpoint(flow_id)
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
    url = flow_endpoint(make_flow(webhook_graph()))
    headers = {"Idempotency-Key": "order-1042"}
    first = await client.post(url, json={"order_id": 1}, headers=headers)
    second = await client.post(url, json={"order_id": 1}, headers=headers)
    assert first.json() == second.json()
    assert execution_count() == 1


async def test_only_a_call_with_an_idempotency_key_looks_it_up(client: httpx.AsyncClient) -> None:
    """Without a key the event id is made up, so no earlier execution can have it."""
    url = flow_endpoint(make_flow(webhook_graph()))
    lookups: list[str] = []

    def statement(_conn: Any, _cursor: Any, text: str, *_: Any) -> None:
        if "idempotency_key" in text.partition("WHERE")[2]:
            lookups.append(text)

    sa.event.listen(get_engine(), "before_cursor_execute", statement)
    try:
        assert (await client.post(url, json={})).status_code == 202
        assert lookups == []
        keyed = await client.post(url, json={}, headers={"Idempotency-Key": "order-7"})
        assert keyed.status_code == 202 and lookups
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", statement)
    assert execution_count() == 2


async def test_wait_for_result_answers_with_the_result(client: httpx.AsyncClient) -> None:
    url = flow_endpoint(make_flow(webhook_graph()), wait_for_result=True, wait_timeout_seconds=20)
    answer = await client.post(url, content=b"not json", headers={"content-type": "text/plain"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "succeeded"
    assert body["result"]["output"] == {"text": "order  received"}


async def test_wait_for_result_times_out_with_202(client: httpx.AsyncClient) -> None:
    graph = chain(("hook", "webhook", {"endpoint_name": "slow"}), ("d", "delay", {"seconds": 30}))
    url = flow_endpoint(make_flow(graph), wait_for_result=True, wait_timeout_seconds=1)
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

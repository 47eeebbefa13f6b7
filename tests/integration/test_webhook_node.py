"""The Webhook trigger node's settings at the real receiver (issue 14, item 1): a published
flow whose node requires a signature refuses unsigned calls (401) and runs signed ones,
waits for the result when the node says so, and a removed node's URL answers 410."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from engine.db import session_scope
from engine.models import WebhookEndpoint
from engine.services import flows, webhooks
from tests.api_client import api_client
from tests.flow_helpers import chain, execution_count, make_admin, make_flow
from tests.webhook_signing import signed_headers

JSON = {"content-type": "application/json"}


def hook_graph(**params: Any) -> dict[str, Any]:
    return chain(
        ("hook", "webhook", {"endpoint_name": "shop-orders", **params}),
        ("m", "template", {"text": "order {{trigger.data.body.order_id}} received"}),
    )


@pytest.fixture
async def client(worker: None) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client() as http:
        yield http


def published_endpoint(flow_id: int) -> tuple[str, str | None]:
    """The node's URL path and the secret the publish made (taken as its panel does)."""
    with session_scope() as session:
        view = webhooks.node_endpoint(session, flow_id, "hook")
        assert view is not None
        secret = webhooks.take_unseen_secret(session, make_admin(), view.webhook_id)
    return "/api/webhooks/" + view.url.rsplit("/", 1)[1], secret


async def test_a_node_requiring_a_signature_refuses_unsigned_calls(
    client: httpx.AsyncClient,
) -> None:
    flow_id = make_flow(hook_graph(require_signature=True, wait_for_result=True))
    path, secret = published_endpoint(flow_id)
    assert secret
    body = json.dumps({"order_id": 7}).encode()

    unsigned = await client.post(path, content=body, headers=JSON)
    assert unsigned.status_code == 401, unsigned.text
    assert "X-Flowbot-Timestamp" in unsigned.json()["detail"]
    assert execution_count() == 0

    signed = await client.post(path, content=body, headers=JSON | signed_headers(secret, body))
    assert signed.status_code == 200, signed.text  # the node waits for the result
    assert signed.json()["status"] == "succeeded"
    assert signed.json()["result"]["output"] == {"text": "order 7 received"}


async def test_without_waiting_the_call_is_accepted_at_once(client: httpx.AsyncClient) -> None:
    path, secret = published_endpoint(make_flow(hook_graph()))
    assert secret is None
    answer = await client.post(path, json={"order_id": 8})
    assert answer.status_code == 202 and "execution_id" in answer.json()


async def test_a_removed_node_answers_410(client: httpx.AsyncClient) -> None:
    flow_id = make_flow(hook_graph())
    path, _ = published_endpoint(flow_id)
    admin = make_admin()
    with session_scope() as session:
        flows.save_draft(session, admin, flow_id, chain(("start", "manual", {})))
        flows.publish(session, admin, flow_id)
    gone = await client.post(path, json={})
    assert gone.status_code == 410 and "'hook' was removed" in gone.json()["detail"]
    with session_scope() as session:  # kept, not deleted
        assert session.exec(select(WebhookEndpoint.id)).all()
    assert execution_count() == 0

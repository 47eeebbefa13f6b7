"""A webhook call waiting for its result, embedded on SQLite, reads the finished execution
on the event loop (issue 15): no hop to a thread and back for a read that waits for no
writer. The launch still goes to a thread (it writes, and may wait for other writers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from engine.services import executions
from tests.api_client import api_client
from tests.flow_helpers import chain, flow_endpoint, make_flow


@pytest.fixture
async def client(worker: None) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client() as http:
        yield http


async def test_the_end_is_read_without_a_thread(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = chain(
        ("hook", "webhook", {"endpoint_name": "orders"}),
        ("m", "template", {"text": "order {{trigger.data.body.order_id}}"}),
    )
    url = flow_endpoint(make_flow(graph), wait_for_result=True, wait_timeout_seconds=20)
    in_threads: list[str] = []
    to_thread = asyncio.to_thread

    async def noted(function: Any, *args: Any, **kwargs: Any) -> Any:
        in_threads.append(getattr(function, "__name__", type(function).__name__))
        return await to_thread(function, *args, **kwargs)

    monkeypatch.setattr(executions.asyncio, "to_thread", noted)
    answer = await client.post(url, json={"order_id": 7})
    assert answer.status_code == 200 and answer.json()["status"] == "succeeded"
    assert "load" not in in_threads

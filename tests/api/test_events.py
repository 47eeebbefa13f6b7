"""/api/v1/events: the event bus as Server-Sent Events, against a real granian server.

Embedded: the server runs in this process (granian's embeddable server on its own
thread), so it shares the in-memory bus with the embedded worker that runs the flows.
Scaled: the bus is Redis, events come from another bus client (as from a worker process)
and the stream resumes on a second web process started with ``python -m granian``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis
from sqlmodel import select

from engine import events
from engine.api.v1 import events as events_api
from engine.db import session_scope
from engine.models import ApiToken, utcnow
from engine.platform_event import EventChat, PlatformEvent
from engine.services import executions
from engine.settings import get_settings
from tests.api.conftest import Tokens
from tests.flow_helpers import chain, make_flow
from tests.integration.conftest import embedded_worker
from tests.live_api import served_in_process, served_in_thread
from tests.services import redis_url_or_skip

EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/events"): "viewer",
}
WAIT = 20.0
FINAL = ("succeeded", "failed", "stopped")


@dataclass
class Frame:
    id: int | None = None
    data: dict[str, Any] | None = None
    event: str | None = None
    comments: list[str] = field(default_factory=list)


async def _frames(response: httpx.Response) -> AsyncIterator[Frame]:
    frame = Frame()
    async for line in response.aiter_lines():
        if line == "":
            yield frame
            frame = Frame()
        elif line.startswith(":"):
            frame.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                frame.id = int(value)
            elif name == "data":
                frame.data = json.loads(value)
            elif name == "event":
                frame.event = value


class Stream:
    """One SSE connection; ``until`` reads frames until one matches."""

    def __init__(self, frames: AsyncIterator[Frame]) -> None:
        self._frames = frames
        self.seen: list[Frame] = []

    async def next(self) -> Frame:
        frame = await asyncio.wait_for(anext(self._frames), WAIT)
        self.seen.append(frame)
        return frame

    async def until(self, done: Any) -> list[Frame]:
        while not done(await self.next()):
            pass
        return [f for f in self.seen if f.data is not None]

    @property
    def last_id(self) -> int:
        return [f.id for f in self.seen if f.id is not None][-1]


@asynccontextmanager
async def sse(
    base: str, headers: dict[str, str], topics: str, last_id: int | None = None
) -> AsyncIterator[Stream]:
    if last_id is not None:
        headers = {**headers, "Last-Event-ID": str(last_id)}
    async with (
        httpx.AsyncClient(base_url=base, timeout=WAIT) as client,
        client.stream("GET", "/api/v1/events", params={"topics": topics}, headers=headers) as r,
    ):
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        stream = Stream(_frames(r))
        assert "subscribed" in (await stream.next()).comments
        yield stream


def _last_of(*execution_ids: int, per_run: int) -> Any:
    """True once every execution's final status arrived ``per_run`` times."""

    def final(frame: Frame) -> int | None:
        payload = (frame.data or {}).get("payload", {})
        finished = payload.get("type") == "execution" and payload.get("status") in FINAL
        return payload.get("execution_id") if finished else None

    def done(seen: list[Frame]) -> bool:
        finals = [final(frame) for frame in seen]
        return all(finals.count(e) >= per_run for e in execution_ids)

    return done


def _run(flow_id: int, n: int) -> int:
    event = PlatformEvent(
        event_id=f"sse:{n}",
        kind="tg_command",
        platform="telegram",
        chat=EventChat(id="-1", type="group"),
        command="start",
    )
    return executions.launch(flow_id, event)


@pytest.fixture
def worker(tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from embedded_worker(monkeypatch)


async def test_see_a_run_then_resume_without_a_gap(tokens: Tokens, worker: None) -> None:
    flow_id = make_flow(
        chain(
            ("t", "tg_command", {"command": "start"}),
            ("v", "set_variable", {"name": "who", "value": "{{trigger.chat.id}}"}),
            ("m", "template", {"text": "hi {{context.who}}"}),
        )
    )
    topics = f"flow:{flow_id},executions"
    with served_in_thread() as base:
        async with sse(base, tokens.viewer, topics) as first:
            one = _run(flow_id, 1)
            await first.until(lambda f: f.data is not None)  # dropped after the first event
            dropped_at = first.last_id
        two = _run(flow_id, 2)  # runs while nobody listens
        assert (await executions.wait_for_finish(two, WAIT)).status == "succeeded"
        assert (await executions.wait_for_finish(one, WAIT)).status == "succeeded"
        async with sse(base, tokens.viewer, topics, last_id=dropped_at) as resumed:
            last = _last_of(one, two, per_run=2)  # each on both topics
            later = await resumed.until(lambda f: last(resumed.seen))
    got = [f for f in first.seen if f.data] + later
    since = got[0].id or 0  # the bus is the process's: earlier tests' events are kept too
    kept = [e for e in events.replay([f"flow.{flow_id}", "execution.*"], 0) if (e.id or 0) >= since]
    assert [f.id for f in got] == [e.id for e in kept], (  # every event once, in order
        [(f.id, f.data) for f in got],
        [(e.id, e.topic, e.payload) for e in kept],
    )
    by_topic = {(f.data or {})["topic"] for f in got}
    assert by_topic == {f"flow:{flow_id}", "executions"}
    steps = [
        (f.data or {})["payload"]["node_id"]
        for f in got
        if (f.data or {})["topic"] == "executions"
        and (f.data or {})["payload"]["type"] == "step"
        and (f.data or {})["payload"]["execution_id"] == two
    ]
    assert {"t", "v", "m"} <= set(steps)


async def test_heartbeats_redaction_and_revocation(
    tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_api, "HEARTBEAT_SECONDS", 0.3)
    qr = {"status": "auth_required", "message": "scan", "details": {"qr": "2@secret"}}
    with served_in_thread() as base:
        async with (
            sse(base, tokens.viewer, "connections") as viewer,
            sse(base, tokens.editor, "connections") as editor,
        ):
            events.publish("connection.5", qr)
            events.publish("connections.changed", {})  # not a connection's own report
            seen_by_viewer = (await viewer.until(lambda f: f.data is not None))[-1].data
            seen_by_editor = (await editor.until(lambda f: f.data is not None))[-1].data
            assert seen_by_viewer == {
                "topic": "connections",
                "payload": {"status": "auth_required", "message": "scan"},
            }
            assert seen_by_editor == {"topic": "connections", "payload": qr}
            await viewer.until(lambda f: "heartbeat" in f.comments)
            with session_scope() as session:
                for token in session.exec(select(ApiToken).where(ApiToken.name == "viewer")):
                    token.revoked_at = utcnow()
            with pytest.raises(StopAsyncIteration):  # the stream ends at the next heartbeat
                await viewer.until(lambda f: False)


async def test_refusals(api: httpx.AsyncClient, tokens: Tokens) -> None:
    assert (await api.get("/api/v1/events")).status_code == 401
    unknown = await api.get("/api/v1/events", params={"topics": "secrets"}, headers=tokens.viewer)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "invalid"
    empty = await api.get("/api/v1/events", params={"topics": ","}, headers=tokens.viewer)
    assert empty.status_code == 422
    no_flow = await api.get("/api/v1/events", params={"topics": "flow:999"}, headers=tokens.viewer)
    assert no_flow.status_code == 404
    bad_id = await api.get(
        "/api/v1/events", headers={**tokens.viewer, "Last-Event-ID": "yesterday"}
    )
    assert bad_id.status_code == 422


@pytest.fixture
def scaled_bus(tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> Iterator[events.RedisBus]:
    """Redis as the bus, in a namespace of its own; a separate client publishes, as a
    worker process would."""
    url = redis_url_or_skip()
    namespace = f"flowbot_t_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("FLOWBOT_REDIS_NAMESPACE", namespace)
    get_settings.cache_clear()
    yield events.RedisBus(url, namespace)
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


async def test_scaled_resume_on_another_web_process(
    tokens: Tokens, scaled_bus: events.RedisBus
) -> None:
    def step(n: int) -> None:
        scaled_bus.publish("execution.9", {"type": "step", "execution_id": 9, "n": n})
        scaled_bus.publish("flow.3", {"type": "step", "flow_id": 3, "n": n})

    with served_in_thread() as base:
        async with sse(base, tokens.viewer, "executions") as first:
            step(1)
            step(2)
            scaled_bus.flush()
            await first.until(lambda f: (f.data or {}).get("payload", {}).get("n") == 2)
    step(3)
    step(4)
    scaled_bus.flush()
    with served_in_process() as other:
        async with sse(other, tokens.viewer, "executions", last_id=first.last_id) as resumed:
            later = await resumed.until(lambda f: (f.data or {}).get("payload", {}).get("n") == 4)
    assert [f.data["payload"]["n"] for f in later if f.data] == [3, 4]
    ids = [f.id or 0 for f in first.seen if f.data] + [f.id or 0 for f in later]
    assert ids == sorted(ids) and len(set(ids)) == 4

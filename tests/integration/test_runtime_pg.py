"""The executor's core path on both databases (the ``session`` fixture runs each test on
SQLite and on PostgreSQL), racing creators of one execution, and the Redis event bus."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
import redis
from sqlmodel import Session, select

from engine import db, events, pool_client
from engine.execution_store import create_execution
from engine.models import ExecutionStatus, FlowExecution, StepStatus, utcnow
from engine.runtime import run_execution, run_flow_now
from engine.settings import get_settings
from tests.fakes.pool import FakePool
from tests.services import REDIS_TEST_URL, unavailable
from tests.unit.test_runtime import (
    POOL_TOKEN,
    TRIGGER,
    chain,
    edge,
    make_flow,
    node,
    send,
    steps,
    texts,
    trigger,
)


@pytest.fixture
async def pool(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakePool]:
    async with FakePool(token=POOL_TOKEN) as fake:
        monkeypatch.setenv("FLOWBOT_POOL_URL", fake.url)
        monkeypatch.setenv("FLOWBOT_POOL_TOKEN", POOL_TOKEN)
        get_settings.cache_clear()
        yield fake
        await pool_client.aclose()


async def test_core_path_condition_loop_delay_and_replay(session: Session, pool: FakePool) -> None:
    flow_id = make_flow(
        session,
        [
            TRIGGER,
            node("c", "text_contains", values=["go"]),
            node("v", "set_variable", name="greeting", value="hi {{trigger.user.first_name}}"),
            node("loop1", "loop", items="{{trigger.data.items}}", max_iterations=10),
            send("each", "{{context.greeting}} #{{context.item}}"),
            node("d", "delay", seconds=0.2),
            send("after", "after {{node.loop1.count}}"),
            send("no", "no"),
        ],
        [
            edge("t", "c"),
            edge("c", "v", "true"),
            edge("c", "no", "false"),
            edge("v", "loop1"),
            edge("loop1", "each", "item"),
            edge("loop1", "d", "done"),
            edge("d", "after"),
        ],
    )
    outcome = await run_flow_now(
        flow_id, trigger(text="go now", data={"items": [1, 2]}), idempotency_key="evt-pg-1"
    )
    assert outcome.status is ExecutionStatus.waiting, outcome.error
    assert texts(pool) == ["hi Alice #1", "hi Alice #2"]

    assert outcome.resume_at is not None
    await asyncio.sleep(max(0.0, (outcome.resume_at - utcnow()).total_seconds()) + 0.05)
    resumed = await run_execution(outcome.execution_id)
    assert resumed.status is ExecutionStatus.succeeded, resumed.error
    # the variable set before the delay is restored by replay, not by running v again
    assert texts(pool) == ["hi Alice #1", "hi Alice #2", "after 2"]
    assert resumed.result is not None and resumed.result["variables"] == {"greeting": "hi Alice"}
    recorded = steps(session, outcome.execution_id)
    assert [s.step_key for s in recorded] == [
        "t", "c", "v", "loop1", "loop1[0]/each", "loop1[1]/each", "d", "after"
    ]  # fmt: skip
    assert all(s.status == StepStatus.succeeded for s in recorded)

    again = await run_flow_now(flow_id, trigger(text="go now"), idempotency_key="evt-pg-1")
    assert again.execution_id == outcome.execution_id and len(pool.requests.calls) == 3


async def test_a_failed_step_fails_the_execution(session: Session, pool: FakePool) -> None:
    pool.fail("send_message", "platform", "chat not found")
    flow_id = make_flow(session, *chain(send("s", "x")))
    outcome = await run_flow_now(flow_id, trigger())
    assert outcome.status is ExecutionStatus.failed
    assert outcome.error == "node 's' (Send message): platform: chat not found"
    session.expire_all()
    execution = session.get(FlowExecution, outcome.execution_id)
    assert execution is not None and execution.status == ExecutionStatus.failed
    assert execution.error == outcome.error and execution.finished_at is not None


def test_concurrent_create_execution_with_one_key_makes_one_row(session: Session) -> None:
    flow_id = make_flow(session, [TRIGGER], [])
    start = threading.Barrier(6)
    ids: list[int | None] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            with Session(db.get_engine(), expire_on_commit=False) as own:
                start.wait()
                execution = create_execution(
                    own, flow_id, trigger(), trigger_type="tg_message", idempotency_key="same"
                )
                own.commit()
                ids.append(execution.id)
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(set(ids)) == 1 and len(ids) == 6
    session.expire_all()
    rows = session.exec(select(FlowExecution).where(FlowExecution.idempotency_key == "same")).all()
    assert len(rows) == 1


@pytest.mark.redis
async def test_redis_bus_carries_events_between_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        redis.Redis.from_url(REDIS_TEST_URL).ping()
    except redis.RedisError as exc:
        unavailable("Redis at " + REDIS_TEST_URL, exc)
    monkeypatch.setenv("REDIS_URL", REDIS_TEST_URL)
    get_settings.cache_clear()
    bus = events.get_bus()
    assert isinstance(bus, events.RedisBus)
    async with events.subscribe("execution.*") as subscription:
        await asyncio.to_thread(events.publish, "execution.5", {"type": "step", "n": 1})
        events.publish("flow.5", {"n": 2})
        events.publish("execution.6", {"n": 3})
        events.publish("execution.7", {"n": 4}, "flow.7", "execution.8")  # one payload, 3 topics
        got = [await asyncio.wait_for(anext(subscription), 5) for _ in range(4)]
    assert [(e.topic, e.payload["n"]) for e in got] == [
        ("execution.5", 1), ("execution.6", 3), ("execution.7", 4), ("execution.8", 4)
    ]  # fmt: skip
    assert [e.id or 0 for e in got] == sorted({e.id or 0 for e in got})

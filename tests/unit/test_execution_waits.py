"""Waiting for an execution's end (webhooks' "wait for result") reads its row when the
end is announced (here, or on the bus's end topics), not on every step's event; a lost
announcement is made up for by reading the row every POLL_SECONDS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import redis

from engine import events, execution_events
from engine.execution_events import announce_status
from engine.models import ExecutionStatus, FlowExecution
from engine.services import executions
from engine.settings import get_settings
from tests.services import redis_url_or_skip

RUNNING, DONE = ExecutionStatus.running, ExecutionStatus.succeeded


def reading(monkeypatch: pytest.MonkeyPatch, statuses: Iterator[ExecutionStatus]) -> list[int]:
    """Serve the row with the given statuses in turn; the reads made."""
    reads: list[int] = []

    def load(execution_id: int) -> FlowExecution:
        reads.append(execution_id)
        return FlowExecution(id=execution_id, flow_id=1, status=next(statuses))

    monkeypatch.setattr(executions, "load", load)
    return reads


async def expected(execution_id: int) -> None:
    """Until the waiter expects the end: a later announcement reaches it."""
    async with asyncio.timeout(10):
        while execution_id not in execution_events._waiting:
            await asyncio.sleep(0)


async def test_step_events_do_not_make_it_read_the_row(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = reading(monkeypatch, iter([DONE]))
    monkeypatch.setattr(executions, "POLL_SECONDS", 60.0)
    waiter = asyncio.create_task(executions.wait_for_finish(7, 30))
    await expected(7)
    for seq in range(5):
        events.publish("execution.7", {"type": "step", "seq": seq, "status": "succeeded"})
    announce_status(7, 1, DONE, None)  # as the run announces its end
    execution = await asyncio.wait_for(waiter, 10)
    assert execution is not None and execution.status is DONE
    assert reads == [7]  # embedded: once, at the end


async def test_a_lost_announcement_is_made_up_for_by_reading_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = reading(monkeypatch, iter([RUNNING, RUNNING, DONE]))
    monkeypatch.setattr(executions, "POLL_SECONDS", 0.01)
    execution = await asyncio.wait_for(executions.wait_for_finish(8, 30), 10)
    assert execution is not None and execution.status is DONE and reads == [8, 8, 8]


async def test_an_end_announced_before_the_wait_is_read_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = reading(monkeypatch, iter([DONE]))
    monkeypatch.setattr(executions, "POLL_SECONDS", 60.0)
    announce_status(9, 1, DONE, None)
    execution = await asyncio.wait_for(executions.wait_for_finish(9, 30), 10)
    assert execution is not None and execution.status is DONE and reads == [9]


@pytest.fixture
def redis_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[events.RedisBus]:
    """Scaled: Redis as the bus in a namespace of its own; the bus returned publishes
    from a client of its own, as a worker process would."""
    url = redis_url_or_skip()
    namespace = f"flowbot_t_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("FLOWBOT_REDIS_NAMESPACE", namespace)
    get_settings.cache_clear()
    bus = events.RedisBus(url, namespace)
    yield bus
    bus.flush()
    get_settings.cache_clear()
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{namespace}:*"))
    if keys:
        client.delete(*keys)
    client.close()


async def test_scaled_waiters_share_one_subscription_to_the_ends(
    monkeypatch: pytest.MonkeyPatch, redis_bus: events.RedisBus
) -> None:
    """Ends announced by another process reach every waiter through one subscription per
    event loop (each waiting call used to open its own Redis connection)."""
    opened: list[tuple[str, ...]] = []
    subscribe = events.subscribe

    def counted(*patterns: str) -> events.Subscription:
        opened.append(patterns)
        return subscribe(*patterns)

    monkeypatch.setattr(events, "subscribe", counted)
    monkeypatch.setattr(executions, "POLL_SECONDS", 60.0)
    statuses = {11: iter([RUNNING, DONE]), 12: iter([RUNNING, DONE]), 13: iter([RUNNING, DONE])}
    reads: list[int] = []

    def load(execution_id: int) -> FlowExecution:
        reads.append(execution_id)
        return FlowExecution(id=execution_id, flow_id=1, status=next(statuses[execution_id]))

    monkeypatch.setattr(executions, "load", load)
    waiters = [asyncio.create_task(executions.wait_for_finish(n, 30)) for n in (11, 12, 13)]
    for n in (11, 12, 13):
        await expected(n)
    async with asyncio.timeout(10):
        while len(reads) < 3:  # each read the row once the subscription was confirmed
            await asyncio.sleep(0.01)
    for n in (11, 12, 13):  # as a worker process announces an end (not in this process)
        redis_bus.publish(f"ended.{n}", {"type": "execution", "execution_id": n, "status": DONE})
    finished = await asyncio.wait_for(asyncio.gather(*waiters), 10)
    assert [execution.status for execution in finished if execution] == [DONE] * 3
    assert sorted(reads) == [11, 11, 12, 12, 13, 13]
    assert opened == [(execution_events.ENDED_TOPICS,)]
    assert not execution_events._waiting


async def test_a_follower_that_could_not_start_is_started_again_by_the_next_waiter(
    monkeypatch: pytest.MonkeyPatch, redis_bus: events.RedisBus
) -> None:
    """Redis unreachable: the waiter gives up (the caller answers "accepted"); once it is
    back, the next waiter subscribes afresh instead of reusing the failed follower."""
    reads = reading(monkeypatch, iter([RUNNING, DONE]))
    monkeypatch.setattr(executions, "POLL_SECONDS", 60.0)
    good_url = get_settings().redis_url
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    get_settings.cache_clear()
    assert await asyncio.wait_for(executions.wait_for_finish(21, 30), 10) is None
    assert reads == []
    monkeypatch.setenv("REDIS_URL", str(good_url))
    get_settings.cache_clear()
    waiter = asyncio.create_task(executions.wait_for_finish(21, 30))
    async with asyncio.timeout(10):
        while not reads:  # read once the new subscription was confirmed
            await asyncio.sleep(0.01)
    redis_bus.publish("ended.21", {"type": "execution", "execution_id": 21, "status": DONE})
    execution = await asyncio.wait_for(waiter, 10)
    assert execution is not None and execution.status is DONE and reads == [21, 21]

"""Idle Redis consumers wait on their queue's doorbell (engine/redis_broker.py): no polling,
a message sent meanwhile is taken at once by one of them, delays end on time, and a
stopping worker is not held up by a wait. Round trips are counted as the bench counts them
(bench/_redis_trips.py), in this process."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
import redis

from bench import _redis_trips
from engine.broker import build_broker
from engine.redis_broker import IDLE_WAIT_MS, DoorbellBroker
from engine.settings import get_settings
from tests.services import redis_url_or_skip

pytestmark = pytest.mark.redis

QUEUE = "bells"


@pytest.fixture
def namespace(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = redis_url_or_skip()
    name = f"flowbot_t_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("FLOWBOT_REDIS_NAMESPACE", name)
    get_settings.cache_clear()
    yield name
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{name}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    get_settings.cache_clear()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """This process's Redis round trips so far, counted by the bench's hook."""
    import redis.connection

    cls = redis.connection.AbstractConnection
    counted = _redis_trips._counted_send(cls.send_packed_command)
    monkeypatch.setattr(cls, "send_packed_command", counted)
    monkeypatch.setattr(cls, "read_response", _redis_trips._counted_read(cls.read_response))
    return lambda: _redis_trips._count


class Ran:
    """What a worker's actor ran: arguments and when."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, float]] = []
        self.done = threading.Condition()

    def record(self, value: Any) -> None:
        with self.done:
            self.calls.append((value, time.monotonic()))
            self.done.notify_all()

    def wait_for(self, n: int, timeout: float = 10) -> list[tuple[Any, float]]:
        with self.done:
            assert self.done.wait_for(lambda: len(self.calls) >= n, timeout), self.calls
            return list(self.calls)


def started_worker(ran: Ran, hold: float = 0.0) -> tuple[DoorbellBroker, dramatiq.Worker]:
    """A broker as a worker process builds it, with an actor, and a running worker."""
    broker: Any = build_broker(get_settings())
    assert isinstance(broker, DoorbellBroker)

    def note(value: Any) -> None:
        ran.record(value)
        time.sleep(hold)

    actor: Any = dramatiq.actor(note, broker=broker, queue_name=QUEUE, actor_name="note")
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    broker.actor = actor  # for the test to send
    return broker, worker


def stop(broker: Any, worker: dramatiq.Worker) -> None:
    broker.wake_consumers()
    worker.stop(10_000)
    broker.close()


def test_an_idle_worker_makes_almost_no_round_trips(
    namespace: str, trips: Callable[[], int]
) -> None:
    broker, worker = started_worker(Ran())
    try:
        time.sleep(0.5)  # both consumers (queue and delay queue) fetched once, now waiting
        before = trips()
        time.sleep(3)
        # Polling (the consumers before doorbells) made about 60 a second.
        assert trips() - before <= 2
    finally:
        stop(broker, worker)


def test_a_message_sent_to_waiting_consumers_runs_at_once_on_one_of_them(
    namespace: str, trips: Callable[[], int]
) -> None:
    ran = Ran()
    first, first_worker = started_worker(ran, hold=1.0)
    second, second_worker = started_worker(ran, hold=1.0)
    sender: Any = build_broker(get_settings())
    try:
        sender.client.ping()  # its connection opened
        time.sleep(0.5)  # every consumer is waiting on its doorbell
        before = trips()
        sent_at = time.monotonic()
        sender.enqueue(first.actor.message(1))
        ((_, ran_at),) = ran.wait_for(1)
        assert ran_at - sent_at < 0.2
        sender.enqueue(first.actor.message(2))  # the first is still running (1 s)
        calls = ran.wait_for(2)
        assert calls[1][1] - sent_at < 0.4
        # the two enqueues, and each message's fetch (its next wait sent with it): no polls
        assert trips() - before == 4
    finally:
        stop(first, first_worker)
        stop(second, second_worker)
        sender.close()


def test_a_delayed_message_runs_when_due(namespace: str) -> None:
    ran = Ran()
    broker, worker = started_worker(ran)
    try:
        time.sleep(0.3)
        sent_at = time.monotonic()
        broker.actor.send_with_options(args=("late",), delay=1500)
        ((value, ran_at),) = ran.wait_for(1)
        assert value == "late"
        assert 1.45 <= ran_at - sent_at < 1.7  # the delay consumer waited until its eta
    finally:
        stop(broker, worker)


def test_a_stopping_worker_does_not_wait_out_its_consumers_waits(namespace: str) -> None:
    broker, worker = started_worker(Ran())
    time.sleep(0.3)
    started = time.monotonic()
    stop(broker, worker)
    assert time.monotonic() - started < min(1.0, IDLE_WAIT_MS / 1000)


def test_the_doorbell_holds_a_token_per_message_no_consumer_is_coming_for(
    namespace: str,
) -> None:
    broker: Any = build_broker(get_settings())
    broker.declare_queue(QUEUE)
    bell = f"{broker.namespace}:{QUEUE}.bell"
    try:
        for i in range(4):
            broker.enqueue(dramatiq.Message(QUEUE, "note", (i,), {}, {}))
        assert broker.client.llen(bell) == 4
        broker.client.lpop(bell)  # a consumer woken by a token...
        assert len(broker.do_fetch(QUEUE, 2, 1)) == 2  # ...takes two: the other's token too
        assert broker.client.llen(bell) == 2  # for the two left
        broker.client.lpop(bell)  # another woken, while a fetch without a token takes both
        assert len(broker.do_fetch(QUEUE, 5, 0)) == 2
        assert not broker.client.exists(bell)  # the woken one's fetch will find nothing
    finally:
        broker.close()


def test_no_wait_outlasts_a_third_of_the_heartbeat_timeout(namespace: str) -> None:
    """A worker's heartbeat is its script calls: a waiting consumer holding messages must
    not look dead to the others, whose maintenance would deliver its messages again."""
    broker: Any = build_broker(get_settings())
    broker.heartbeat_timeout = 900
    assert broker.longest_wait(busy=True) == broker.longest_wait(busy=False) == 0.3
    broker.close()


def test_maintenance_puts_a_dead_workers_messages_back_and_rings(namespace: str) -> None:
    """The sweep's maintain(): idle consumers make too few commands for the chance-driven
    maintenance to notice a dead worker soon; the requeued message gets its token."""
    dead: Any = build_broker(get_settings())
    alive: Any = build_broker(get_settings())
    for broker in (dead, alive):
        broker.declare_queue(QUEUE)
        broker.heartbeat_timeout = 200
        broker.maintenance_chance = 0
    bell = f"{alive.namespace}:{QUEUE}.bell"
    try:
        alive.enqueue(dramatiq.Message(QUEUE, "note", (1,), {}, {}))
        assert len(dead.do_fetch(QUEUE, 1)) == 1  # then it dies, unacknowledged
        assert not alive.client.exists(bell)
        time.sleep(0.3)
        alive.maintain()
        assert alive.client.llen(bell) == 1
        assert len(alive.do_fetch(QUEUE, 1)) == 1
    finally:
        dead.close()
        alive.close()

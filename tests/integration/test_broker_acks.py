"""The worker's Redis consumer (engine/redis_broker.py): acknowledgements ride the next
fetch, messages carry their fetch time, and SkipForgotten asks Redis only about stale ones."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq.middleware import SkipMessage

from engine.broker import build_broker
from engine.redis_broker import FetchedMessage
from engine.settings import get_settings
from engine.worker import FRESH_FETCH_SECONDS, SkipForgotten
from tests.services import redis_url_or_skip

pytestmark = pytest.mark.redis

QUEUE = "acks"


@pytest.fixture
def redis_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("REDIS_URL", redis_url_or_skip())
    monkeypatch.setenv("FLOWBOT_REDIS_NAMESPACE", f"flowbot_t_{uuid.uuid4().hex[:10]}")
    get_settings.cache_clear()
    real: Any = build_broker(get_settings())
    real.declare_queue(QUEUE)
    yield real
    real.client.delete(*(real.client.keys(f"{real.namespace}:*") or ["none"]))
    real.close()
    get_settings.cache_clear()


def send(broker: Any, n: int, actor_name: str = "anything") -> None:
    for i in range(n):
        broker.enqueue(
            dramatiq.Message(
                queue_name=QUEUE, actor_name=actor_name, args=(i,), kwargs={}, options={}
            )
        )


def held(broker: Any) -> set[bytes]:
    """The ids of the messages Redis holds for the queue (waiting or unacknowledged)."""
    return set(broker.client.hkeys(f"{broker.namespace}:{QUEUE}.msgs"))


def next_message(consumer: Any) -> FetchedMessage:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        message = next(consumer)
        if message is not None:
            assert isinstance(message, FetchedMessage)
            return message
    raise AssertionError("no message fetched within 5 s")


def test_an_ack_goes_to_redis_with_the_next_fetch(redis_broker: Any) -> None:
    send(redis_broker, 4)
    consumer = redis_broker.consume(QUEUE, prefetch=3, timeout=50)
    first = next_message(consumer)  # fetches two, leaving room for what its wait brings
    assert time.monotonic() - first.fetched_at < FRESH_FETCH_SECONDS
    consumer.ack(first)
    first_id = first.options["redis_message_id"].encode()
    assert first_id in held(redis_broker)  # waiting for the next fetch
    next_message(consumer)  # the second, from memory
    third = next_message(consumer)  # the doorbell rang (more waiting): a fetch, with the ack
    assert third.args == (2,)
    assert first_id not in held(redis_broker)
    assert len(held(redis_broker)) == 3  # the second and third fetched, the fourth waiting


def test_closing_the_consumer_sends_the_acks_still_waiting(redis_broker: Any) -> None:
    send(redis_broker, 1)
    consumer = redis_broker.consume(QUEUE, prefetch=1, timeout=50)
    message = next_message(consumer)
    consumer.ack(message)
    assert held(redis_broker)
    consumer.close()
    assert not held(redis_broker)


def test_only_a_message_that_waited_since_its_fetch_is_checked_against_redis(
    redis_broker: Any,
) -> None:
    """A message Redis no longer holds (Redis came back empty) is skipped once it has
    waited in memory; fetched just now, Redis held it just now and it runs unasked."""
    send(redis_broker, 2, actor_name="execute_flow")
    consumer = redis_broker.consume(QUEUE, prefetch=2, timeout=50)
    fresh, stale = next_message(consumer), next_message(consumer)
    redis_broker.client.delete(f"{redis_broker.namespace}:{QUEUE}.msgs")  # forgotten
    stale.fetched_at -= FRESH_FETCH_SECONDS
    skip = SkipForgotten()
    skip.before_process_message(redis_broker, fresh)  # no exception: it runs
    with pytest.raises(SkipMessage):
        skip.before_process_message(redis_broker, stale)

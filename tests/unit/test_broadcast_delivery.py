"""Broadcast delivery on SQLite against the recording fake pool: each target once under its
key, 429s waited out, failures kept with the platform's message, the lease, cancel,
retry of the failed ones, progress on the bus, and the periodic resume."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine import broadcast_delivery, events, pool_client
from engine.broadcast_delivery import TOPIC, deliver, due_broadcasts, idempotency_key
from engine.db import session_scope
from engine.models import BroadcastMessage, BroadcastStatus, BroadcastTarget, TargetStatus, utcnow
from engine.services import broadcasts
from tests.broadcast_world import bot_instance, broadcast, status_of, statuses, targets_of
from tests.fakes.pool import FakePool
from tests.flow_helpers import make_admin

pytestmark = pytest.mark.usefixtures("sqlite_session", "delivery_started")


def _set(model: type, row_id: int, **values: object) -> None:
    with session_scope() as session:
        session.execute(sa.update(model).where(model.id == row_id).values(**values))


async def test_each_target_gets_the_message_once_rendered_for_its_platform(
    fake_pool: FakePool,
) -> None:
    telegram, discord = bot_instance("telegram_bot"), bot_instance("discord_bot", "d")
    buttons = [[{"text": "Docs", "url": "https://example.org/docs"}]]
    broadcast_id = broadcast(
        [("telegram_bot", telegram, "-1001"), ("telegram_bot", telegram, "-1002"),
         ("discord_bot", discord, "555")],
        text="**Hello** <everyone>", buttons=buttons,
    )  # fmt: skip

    async with events.subscribe(TOPIC.format(id=broadcast_id)) as progress:
        assert await deliver(broadcast_id) == BroadcastStatus.sent
        last = await _last_event(progress)

    calls = {
        call.params.get("chat_id") or call.params["channel_id"]: call
        for call in fake_pool.executions.calls
    }
    assert sorted(calls) == ["-1001", "-1002", "555"]
    assert len(fake_pool.executions.calls) == 3
    assert calls["-1001"].action == "send_buttons"
    assert calls["-1001"].params["parse_mode"] == "HTML"
    assert calls["-1001"].params["text"] == "<b>Hello</b> &lt;everyone&gt;"
    assert calls["-1001"].params["buttons"] == [
        [{"text": "Docs", "url": "https://example.org/docs"}]
    ]
    assert calls["555"].params["content"] == "**Hello** <everyone>"
    target_ids = [t.id for t in targets_of(broadcast_id)]
    assert {c.idempotency_key for c in calls.values()} == {
        idempotency_key(broadcast_id, target_id, 1) for target_id in target_ids
    }
    assert all(t.platform_message_id and t.sent_at for t in targets_of(broadcast_id))
    assert last == {"broadcast_id": broadcast_id, "status": "sent", "total": 3, "sent": 3,
                    "failed": 0, "pending": 0, "cancelled": 0}  # fmt: skip


async def _last_event(subscription: events.Subscription) -> dict[str, object]:
    """The newest progress event already published (the finish is always published)."""
    payload: dict[str, object] = {}
    while True:
        try:
            event = await asyncio.wait_for(anext(subscription), 0.5)
        except TimeoutError:
            return payload
        payload = event.payload


async def test_a_per_platform_override_replaces_the_text(fake_pool: FakePool) -> None:
    discord = bot_instance("discord_bot")
    broadcast_id = broadcast(
        [("discord_bot", discord, "555")], overrides={"discord": "_Hi_ Discord"}
    )

    await deliver(broadcast_id)

    (call,) = fake_pool.executions.calls
    assert call.params["content"] == "_Hi_ Discord"


async def test_a_429_is_waited_out_and_the_target_sent(fake_pool: FakePool) -> None:
    bot = bot_instance()
    broadcast_id = broadcast([("telegram_bot", bot, "-1001")])
    fake_pool.fail("send_message", "rate_limited", "slow down", retry_after=0.05)

    assert await deliver(broadcast_id) == BroadcastStatus.sent

    (target,) = targets_of(broadcast_id)
    assert (target.status, target.attempts, target.error) == (TargetStatus.sent, 2, None)
    assert len(fake_pool.requests.calls) == 2
    assert len(fake_pool.executions.calls) == 1


async def test_a_refusal_fails_the_target_with_the_platform_message(fake_pool: FakePool) -> None:
    bot = bot_instance()
    broadcast_id = broadcast([("telegram_bot", bot, "-1001"), ("telegram_bot", bot, "-1002")])
    fake_pool.fail("send_message", "platform", "Forbidden: bot was kicked from the group chat")

    assert await deliver(broadcast_id) == BroadcastStatus.partial

    errors = sorted(str(t.error) for t in targets_of(broadcast_id))
    assert errors == ["Forbidden: bot was kicked from the group chat", "None"]
    assert len(fake_pool.executions.calls) == 1


async def test_a_target_whose_connection_is_gone_fails_and_is_not_tried(
    fake_pool: FakePool,
) -> None:
    broadcast_id = broadcast([("telegram_bot", bot_instance(), "-1001")])
    (target,) = targets_of(broadcast_id)
    _set(BroadcastTarget, target.id, bot_instance_id=None)  # the connection was deleted

    assert await deliver(broadcast_id) == BroadcastStatus.failed

    (target,) = targets_of(broadcast_id)
    assert target.error == broadcast_delivery.NO_CONNECTION
    assert fake_pool.requests.calls == []


async def test_retrying_failed_targets_sends_only_those_under_a_new_key(
    fake_pool: FakePool,
) -> None:
    bot = bot_instance()
    broadcast_id = broadcast([("telegram_bot", bot, "-1001"), ("telegram_bot", bot, "-1002")])
    fake_pool.fail("send_message", "platform", "Bad Request: chat not found")
    await deliver(broadcast_id)
    failed = next(t for t in targets_of(broadcast_id) if t.status == TargetStatus.failed)

    with session_scope() as session:
        broadcasts.retry_failed(session, make_admin(), broadcast_id)
    assert await deliver(broadcast_id) == BroadcastStatus.sent

    retried = fake_pool.requests.calls[-1]
    assert len(fake_pool.requests.calls) == 3
    assert retried.params["chat_id"] == failed.platform_chat_id
    assert retried.idempotency_key == idempotency_key(broadcast_id, failed.id, 2)
    assert statuses(broadcast_id) == [TargetStatus.sent, TargetStatus.sent]


async def test_a_resumed_target_in_flight_goes_again_under_the_same_key(
    fake_pool: FakePool,
) -> None:
    bot = bot_instance()
    broadcast_id = broadcast([("telegram_bot", bot, "-1001")])
    (target,) = targets_of(broadcast_id)
    assert target.id is not None
    key = idempotency_key(broadcast_id, target.id, 1)
    fake_pool.results["send_message"] = {"message_id": "77"}
    params = {"chat_id": "-1001", "text": "Hello"}  # the pool did it before the worker died
    await pool_client.execute("telegram_bot", "send_message", params, instance_id=bot,
                              idempotency_key=key)  # fmt: skip
    _set(BroadcastTarget, target.id, status=TargetStatus.sending, attempts=1)

    assert await deliver(broadcast_id) == BroadcastStatus.sent

    assert [call.idempotency_key for call in fake_pool.requests.calls] == [key, key]
    assert len(fake_pool.executions.calls) == 1  # the second answered from the first outcome
    assert targets_of(broadcast_id)[0].platform_message_id == "77"


async def test_a_held_lease_keeps_a_second_job_out(fake_pool: FakePool) -> None:
    bot = bot_instance()
    broadcast_id = broadcast([("telegram_bot", bot, "-1001")])
    _set(BroadcastMessage, broadcast_id, lease_until=utcnow() + timedelta(seconds=30))

    assert await deliver(broadcast_id) is None

    assert fake_pool.requests.calls == []
    assert statuses(broadcast_id) == [TargetStatus.pending]


async def test_cancel_in_flight_stops_the_rest(fake_pool: FakePool) -> None:
    bot = bot_instance("whatsapp_user")  # one send every 2 s: the rest wait their turn
    broadcast_id = broadcast([("whatsapp_user", bot, f"{i}@g.us") for i in range(5)])

    job = asyncio.create_task(deliver(broadcast_id))
    await fake_pool.executions.wait_for(lambda call: True, count=1, timeout=5)
    with session_scope() as session:
        broadcasts.cancel(session, make_admin(), broadcast_id)
    assert await asyncio.wait_for(job, 5) == BroadcastStatus.cancelled

    assert statuses(broadcast_id) == [TargetStatus.sent] + [TargetStatus.cancelled] * 4
    assert len(fake_pool.requests.calls) == 1
    assert status_of(broadcast_id) == BroadcastStatus.cancelled


def test_resume_starts_due_schedules_and_orphans_once() -> None:
    now = utcnow()
    bot = bot_instance()
    due, later, orphan, held = (
        broadcast([("telegram_bot", bot, f"-100{i}")], at=at)
        for i, at in enumerate([now + timedelta(hours=1)] * 2 + [None] * 2)
    )
    _set(BroadcastMessage, due, scheduled_at=now - timedelta(seconds=1))
    _set(BroadcastMessage, orphan, lease_until=now - timedelta(seconds=1))
    _set(BroadcastMessage, held, lease_until=now + timedelta(seconds=30))

    assert due_broadcasts(now) == [due, orphan]
    assert due_broadcasts(now) == []  # started already; the orphan is claimed for a lease

    assert (status_of(due), status_of(later)) == (
        BroadcastStatus.sending,
        BroadcastStatus.scheduled,
    )

"""Broadcasts delivered on the real connectors: the delivery job → the pool API over HTTP →
aiogram and hikari against the fake Telegram and Discord, neonize's client object for
WhatsApp; the fake Telegram enforcing Telegram's flood limits; and, in scaled mode, a
worker killed with SIGKILL in the middle of a broadcast."""

from __future__ import annotations

import asyncio
from collections import Counter

import dramatiq
import httpx
import pytest
from neonize.proto.Neonize_pb2 import SendResponse

from engine.broadcast_delivery import deliver
from engine.broker import QUEUE, build_broker
from engine.db import session_scope
from engine.models import BroadcastStatus, TargetStatus
from engine.services import broadcasts
from engine.settings import get_settings
from tests.broadcast_world import bot_instance, broadcast, status_of, statuses, targets_of
from tests.fakes import DISCORD_CHANNEL_ID, TELEGRAM_CHAT_ID, FakeTelegramBotAPI
from tests.fakes.pool import read_records
from tests.flow_helpers import make_admin
from tests.integration.test_moderation_platforms import WA_GROUP, Platforms
from tests.integration.test_moderation_platforms import platforms as platforms  # fixture
from tests.integration.test_worker_redis import Scaled, start_pool
from tests.integration.test_worker_redis import scaled as scaled  # fixture
from tests.processes import kill_group, wait_until

pytestmark = pytest.mark.usefixtures("delivery_started")  # the tests run the job themselves

SECOND_GROUP = -1_001_000_000_888
BUTTONS = [[{"text": "Read more", "url": "https://example.org/news"}]]


async def test_a_broadcast_reaches_every_platform_once_formatted(platforms: Platforms) -> None:
    ids = platforms.instances
    platforms.neonize.send_message.return_value = SendResponse(ID="3EB0AA", Timestamp=1)
    broadcast_id = broadcast(
        [
            ("telegram_bot", ids["telegram_bot"], str(TELEGRAM_CHAT_ID)),
            ("telegram_bot", ids["telegram_bot"], str(SECOND_GROUP)),
            ("discord_bot", ids["discord_bot"], DISCORD_CHANNEL_ID),
            ("whatsapp_user", ids["whatsapp_user"], WA_GROUP),
        ],
        text="**Launch** is _today_ & <free>",
        buttons=BUTTONS,
    )

    assert await deliver(broadcast_id) == BroadcastStatus.sent, targets_of(broadcast_id)

    telegram = platforms.telegram.calls_to("sendMessage")
    assert sorted(c.params["chat_id"] for c in telegram) == sorted([TELEGRAM_CHAT_ID, SECOND_GROUP])
    for call in telegram:
        assert call.params["parse_mode"] == "HTML"
        assert call.params["text"] == "<b>Launch</b> is <i>today</i> &amp; &lt;free&gt;"
        keyboard = call.params["reply_markup"]["inline_keyboard"]
        assert keyboard == [[{"text": "Read more", "url": "https://example.org/news"}]]
    (discord,) = platforms.discord.calls_to("POST", "/channels/{channel}/messages")
    assert discord.params["channel"] == DISCORD_CHANNEL_ID
    assert discord.json["content"].startswith("**Launch** is _today_")
    (link,) = [c for row in discord.json["components"] for c in row["components"]]
    assert (link["label"], link["url"]) == ("Read more", "https://example.org/news")
    (whatsapp,) = platforms.neonize.send_message.await_args_list
    assert "*Launch* is _today_" in whatsapp.args[1]
    assert "https://example.org/news" in whatsapp.args[1]
    message_ids = {t.platform_chat_id: t.platform_message_id for t in targets_of(broadcast_id)}
    assert message_ids[WA_GROUP] == "3EB0AA"
    assert all(message_ids.values())


async def test_a_telegram_429_is_waited_out_and_the_target_sent(platforms: Platforms) -> None:
    # The connector waits out short 429s itself; the third in a row comes back to the job.
    platforms.telegram.fail_next("sendMessage", retry_after=1, times=3)
    bot = platforms.instances["telegram_bot"]
    broadcast_id = broadcast([("telegram_bot", bot, str(TELEGRAM_CHAT_ID))])

    assert await deliver(broadcast_id) == BroadcastStatus.sent

    (target,) = targets_of(broadcast_id)
    assert (target.status, target.attempts, target.error) == (TargetStatus.sent, 2, None)
    answers = [call.status for call in platforms.telegram.calls_to("sendMessage")]
    assert answers == [429, 429, 429, 200]


async def test_the_fake_telegram_enforces_the_flood_limits() -> None:
    now = [0.0]
    async with FakeTelegramBotAPI() as fake:
        fake.enforce_limits(per_second=30, per_chat_per_minute=20, clock=lambda: now[0])
        url = f"{fake.base_url}/bot{fake.token}/sendMessage"
        async with httpx.AsyncClient() as client:

            async def send(chat_id: int) -> httpx.Response:
                return await client.post(url, json={"chat_id": chat_id, "text": "hi"})

            to_group = [await send(-1) for _ in range(21)]
            to_others = [await send(-100 - i) for i in range(11)]
            now[0] = 1.0  # a second later the bot may send again, the group not yet
            later = [await send(-200), await send(-1)]

    assert [r.status_code for r in to_group] == [200] * 20 + [429]
    assert to_group[-1].json()["parameters"]["retry_after"] == 60
    assert [r.status_code for r in to_others] == [200] * 10 + [429]  # the 31st in a second
    assert to_others[-1].json()["parameters"]["retry_after"] == 1
    assert [r.status_code for r in later] == [200, 429]
    assert fake.rate_limited == 3


# --- scaled: a worker killed in the middle of a broadcast ------------------------------------


def send_deliver(broadcast_id: int) -> None:
    broker = build_broker(get_settings())
    try:
        broker.enqueue(
            dramatiq.Message(
                queue_name=QUEUE,
                actor_name="deliver_broadcast",
                args=(broadcast_id,),
                kwargs={},
                options={},
            )
        )
    finally:
        broker.close()


@pytest.mark.postgres
@pytest.mark.redis
def test_a_killed_worker_is_resumed_and_every_target_gets_it_once(scaled: Scaled) -> None:
    start_pool(scaled, "--delay", "send_message=0.3")
    bot = bot_instance()
    chats = [str(-1_001_000_100_000 - i) for i in range(60)]  # two seconds at 30/s
    broadcast_id = broadcast([("telegram_bot", bot, chat) for chat in chats])
    first = scaled.start_worker()
    send_deliver(broadcast_id)
    wait_until(lambda: len(read_records(scaled.record_file)[1]) >= 10, "some targets sent")
    kill_group(first)
    assert status_of(broadcast_id) == BroadcastStatus.sending

    scaled.start_worker()  # the sweep resumes it once the dead worker's lease ran out
    wait_until(
        lambda: status_of(broadcast_id) != BroadcastStatus.sending, "the broadcast to finish", 90
    )

    assert status_of(broadcast_id) == BroadcastStatus.sent, scaled.logs()
    requests, done = read_records(scaled.record_file)
    per_chat = Counter(call.params["chat_id"] for call in done)
    assert sorted(per_chat) == sorted(chats)
    assert set(per_chat.values()) == {1}
    assert len(requests) > len(done)  # in flight when killed: asked again, not done again
    assert all(t.status == TargetStatus.sent and t.attempts == 1 for t in targets_of(broadcast_id))


async def test_cancel_in_flight_stops_and_retry_sends_only_the_failed(
    platforms: Platforms,
) -> None:
    ids, admin = platforms.instances, make_admin()
    platforms.neonize.send_message.return_value = SendResponse(ID="3EB0AB", Timestamp=1)
    groups = [f"12036302524612{i:04d}@g.us" for i in range(4)]  # one send every 2 s
    cancelled = broadcast([("whatsapp_user", ids["whatsapp_user"], g) for g in groups])
    job = asyncio.create_task(deliver(cancelled))
    while not platforms.neonize.send_message.await_count:
        await asyncio.sleep(0.05)
    with session_scope() as session:
        broadcasts.cancel(session, admin, cancelled)
    assert await asyncio.wait_for(job, 10) == BroadcastStatus.cancelled
    assert statuses(cancelled) == [TargetStatus.sent] + [TargetStatus.cancelled] * 3
    assert platforms.neonize.send_message.await_count == 1

    platforms.telegram.fail_next("sendMessage", 400, description="Bad Request: chat not found")
    chats = [str(TELEGRAM_CHAT_ID), str(SECOND_GROUP)]
    retried = broadcast([("telegram_bot", ids["telegram_bot"], chat) for chat in chats])
    assert await deliver(retried) == BroadcastStatus.partial
    (failed,) = [t for t in targets_of(retried) if t.status == TargetStatus.failed]
    assert failed.error == "Telegram server says - Bad Request: chat not found"
    with session_scope() as session:
        broadcasts.retry_failed(session, admin, retried)
    assert await deliver(retried) == BroadcastStatus.sent

    sends = [c.params["chat_id"] for c in platforms.telegram.calls_to("sendMessage")]
    assert sorted(sends[:2]) == sorted(int(c) for c in chats)
    assert sends[2:] == [int(failed.platform_chat_id)]  # only the failed chat again

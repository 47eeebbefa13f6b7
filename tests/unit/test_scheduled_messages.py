"""Delivery of scheduled messages through the (fake) connector pool."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from engine import events
from engine.models import BotInstance, ScheduledDelivery, ScheduledMessage, ScheduledStatus
from engine.models.connections import ConnectorKind
from engine.nodes.utility import as_utc
from engine.scheduled_messages import LEASE, claim_due, deliver_due_messages, send
from tests.fakes.pool import FakePool
from tests.unit import test_runtime

pool = test_runtime.pool  # the recording fake pool, wired in through the settings
NOW = datetime(2025, 3, 14, 8, 0, tzinfo=UTC)


def scheduled(
    session: Session, kind: ConnectorKind | None = ConnectorKind.telegram_bot, **fields: Any
) -> ScheduledMessage:
    """A pending message due a minute before NOW, sent by a new bot of ``kind``."""
    bot_id = None
    if kind is not None:
        bot = BotInstance(name=f"{kind} bot", kind=kind)
        session.add(bot)
        session.flush()
        bot_id = bot.id
    fields = {"chat_id": "-100", "text": "Good morning", "send_at": NOW - timedelta(minutes=1),
              **fields}  # fmt: skip
    row = ScheduledMessage(bot_instance_id=bot_id, **fields)
    session.add(row)
    session.commit()
    return row


def reloaded(session: Session, row: ScheduledMessage) -> ScheduledMessage:
    session.expire_all()
    fresh = session.get(ScheduledMessage, row.id)
    assert fresh is not None
    return fresh


async def test_a_due_message_is_sent_once_however_often_swept(
    sqlite_session: Session,
    pool: FakePool,
) -> None:
    row = scheduled(sqlite_session)
    later = scheduled(sqlite_session, send_at=NOW + timedelta(minutes=1))

    assert await deliver_due_messages(NOW) == {row.id: None}
    assert await deliver_due_messages(NOW) == {}
    assert await deliver_due_messages(NOW + timedelta(seconds=15)) == {}

    (call,) = pool.requests.calls
    assert (call.kind, call.action, call.instance_id) == (
        "telegram_bot",
        "send_message",
        row.bot_instance_id,
    )
    assert call.params == {"chat_id": "-100", "text": "Good morning", "parse_mode": "HTML"}
    assert call.idempotency_key == f"scheduled:{row.id}:attempt:0"
    sent = reloaded(sqlite_session, row)
    assert sent.status == ScheduledStatus.sent and sent.last_error is None
    assert sent.last_sent_at is not None and as_utc(sent.last_sent_at) == NOW
    assert as_utc(sent.send_at) == NOW - timedelta(minutes=1)
    assert reloaded(sqlite_session, later).status == ScheduledStatus.pending


async def test_markdown_and_media_are_posted_as_each_platform_reads_them(
    sqlite_session: Session,
    pool: FakePool,
) -> None:
    text = "**Call** at _six_"
    scheduled(sqlite_session, ConnectorKind.discord_bot, chat_id="42", text=text,
              media_url="https://x.org/a.png")  # fmt: skip
    scheduled(sqlite_session, chat_id="-7", text=text, media_url="https://x.org/talk.pdf")
    await deliver_due_messages(NOW)

    calls = {(c.kind, c.action): c.params for c in pool.executions.calls}
    assert calls == {
        ("discord_bot", "send_message"): {
            "channel_id": "42",
            "content": "**Call** at _six_",
            "embed": {"image_url": "https://x.org/a.png"},
        },
        ("telegram_bot", "send_document"): {
            "chat_id": "-7",
            "parse_mode": "HTML",
            "document": "https://x.org/talk.pdf",
            "caption": "<b>Call</b> at <i>six</i>",
        },
    }


async def test_each_attempt_is_kept_with_the_platforms_message_id_or_error(
    sqlite_session: Session,
    pool: FakePool,
) -> None:
    sent = scheduled(sqlite_session, ConnectorKind.discord_bot, chat_id="42")
    refused = scheduled(sqlite_session, ConnectorKind.whatsapp_user, chat_id="9@g.us")
    pool.results["send_message"] = {"message_id": "777"}
    pool.fail("send_text", "platform", "not a participant of this group")

    async with events.subscribe("scheduled.*") as bus:
        await deliver_due_messages(NOW)
        topics = {(await asyncio.wait_for(anext(bus), 2)).topic for _ in range(2)}

    assert topics == {f"scheduled.{sent.id}", f"scheduled.{refused.id}"}
    rows = {
        d.scheduled_message_id: (as_utc(d.due_at), d.ok, d.error, d.platform_message_id)
        for d in sqlite_session.exec(select(ScheduledDelivery))
    }
    due = NOW - timedelta(minutes=1)
    assert rows == {
        sent.id: (due, True, None, "777"),
        refused.id: (due, False, "not a participant of this group", None),
    }


async def test_a_repeating_message_is_rescheduled_in_its_time_zone(
    sqlite_session: Session,
    pool: FakePool,
) -> None:
    # Due yesterday at 09:00 Berlin; the worker was down since: sent once, then tomorrow's.
    row = scheduled(
        sqlite_session,
        send_at=datetime(2025, 3, 13, 8, 0, tzinfo=UTC),
        repeat_cron="0 9 * * *",
        timezone="Europe/Berlin",
    )
    await deliver_due_messages(NOW + timedelta(minutes=5))
    again = reloaded(sqlite_session, row)
    assert again.status == ScheduledStatus.pending
    assert as_utc(again.send_at) == datetime(2025, 3, 15, 8, 0, tzinfo=UTC)
    assert again.last_sent_at is not None and as_utc(again.last_sent_at) > NOW

    await deliver_due_messages(NOW + timedelta(minutes=6))
    await deliver_due_messages(datetime(2025, 3, 15, 8, 0, 3, tzinfo=UTC))
    assert [c.idempotency_key for c in pool.executions.calls] == [
        f"scheduled:{row.id}:attempt:0",
        f"scheduled:{row.id}:attempt:1",
    ]
    assert reloaded(sqlite_session, row).status == ScheduledStatus.pending


async def test_a_send_cut_short_by_a_dead_worker_is_retried_with_the_same_key(
    sqlite_session: Session,
    pool: FakePool,
) -> None:
    row = scheduled(sqlite_session)
    (claimed,) = claim_due(NOW)
    await send(claimed)  # the platform got it; then the worker died before recording it

    assert await deliver_due_messages(NOW + LEASE + timedelta(seconds=1)) == {row.id: None}
    assert len(pool.requests.calls) == 2  # asked twice, with one key...
    assert len(pool.executions.calls) == 1  # ...so the pool sent it once
    assert reloaded(sqlite_session, row).status == ScheduledStatus.sent


async def test_a_refusal_marks_a_one_off_message_failed_with_its_reason(
    sqlite_session: Session,
    pool: FakePool,
) -> None:
    refused = scheduled(sqlite_session)
    no_bot = scheduled(sqlite_session, kind=None)
    pool.fail("send_message", "platform", "Bad Request: chat not found")

    outcome = await deliver_due_messages(NOW)

    assert outcome == {
        refused.id: "Bad Request: chat not found",
        no_bot.id: "no bot or account to send it with",
    }
    for row, error in outcome.items():
        failed = reloaded(sqlite_session, sqlite_session.get(ScheduledMessage, row))
        assert (failed.status, failed.last_error) == (ScheduledStatus.failed, error)
        assert as_utc(failed.send_at) == NOW - timedelta(minutes=1)
    assert await deliver_due_messages(NOW) == {}
    assert pool.executions.calls == []


async def test_a_refused_repetition_keeps_the_schedule_and_the_next_time_is_sent(
    sqlite_session: Session,
    pool: FakePool,
) -> None:
    row = scheduled(sqlite_session, send_at=datetime(2025, 3, 14, 9, 0, tzinfo=UTC),
                    repeat_cron="0 9 * * *")  # fmt: skip
    pool.fail("send_message", "platform", "Forbidden: bot was kicked from the group chat")
    await deliver_due_messages(datetime(2025, 3, 14, 9, 0, 1, tzinfo=UTC))

    waiting = reloaded(sqlite_session, row)
    assert (waiting.status, waiting.last_error) == (
        ScheduledStatus.pending,
        "Forbidden: bot was kicked from the group chat",
    )
    assert as_utc(waiting.send_at) == datetime(2025, 3, 15, 9, 0, tzinfo=UTC)
    assert waiting.last_sent_at is None

    assert await deliver_due_messages(datetime(2025, 3, 15, 9, 0, 1, tzinfo=UTC)) == {row.id: None}
    keys = [c.idempotency_key for c in pool.requests.calls]
    assert keys == [f"scheduled:{row.id}:attempt:0", f"scheduled:{row.id}:attempt:1"]
    assert reloaded(sqlite_session, row).last_error is None


async def test_a_message_cancelled_while_sending_stays_cancelled(
    sqlite_session: Session,
    pool: FakePool,
) -> None:
    row = scheduled(sqlite_session)

    def cancel(params: dict[str, Any]) -> dict[str, Any]:
        row.status = ScheduledStatus.cancelled
        sqlite_session.add(row)
        sqlite_session.commit()
        return {"message_id": "1"}

    pool.results["send_message"] = cancel
    await deliver_due_messages(NOW)
    assert reloaded(sqlite_session, row).status == ScheduledStatus.cancelled


async def test_a_pause_while_sending_is_not_undone_by_the_result(
    sqlite_session: Session,
    pool: FakePool,
) -> None:
    row = scheduled(sqlite_session, repeat_cron="0 9 * * *")

    def pause(params: dict[str, Any]) -> dict[str, Any]:
        row.status = ScheduledStatus.paused
        sqlite_session.add(row)
        sqlite_session.commit()
        return {"message_id": "1"}

    pool.results["send_message"] = pause
    await deliver_due_messages(NOW)
    assert reloaded(sqlite_session, row).status == ScheduledStatus.paused
    # Kept paused: later sweeps do not send it, whatever time it holds.
    assert await deliver_due_messages(NOW + LEASE + timedelta(days=2)) == {}
    assert len(pool.executions.calls) == 1
    assert len(sqlite_session.exec(select(ScheduledDelivery)).all()) == 1


async def test_paused_and_cancelled_messages_are_never_sent(
    sqlite_session: Session,
    pool: FakePool,
) -> None:
    scheduled(sqlite_session, status=ScheduledStatus.paused)
    scheduled(sqlite_session, status=ScheduledStatus.cancelled, repeat_cron="* * * * *")
    assert await deliver_due_messages(NOW) == {}
    assert pool.requests.calls == []

"""Delivers scheduled messages (the Scheduled page's, the API's, the ``schedule_message``
node's) from the worker's sweep.

A due row is claimed by a conditional UPDATE that moves its ``send_at`` forward by
``LEASE`` while it is still due: of several workers sweeping at once, exactly one moves
it, and only that one sends. The result then replaces the lease: ``sent``, ``failed``
with the platform's message, or (repeating messages, sent or not) pending at the next
cron time after now, so missed repetitions are not sent in a burst after downtime and one
refusal (the bot briefly removed, a rate limit) does not end a weekly reminder. A worker that
dies while sending leaves the lease to expire, and the message is tried again then.
A paused or cancelled message is never claimed, and a pause or cancel while it is being
sent is not undone by the result (the conditional update finds the lease gone).

The text is Flowbot markdown, posted as each platform reads it with its media
(engine/message_format.py). Every attempt is kept as a ScheduledDelivery row (the due
time, the platform's error or message id), and ``scheduled.<id>`` is published on the bus
so an open Scheduled page shows it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from engine import events, pool_client
from engine.action_errors import ActionError
from engine.db import session_scope, update_row
from engine.message_format import OutgoingMessage, message_calls, render, sent_message_id
from engine.models import BotInstance, ScheduledDelivery, ScheduledMessage, ScheduledStatus
from engine.nodes.utility import as_utc
from engine.platform_calls import CONNECTORS
from engine.services.scheduled_messages import next_runs

# Longer than one pool call may take (120 s read timeout, retried): a lease that ran
# out while its sender still waits would let a second worker send the message too.
LEASE = timedelta(minutes=10)
BATCH = 50  # messages claimed per sweep; the rest wait for the next sweep


@dataclass(frozen=True)
class Claimed:
    """A due message this worker holds the lease of."""

    id: int
    kind: str | None
    instance_id: int | None
    chat_id: str
    text: str
    media_url: str | None
    repeat_cron: str | None
    timezone: str
    due: datetime  # aware UTC: the send_at it was claimed at
    lease: datetime  # the send_at it holds while sending
    # Which attempt this is (the attempts recorded so far): unchanged until an attempt ends,
    # so a retry after a worker died mid-send carries the same idempotency key and the pool
    # does not send it twice, while the next time after a refusal is a new key.
    attempt: int


@dataclass(frozen=True)
class Sent:
    """What one attempt gave: the platform's error, or the id of the message it made."""

    error: str | None = None
    message_id: str | None = None


TOPIC = "scheduled.{id}"


async def deliver_due_messages(now: datetime) -> dict[int, str | None]:
    """Send the messages due at ``now``; each claimed id with its error (None: sent)."""
    now = as_utc(now)
    claimed = claim_due(now)
    results = await asyncio.gather(*(send(message) for message in claimed))
    with session_scope() as session:
        for message, result in zip(claimed, results, strict=True):
            _record(session, message, result, now)
    for message, result in zip(claimed, results, strict=True):
        events.publish(
            TOPIC.format(id=message.id),
            {"scheduled_message_id": message.id, "ok": result.error is None},
        )
    return {m.id: r.error for m, r in zip(claimed, results, strict=True)}


def claim_due(now: datetime) -> list[Claimed]:
    lease = now + LEASE
    claimed: list[Claimed] = []
    with session_scope() as session:
        rows = session.execute(
            sa.select(
                col(ScheduledMessage.id), col(BotInstance.kind),
                col(ScheduledMessage.bot_instance_id).label("instance_id"),
                col(ScheduledMessage.chat_id), col(ScheduledMessage.text),
                col(ScheduledMessage.media_url), col(ScheduledMessage.repeat_cron),
                col(ScheduledMessage.timezone), _attempts_so_far().label("attempt"),
                col(ScheduledMessage.send_at),
            )
            .outerjoin(BotInstance, col(BotInstance.id) == col(ScheduledMessage.bot_instance_id))
            .where(col(ScheduledMessage.status) == ScheduledStatus.pending)
            .where(col(ScheduledMessage.send_at) <= now)
            .order_by(col(ScheduledMessage.send_at), col(ScheduledMessage.id))  # one lock order
            .limit(BATCH)
        ).mappings().all()  # fmt: skip
        for row in rows:
            fields = dict(row)
            send_at = fields.pop("send_at")
            # Still due: a concurrent claim (PostgreSQL re-checks after the row lock) fails.
            due_now = sa.and_(
                col(ScheduledMessage.status) == ScheduledStatus.pending,
                col(ScheduledMessage.send_at) <= now,
            )
            if _update(session, fields["id"], due_now, send_at=lease):
                claimed.append(Claimed(**fields, due=as_utc(send_at), lease=lease))
    return claimed


def _attempts_so_far() -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count(col(ScheduledDelivery.id)))
        .where(col(ScheduledDelivery.scheduled_message_id) == col(ScheduledMessage.id))
        .scalar_subquery()
    )


async def send(message: Claimed) -> Sent:
    """Post the message, each of its calls once per delivery (one idempotency key each)."""
    if message.kind not in CONNECTORS:
        return Sent(error="no bot or account to send it with")
    platform = CONNECTORS[message.kind].platform
    outgoing = OutgoingMessage(text=message.text, media_url=message.media_url)
    calls = message_calls(message.kind, message.chat_id, outgoing, render(message.text, platform))
    key = f"scheduled:{message.id}:attempt:{message.attempt}"
    message_id = None
    try:
        for index, (action, params) in enumerate(calls):
            result = await pool_client.execute(
                message.kind,
                action,
                params,
                instance_id=message.instance_id,
                idempotency_key=f"{key}:{index}" if index else key,
            )
            if index == 0 and isinstance(result, dict):
                message_id = sent_message_id(result)
    except ActionError as exc:
        return Sent(error=exc.message, message_id=message_id)
    return Sent(message_id=message_id)


def _record(session: Session, message: Claimed, sent: Sent, now: datetime) -> None:
    """Keep the attempt; replace the lease with the result, unless the row changed meanwhile
    (paused, cancelled, edited)."""
    error = sent.error
    session.add(
        ScheduledDelivery(
            scheduled_message_id=message.id,
            due_at=message.due,
            ok=error is None,
            error=error,
            platform_message_id=sent.message_id,
        )
    )
    held = sa.and_(
        col(ScheduledMessage.status) == ScheduledStatus.pending,
        col(ScheduledMessage.send_at) == message.lease,
    )
    if message.repeat_cron:
        [after] = next_runs(message.repeat_cron, message.timezone, 1, max(message.due, now))
        sent_now = {"last_sent_at": now} if error is None else {}
        _update(session, message.id, held, last_error=error, send_at=as_utc(after), **sent_now)
    elif error is not None:
        _update(session, message.id, held, status=ScheduledStatus.failed, send_at=message.due,
                last_error=error)  # fmt: skip
    else:
        _update(session, message.id, held, status=ScheduledStatus.sent, send_at=message.due,
                last_sent_at=now, last_error=None)  # fmt: skip


def _update(
    session: Session, row_id: int, condition: sa.ColumnElement[bool], **values: Any
) -> bool:
    return update_row(session, ScheduledMessage, row_id, condition, **values)

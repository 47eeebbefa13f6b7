"""Delivers the messages the ``schedule_message`` node scheduled, from the worker's sweep.

A due row is claimed by a conditional UPDATE that moves its ``send_at`` forward by
``LEASE`` while it is still due: of several workers sweeping at once, exactly one moves
it, and only that one sends. The result then replaces the lease: ``sent``, ``failed``
with the platform's message, or (repeating messages) pending at the next cron time
after now, so missed repetitions are not sent in a burst after downtime. A worker that
dies while sending leaves the lease to expire, and the message is tried again then.

A ``media_url`` is sent as a link on its own line under the text: every platform shows
a preview of it, and no connector needs a separate media action for that.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from croniter import croniter
from sqlmodel import Session, select

from connectors.kit.errors import ActionError
from engine import pool_client
from engine.db import session_scope
from engine.models import BotInstance, ScheduledMessage, ScheduledStatus
from engine.nodes.cross_platform import CONNECTORS, message_call
from engine.nodes.utility import as_utc

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
    # Which delivery this is: unchanged until a send succeeds, so a retry after a worker
    # died mid-send carries the same idempotency key and the pool does not send it twice.
    delivery: str


async def deliver_due_messages(now: datetime) -> dict[int, str | None]:
    """Send the messages due at ``now``; each claimed id with its error (None: sent)."""
    now = as_utc(now)
    claimed = claim_due(now)
    errors = await asyncio.gather(*(send(message) for message in claimed))
    outcome = dict(zip((m.id for m in claimed), errors, strict=True))
    with session_scope() as session:
        for message, error in zip(claimed, errors, strict=True):
            _record(session, message, error, now)
    return outcome


def claim_due(now: datetime) -> list[Claimed]:
    lease = now + LEASE
    claimed: list[Claimed] = []
    with session_scope() as session:
        rows = session.exec(
            select(
                ScheduledMessage.id, BotInstance.kind, ScheduledMessage.bot_instance_id,
                ScheduledMessage.chat_id, ScheduledMessage.text, ScheduledMessage.media_url,
                ScheduledMessage.repeat_cron, ScheduledMessage.timezone,
                ScheduledMessage.last_sent_at, ScheduledMessage.send_at,
            )
            .outerjoin(BotInstance, BotInstance.id == ScheduledMessage.bot_instance_id)
            .where(ScheduledMessage.status == ScheduledStatus.pending)
            .where(ScheduledMessage.send_at <= now)
            .order_by(ScheduledMessage.send_at, ScheduledMessage.id)  # one lock order for all
            .limit(BATCH)
        ).all()  # fmt: skip
        for row in rows:
            # Still due: a concurrent claim (PostgreSQL re-checks after the row lock) fails.
            due_now = sa.and_(
                ScheduledMessage.status == ScheduledStatus.pending, ScheduledMessage.send_at <= now
            )
            if _update(session, row.id, due_now, send_at=lease):
                last_sent = row.last_sent_at
                claimed.append(
                    Claimed(
                        *row[:-2],
                        due=as_utc(row.send_at),
                        lease=lease,
                        delivery=as_utc(last_sent).isoformat() if last_sent else "first",
                    )
                )
    return claimed


async def send(message: Claimed) -> str | None:
    """Post the message; the platform's error message if it did not happen."""
    if message.kind not in CONNECTORS:
        return "no bot or account to send it with"
    text = f"{message.text}\n{message.media_url}" if message.media_url else message.text
    action, params = message_call(message.kind, message.chat_id, text)
    try:
        await pool_client.execute(
            message.kind,
            action,
            params,
            instance_id=message.instance_id,
            idempotency_key=f"scheduled:{message.id}:after:{message.delivery}",
        )
    except ActionError as exc:
        return exc.message
    return None


def next_send(cron: str, timezone: str, after: datetime) -> datetime:
    """The first cron time strictly after ``after``, read in ``timezone``; aware UTC."""
    return as_utc(croniter(cron, after.astimezone(ZoneInfo(timezone))).get_next(datetime))


def _record(session: Session, message: Claimed, error: str | None, now: datetime) -> None:
    """Replace the lease with the result, unless the row changed meanwhile (cancelled)."""
    held = sa.and_(
        ScheduledMessage.status == ScheduledStatus.pending,
        ScheduledMessage.send_at == message.lease,
    )
    if error is not None:
        _update(session, message.id, held, status=ScheduledStatus.failed, send_at=message.due,
                last_error=error)  # fmt: skip
    elif message.repeat_cron:
        after = max(message.due, now)
        _update(session, message.id, held, last_sent_at=now, last_error=None,
                send_at=next_send(message.repeat_cron, message.timezone, after))  # fmt: skip
    else:
        _update(session, message.id, held, status=ScheduledStatus.sent, send_at=message.due,
                last_sent_at=now, last_error=None)  # fmt: skip


def _update(session: Session, row_id: int, condition: sa.ColumnElement[bool], **values) -> bool:
    """One conditional UPDATE of a row; whether it matched."""
    result = session.execute(
        sa.update(ScheduledMessage)
        .where(ScheduledMessage.id == row_id, condition)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1

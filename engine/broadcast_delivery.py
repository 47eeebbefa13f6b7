"""Delivers a sent broadcast to its targets: a durable Dramatiq job, paced per platform.

``start`` sends one ``deliver_broadcast`` message. The job takes the broadcast's lease
with a conditional UPDATE (still sending, lease free or run out), so of two messages or
two workers exactly one delivers; it renews the lease while it works, and each renewal
also tells it whether the broadcast was cancelled meanwhile.

Targets are claimed in chunks (``pending`` → ``sending``, one UPDATE) and handed to the
pool as the limits of :mod:`engine.pacing` allow, each under the idempotency key
:func:`idempotency_key`. A ``sending`` target may already have reached the platform when
its worker died, so a resumed job sends it again under the same key and the pool answers
with the first outcome: the platform sees it once. A 429 (the pool's ``rate_limited``)
blocks the chat, or the account, for ``retry_after`` and the target is tried again; it
never fails for that. Results are written, and progress published on ``TOPIC``, at most
every ``FLUSH_SECONDS`` and once more at the end.

``resume_broadcasts`` (the worker's periodic sweep) starts scheduled broadcasts whose
time came and restarts sending ones whose lease ran out: their worker died, or the
in-process queue of the embedded mode was lost with its process.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dramatiq
import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from engine import events, pool_client
from engine.action_errors import RETRYABLE, ActionError, ErrorKind
from engine.broker import QUEUE, claim_once, get_broker
from engine.db import primary_key, session_scope, update_row
from engine.message_format import (
    LinkButton,
    OutgoingMessage,
    message_calls,
    platform_text,
    render,
)
from engine.message_format import sent_message_id as message_id_of
from engine.models import BroadcastMessage, BroadcastStatus, BroadcastTarget, TargetStatus, utcnow
from engine.pacing import Lane, Pacer
from engine.platform_calls import PLATFORMS
from engine.thread_loop import run_on_thread_loop

log = logging.getLogger(__name__)
broker = get_broker()  # installed globally: the actors below are declared on it

TOPIC = "broadcast.{id}"
# A worker that stops renewing for this long is taken for dead, and another resumes. Short
# is safe: were the holder only slow, both would send under the same keys, once each.
LEASE = timedelta(seconds=10)
# Results are written, the lease renewed and cancellation noticed this often.
FLUSH_SECONDS = 0.25
CHUNK = 200  # targets claimed at once; at most this many wait claimed in memory
# Sends in flight at once: enough to keep every connection at its limit while the pool's
# round trip takes its time (a pool call is tens of milliseconds, a slot 1/50 s at best).
IN_FLIGHT = 64
# The pool is down or the connection stopped: pause the connection, try again a few times.
TRANSIENT_PAUSE = 2.0
TRANSIENT_RETRIES = 3
# The lease, not the time limit, stops a stuck job; a large broadcast takes hours.
JOB_TIME_LIMIT_MS = 24 * 3_600_000
NO_CONNECTION = "no bot or account to send it with"


def idempotency_key(broadcast_id: int, target_id: int, attempts: int) -> str:
    """The pool's key for a target's delivery; a retry of a failed target is a new
    delivery (``attempts`` counts claims), a resumed one is not (same claim)."""
    key = f"broadcast:{broadcast_id}:target:{target_id}"
    return key if attempts <= 1 else f"{key}:attempt:{attempts}"


def start(broadcast_id: int) -> None:
    """Queue the delivery job (after the commit that made the broadcast ``sending``)."""
    deliver_broadcast.send(broadcast_id)


@dramatiq.actor(queue_name=QUEUE, time_limit=JOB_TIME_LIMIT_MS)
def deliver_broadcast(broadcast_id: int) -> None:
    """Deliver (or resume) a broadcast; a second message for it finds the lease held."""
    run_on_thread_loop(deliver(broadcast_id))


@dramatiq.actor(queue_name=QUEUE, max_retries=0, max_age=60_000)
def resume_broadcasts() -> None:
    """Periodic: start the broadcasts that are due or whose worker died."""
    for broadcast_id in due_broadcasts(utcnow()):
        start(broadcast_id)


def due_broadcasts(now: datetime) -> list[int]:
    """Scheduled broadcasts whose time came (moved to ``sending`` here), and sending ones
    that nobody holds; a broadcast is returned at most once per lease period."""
    with session_scope() as session:
        scheduled = session.exec(
            select(primary_key(BroadcastMessage))
            .where(BroadcastMessage.status == BroadcastStatus.scheduled)
            .where(col(BroadcastMessage.scheduled_at) <= now)
        ).all()
        started = [
            broadcast_id
            for broadcast_id in scheduled
            if _update(
                session,
                broadcast_id,
                col(BroadcastMessage.status) == BroadcastStatus.scheduled,
                status=BroadcastStatus.sending,
                started_at=now,
            )
        ]
        unheld = session.exec(
            select(BroadcastMessage.id)
            .where(BroadcastMessage.status == BroadcastStatus.sending)
            .where(
                sa.or_(
                    col(BroadcastMessage.lease_until).is_(None),
                    col(BroadcastMessage.lease_until) < now,
                )
            )
        ).all()
    # A broadcast just started still has no lease while its message waits in the queue.
    lease_ms = int(LEASE.total_seconds() * 1000)
    return [
        broadcast_id
        for broadcast_id in (*started, *unheld)
        if broadcast_id is not None and claim_once(f"broadcast:{broadcast_id}", lease_ms)
    ]


async def deliver(broadcast_id: int) -> BroadcastStatus | None:
    """Deliver the broadcast if this caller gets its lease; its status when done (None:
    someone else holds it, or it is not sending)."""
    lease = _take_lease(broadcast_id)
    if lease is None:
        return None
    job = _Job(broadcast_id, lease, _messages(broadcast_id))
    try:
        return await job.run()
    finally:
        job.release()


def _take_lease(broadcast_id: int) -> datetime | None:
    now = utcnow()
    lease = now + LEASE
    free = sa.and_(
        col(BroadcastMessage.status) == BroadcastStatus.sending,
        sa.or_(
            col(BroadcastMessage.lease_until).is_(None), col(BroadcastMessage.lease_until) < now
        ),
    )
    with session_scope() as session:
        taken = _update(
            session,
            broadcast_id,
            free,
            lease_until=lease,
            started_at=sa.func.coalesce(BroadcastMessage.started_at, now),
        )
    return lease if taken else None


@dataclass(frozen=True)
class _Message:
    """What one platform gets: the message and its text rendered for that platform."""

    outgoing: OutgoingMessage
    text: str


def _messages(broadcast_id: int) -> dict[str, _Message]:
    with session_scope() as session:
        broadcast = session.get(BroadcastMessage, broadcast_id)
        assert broadcast is not None  # the lease was just taken on it
    outgoing = OutgoingMessage(
        text=broadcast.text,
        media_url=broadcast.media_url,
        buttons=tuple(
            tuple(LinkButton(text=b["text"], url=b["url"]) for b in row)
            for row in broadcast.buttons
        ),
    )
    return {
        platform: _Message(
            outgoing, render(platform_text(broadcast.text, broadcast.overrides, platform), platform)
        )
        for platform in PLATFORMS
    }


@dataclass
class _Target:
    id: int
    platform: str
    kind: str
    instance_id: int | None
    chat_id: str
    attempts: int  # as claimed: names the delivery in the idempotency key
    retries: int = 0  # 429s and outages waited out on the way


@dataclass
class _Result:
    target_id: int
    status: TargetStatus
    attempts: int
    error: str | None = None
    message_id: str | None = None
    sent_at: datetime | None = None


@dataclass
class _Job:
    """One worker's hold on one broadcast, from taking the lease to letting it go."""

    broadcast_id: int
    lease: datetime | None
    messages: dict[str, _Message]
    pacer: Pacer = field(default_factory=Pacer)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False
    results: list[_Result] = field(default_factory=list)
    unsent: dict[int, _Target] = field(default_factory=dict)  # claimed, not yet in the pool

    async def run(self) -> BroadcastStatus | None:
        queue: asyncio.Queue[_Target | None] = asyncio.Queue(maxsize=CHUNK)
        senders = [asyncio.create_task(self._sender(queue)) for _ in range(IN_FLIGHT)]
        ticker = asyncio.create_task(self._tick())
        try:
            for target in await self._claimed(TargetStatus.sending):  # in flight at a death
                await queue.put(target)
            while not self.stopped.is_set() and (
                chunk := await self._claimed(TargetStatus.pending)
            ):
                for target in chunk:
                    await queue.put(target)
            for _ in senders:
                await queue.put(None)
            await asyncio.gather(*senders)
        finally:
            ticker.cancel()
        await self._flush()
        if self.lease is None:
            return None
        if self.cancelled:
            self._abandon_unsent()
            return BroadcastStatus.cancelled
        return self._finish()

    # -- claiming and sending --------------------------------------------------------------

    async def _claimed(self, status: TargetStatus) -> list[_Target]:
        """:meth:`_claim` off the event loop, which keeps pacing the sends meanwhile."""
        targets = await asyncio.to_thread(self._claim, status)
        self.unsent.update((target.id, target) for target in targets)
        return targets

    def _claim(self, status: TargetStatus) -> list[_Target]:
        """Resumed ``sending`` targets (as they are), or a chunk of pending ones, now
        ``sending`` with one more attempt."""
        with session_scope() as session:
            query = (
                select(BroadcastTarget)
                .where(BroadcastTarget.broadcast_id == self.broadcast_id)
                .where(BroadcastTarget.status == status)
                .order_by(col(BroadcastTarget.id))
            )
            rows = session.exec(
                query if status == TargetStatus.sending else query.limit(CHUNK)
            ).all()
            if status == TargetStatus.pending and rows:
                session.execute(
                    sa.update(BroadcastTarget)
                    .where(col(BroadcastTarget.id).in_([row.id for row in rows]))
                    .where(col(BroadcastTarget.status) == TargetStatus.pending)
                    .values(status=TargetStatus.sending, attempts=BroadcastTarget.attempts + 1)
                    .execution_options(synchronize_session=False)
                )
            bump = 1 if status == TargetStatus.pending else 0
            targets = [
                _Target(row.id, str(row.platform), row.connector_kind, row.bot_instance_id,
                        row.platform_chat_id, row.attempts + bump)
                for row in rows
                if row.id is not None
            ]  # fmt: skip
        return targets

    async def _sender(self, queue: asyncio.Queue[_Target | None]) -> None:
        while (target := await queue.get()) is not None:
            if not self.stopped.is_set():
                await self._send(target)

    async def _send(self, target: _Target) -> None:
        message = self.messages[target.platform]
        if target.instance_id is None:
            return self._done(target, TargetStatus.failed, error=NO_CONNECTION)
        try:
            calls = message_calls(target.kind, target.chat_id, message.outgoing, message.text)
        except ValueError as exc:
            return self._done(target, TargetStatus.failed, error=str(exc))
        lane = Lane.of(target.kind, target.instance_id, target.chat_id)
        key = idempotency_key(self.broadcast_id, target.id, target.attempts)
        first: dict[str, Any] = {}
        part = 0
        while part < len(calls):
            if not await self._paced(lane, before_first=part == 0):
                return None  # stopped before it went out: left to the next holder or cancelled
            self.unsent.pop(target.id, None)
            action, params = calls[part]
            try:
                result = await pool_client.execute(
                    target.kind, action, params, instance_id=target.instance_id,
                    idempotency_key=key if part == 0 else f"{key}:part:{part}",
                )  # fmt: skip
            except ActionError as exc:
                if not self._wait_out(exc, lane, target):
                    return self._done(target, TargetStatus.failed, error=exc.message)
                continue
            first = first or result
            part += 1
        return self._done(target, TargetStatus.sent, message_id=message_id_of(first))

    async def _paced(self, lane: Lane, *, before_first: bool) -> bool:
        """Wait for the pacer; False if the job stopped first (only before the first part:
        a message half posted is finished)."""
        if not before_first:
            await self.pacer.acquire(lane)
            return True
        paced = asyncio.ensure_future(self.pacer.acquire(lane))
        stopped = asyncio.ensure_future(self.stopped.wait())
        await asyncio.wait({paced, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if self.stopped.is_set():
            paced.cancel()
            return False
        return True

    def _wait_out(self, exc: ActionError, lane: Lane, target: _Target) -> bool:
        """Whether the error is one to wait out and try again (the pacer now holds back)."""
        if exc.kind is ErrorKind.rate_limited:
            self.pacer.block(lane, exc.retry_after or 1.0)
        elif exc.kind in RETRYABLE and target.retries < TRANSIENT_RETRIES:
            self.pacer.block_connection(lane, TRANSIENT_PAUSE)
        else:
            return False
        target.retries += 1
        return True

    def _done(self, target: _Target, status: TargetStatus, *, error: str | None = None,
              message_id: str | None = None) -> None:  # fmt: skip
        self.unsent.pop(target.id, None)
        sent_at = utcnow() if status == TargetStatus.sent else None
        attempts = target.attempts + target.retries
        self.results.append(_Result(target.id, status, attempts, error, message_id, sent_at))

    # -- lease, results, progress ----------------------------------------------------------

    async def _tick(self) -> None:
        while not self.stopped.is_set():
            await asyncio.sleep(FLUSH_SECONDS)
            await self._flush()

    async def _flush(self) -> None:
        """Write the results so far, renew the lease, and publish progress if it moved, off
        the event loop; stop when the broadcast was cancelled or the lease lost."""
        results, self.results = self.results, []
        renew = self.lease is not None and not self.stopped.is_set()
        if not await asyncio.to_thread(self._write, results, renew=renew):
            self.stopped.set()

    def _write(self, results: list[_Result], *, renew: bool) -> bool:
        """Whether the lease is still held (or was not to be renewed)."""
        held = True
        with session_scope() as session:
            if results:
                session.execute(
                    sa.update(BroadcastTarget),
                    [
                        {"id": r.target_id, "status": r.status, "attempts": r.attempts,
                         "error": r.error, "platform_message_id": r.message_id,
                         "sent_at": r.sent_at, "updated_at": utcnow()}
                        for r in results
                    ],
                )  # fmt: skip
            if renew:
                held = self._renew(session)
        if results:
            self.publish()
        return held

    def _renew(self, session: Session) -> bool:
        lease = utcnow() + LEASE
        held = sa.and_(
            col(BroadcastMessage.status) == BroadcastStatus.sending,
            col(BroadcastMessage.lease_until) == self.lease,
        )
        if _update(session, self.broadcast_id, held, lease_until=lease):
            self.lease = lease
            return True
        status = session.exec(
            select(BroadcastMessage.status).where(BroadcastMessage.id == self.broadcast_id)
        ).first()
        self.cancelled = status == BroadcastStatus.cancelled
        if not self.cancelled:
            log.warning("broadcast %s: lease lost to another worker", self.broadcast_id)
            self.lease = None
        return False

    def _abandon_unsent(self) -> None:
        """Cancelled: the targets claimed here that never reached the pool did not go out."""
        ids = list(self.unsent)
        with session_scope() as session:
            session.execute(
                sa.update(BroadcastTarget)
                .where(col(BroadcastTarget.id).in_(ids))
                .where(col(BroadcastTarget.status) == TargetStatus.sending)
                .values(status=TargetStatus.cancelled, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            self._release(session)
        self.publish()

    def _finish(self) -> BroadcastStatus | None:
        """Every target has its result: the broadcast is sent, partial or failed."""
        with session_scope() as session:
            status = final_status(target_counts(session, self.broadcast_id))
            held = sa.and_(
                col(BroadcastMessage.status) == BroadcastStatus.sending,
                col(BroadcastMessage.lease_until) == self.lease,
            )
            finished = _update(
                session, self.broadcast_id, held, status=status, finished_at=utcnow(),
                lease_until=None, updated_at=utcnow(),
            )  # fmt: skip
        self.lease = None
        self.publish()
        return status if finished else None

    def release(self) -> None:
        """Let the lease go (when the job ends in an error, another can take over at once)."""
        if self.lease is not None:
            with session_scope() as session:
                self._release(session)

    def _release(self, session: Session) -> None:
        held = col(BroadcastMessage.lease_until) == self.lease
        _update(session, self.broadcast_id, held, lease_until=None)
        self.lease = None

    def publish(self) -> None:
        with session_scope() as session:
            counts = target_counts(session, self.broadcast_id)
            found = session.get(BroadcastMessage, self.broadcast_id)
            status = found.status if found is not None else None
        events.publish(
            TOPIC.format(id=self.broadcast_id), progress_payload(self.broadcast_id, status, counts)
        )


def target_counts(session: Session, broadcast_id: int) -> dict[TargetStatus, int]:
    rows = session.exec(
        select(BroadcastTarget.status, func.count())
        .where(BroadcastTarget.broadcast_id == broadcast_id)
        .group_by(BroadcastTarget.status)
    ).all()
    counts = dict.fromkeys(TargetStatus, 0)
    counts.update({TargetStatus(status): count for status, count in rows})
    return counts


def progress_payload(
    broadcast_id: int, status: BroadcastStatus | None, counts: dict[TargetStatus, int]
) -> dict[str, Any]:
    return {
        "broadcast_id": broadcast_id,
        "status": str(status) if status else None,
        "total": sum(counts.values()),
        "sent": counts[TargetStatus.sent],
        "failed": counts[TargetStatus.failed],
        "pending": counts[TargetStatus.pending] + counts[TargetStatus.sending],
        "cancelled": counts[TargetStatus.cancelled],
    }


def final_status(counts: dict[TargetStatus, int]) -> BroadcastStatus:
    """Sent when nothing failed, failed when nothing was sent, partial in between."""
    if not counts[TargetStatus.failed]:
        return BroadcastStatus.sent
    if not counts[TargetStatus.sent]:
        return BroadcastStatus.failed
    return BroadcastStatus.partial


def _update(
    session: Session, broadcast_id: int, condition: sa.ColumnElement[bool], **values: Any
) -> bool:
    return update_row(session, BroadcastMessage, broadcast_id, condition, **values)

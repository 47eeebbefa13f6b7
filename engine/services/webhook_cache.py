"""The webhook receiver's copy of the endpoints, by token, and of the runnable flows'
published versions, so a call reads neither row every time (issue 15).

A commit that changed an endpoint or a flow through a session (the webhook service,
publishing, pausing or deleting a flow) announces it on the bus topic :data:`TOPIC` once
committed; every process that caches follows that topic and forgets all it holds. The bus
is best effort, so an entry is also dropped after :data:`MAX_AGE_SECONDS`. Only a runnable
flow's version is kept: a paused or unpublished flow is read on every call. What the
receiver does with an endpoint (signature, idempotency) is still checked in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from engine import events
from engine.db import session_scope
from engine.models import FlowDefinition, WebhookEndpoint
from engine.settings import get_settings

TOPIC = "webhooks.changed"
MAX_AGE_SECONDS = 5.0
RETRY_SECONDS = 1.0  # between attempts to follow the bus while it is down
MAX_ENTRIES = 4096  # past this, all are forgotten: unknown tokens are never kept anyway
_CHANGED = "flowbot_webhooks_changed"  # the session.info flag between flush and commit

log = logging.getLogger(__name__)


@dataclass
class _Cache:
    # (database, "endpoint", token) or (database, "flow", flow id): (read at, what was read)
    entries: dict[tuple[str, str, str | int], tuple[float, Any]] = field(default_factory=dict)
    generation: int = 0  # grows with each forgetting: a read that spans one is not kept
    loop: asyncio.AbstractEventLoop | None = None
    follower: asyncio.Task[None] | None = None
    subscription: events.Subscription | None = None
    retry_at: float = 0.0  # after a failed subscription, when to try again

    def forget(self) -> None:
        self.entries.clear()
        self.generation += 1


_cache = _Cache()


async def endpoint(token: str) -> WebhookEndpoint | None:
    """The endpoint with this token (detached from its session), or None. While the bus
    cannot be followed (Redis down), every call reads the row, as without a cache."""
    found: WebhookEndpoint | None = await _kept("endpoint", token, partial(_read, token))
    return found


async def runnable_version(flow_id: int, check: Callable[[Session, int], int]) -> int:
    """The flow's published version if it is runnable, by ``check(session, flow_id)``
    (engine/services/executions.py ``runnable_version``, which raises when it is not: that
    is never kept, so a paused flow is read again on each call)."""
    version: int = await _kept("flow", flow_id, partial(_in_session, check, flow_id))
    return version


async def _kept(kind: str, name: str | int, read: Callable[[], Any]) -> Any:
    """What ``read()`` returns (in a worker thread), kept when not None and not spanning a
    forgetting."""
    if not await _following():
        return await asyncio.to_thread(read)
    key = (get_settings().effective_database_url, kind, name)
    now = time.monotonic()
    kept = _cache.entries.get(key)
    if kept is not None and now - kept[0] < MAX_AGE_SECONDS:
        return kept[1]
    generation = _cache.generation
    found = await asyncio.to_thread(read)
    if found is not None and generation == _cache.generation:
        if len(_cache.entries) >= MAX_ENTRIES:
            _cache.forget()
        _cache.entries[key] = (now, found)
    return found


def _read(token: str) -> WebhookEndpoint | None:
    with session_scope() as session:
        return session.exec(select(WebhookEndpoint).where(WebhookEndpoint.token == token)).first()


def _in_session(check: Callable[[Session, int], int], flow_id: int) -> int:
    with session_scope() as session:
        return check(session, flow_id)


async def _following() -> bool:
    """Whether this event loop follows :data:`TOPIC`, subscribing (again) if the last
    follower stopped or belonged to another loop; nothing is kept until it does."""
    loop = asyncio.get_running_loop()
    if _cache.loop is loop and _cache.follower is not None and not _cache.follower.done():
        return True
    if time.monotonic() < _cache.retry_at:
        return False
    try:
        await _follow_changes(loop)
    except Exception:  # the bus is down: no caching until it is back
        log.debug("webhook endpoints not cached: the bus cannot be followed", exc_info=True)
        _cache.retry_at = time.monotonic() + RETRY_SECONDS
        return False
    return True


async def _follow_changes(loop: asyncio.AbstractEventLoop) -> None:
    _cache.forget()
    previous, _cache.subscription, _cache.loop = _cache.subscription, None, loop
    if previous is not None:
        with contextlib.suppress(Exception):  # its loop may be gone (tests start new ones)
            await previous.close()
    subscription = events.subscribe(TOPIC)
    try:
        await asyncio.wait_for(subscription.started(), timeout=2)
    except BaseException:
        await subscription.close()
        raise
    if _cache.follower is not None and _cache.loop is loop and not _cache.follower.done():
        await subscription.close()  # another call of this loop subscribed meanwhile
        return
    _cache.forget()
    _cache.subscription = subscription
    _cache.follower = loop.create_task(_forget_on_change(subscription))


async def _forget_on_change(subscription: events.Subscription) -> None:
    try:
        async for _event in subscription:
            _cache.forget()
    except Exception:  # the bus went away; the next call subscribes again
        log.debug("stopped following webhook endpoint changes", exc_info=True)
    finally:
        _cache.forget()  # not following any more: keep nothing


@sa.event.listens_for(Session, "after_flush")
def _note_change(session: Session, _context: object) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(row, WebhookEndpoint | FlowDefinition) for row in changed):
        session.info[_CHANGED] = True


@sa.event.listens_for(Session, "after_commit")
def _announce_change(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        _cache.forget()  # this process at once; the others when the bus tells them
        events.publish(TOPIC, {})


@sa.event.listens_for(Session, "after_rollback")
def _drop_change(session: Session) -> None:
    session.info.pop(_CHANGED, None)

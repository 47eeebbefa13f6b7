"""Execution status on the event bus, for ends decided outside the run itself.

The runtime publishes its own steps; its status, and those timeouts, cancellations and
community automation traces decide, are announced here in one shape, so live watchers
(editor, debugger, SSE) need not know who ended an execution.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from datetime import datetime
from threading import Lock
from typing import Any
from weakref import WeakKeyDictionary

from engine import events
from engine.execution_store import TERMINAL, StepRecord
from engine.models import ExecutionStatus

log = logging.getLogger(__name__)

# The executions whose end this process announced lately, newest last: a waiter that
# subscribed after the end still learns of it without reading the row.
_ENDED_HERE_KEPT = 10_000
_ended_here: OrderedDict[int, None] = OrderedDict()
_ended_lock = Lock()


# Callers waiting for an end (engine/services/executions.py ``wait_for_finish``), by
# execution: futures woken by this process's own announcement, or by the one bus
# subscription per event loop that follows every end (``follow_ends``, scaled mode).
_waiting: dict[int, list[asyncio.Future[None]]] = {}


def ended_here(execution_id: int) -> bool:
    """Whether this process announced the execution's end (lately)."""
    with _ended_lock:
        return execution_id in _ended_here


def expect_end(execution_id: int, *, announced_counts: bool = True) -> asyncio.Future[None]:
    """A future of the running loop done once the execution's end is announced here or on
    a followed bus; already done when this process announced it lately (unless not
    ``announced_counts``). Give it back with :func:`forget_end`."""
    future = asyncio.get_running_loop().create_future()
    with _ended_lock:
        if announced_counts and execution_id in _ended_here:
            future.set_result(None)
        else:
            _waiting.setdefault(execution_id, []).append(future)
    return future


def forget_end(execution_id: int, future: asyncio.Future[None]) -> None:
    """Stop expecting: the waiter is done (or gone)."""
    with _ended_lock:
        futures = _waiting.get(execution_id)
        if futures is not None and future in futures:
            futures.remove(future)
            if not futures:
                del _waiting[execution_id]


def _wake(execution_id: int) -> None:
    """Wake whoever waits for this end, from any thread."""
    with _ended_lock:
        futures = _waiting.pop(execution_id, ())
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:  # a worker thread
        running = None
    for future in futures:
        loop = future.get_loop()
        if loop is running:  # the follower, on the waiter's own loop: no wake-up needed
            _resolve(future)
            continue
        with contextlib.suppress(RuntimeError):  # that loop is closed: its waiter is gone
            loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _announces_end(payload: dict[str, Any]) -> bool:
    return payload.get("type") == "execution" and payload.get("status") in TERMINAL


class _EndFollower:
    """One subscription to every ``ended.*`` topic for the waiters of one event loop,
    instead of one per waiting call (scaled, each was a new Redis connection)."""

    def __init__(self) -> None:
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Read here too: a start that failed after its waiters gave up is not "unretrieved".
        self.ready.add_done_callback(lambda ready: ready.cancelled() or ready.exception())
        self.task = asyncio.create_task(self._follow(), name="flowbot-end-follower")

    async def _follow(self) -> None:
        subscription = events.subscribe(ENDED_TOPICS)
        try:
            await subscription.started()
            self.ready.set_result(None)
            async for event in subscription:
                if _announces_end(event.payload):
                    _wake(int(event.payload["execution_id"]))
        except Exception as exc:  # Redis went away: the next waiter subscribes again
            if not self.ready.done():
                self.ready.set_exception(exc)
            else:
                log.warning("stopped following execution ends: %s", exc)
        finally:
            await subscription.close()


_followers: WeakKeyDictionary[asyncio.AbstractEventLoop, _EndFollower] = WeakKeyDictionary()


async def follow_ends(timeout: float) -> None:
    """Make sure ends announced by other processes reach this loop's waiters: returns
    once the shared subscription is confirmed; raises what kept it from starting (within
    ``timeout`` seconds, else TimeoutError)."""
    loop = asyncio.get_running_loop()
    follower = _followers.get(loop)
    if follower is None or follower.task.done():
        follower = _followers[loop] = _EndFollower()
    async with asyncio.timeout(timeout):
        await asyncio.shield(follower.ready)


ENDED_TOPICS = "ended.*"
"""Every execution's end topic (:func:`ended_topic`)."""


def ended_topic(execution_id: int) -> str:
    """Where an execution's end alone is announced: one waiting for it
    (engine/services/executions.py ``wait_for_finish``) wakes once, not at every step."""
    return f"ended.{execution_id}"


def announce_status(
    execution_id: int,
    flow_id: int,
    status: ExecutionStatus,
    error: str | None,
    resume_at: datetime | None = None,
    *,
    before: list[events.Outgoing] | None = None,
) -> None:
    """Tell live watchers of a status (the run's own, or one decided outside it);
    ``before``: events published ahead of it, handed to the bus together (a run's steps
    held until its end)."""
    payload = {
        "execution_id": execution_id,
        "flow_id": flow_id,
        "type": "execution",
        "status": str(status),
        "error": error,
        "resume_at": resume_at.isoformat() if resume_at else None,
    }
    outgoing = before or []
    outgoing.append((f"execution.{execution_id}", payload, (f"flow.{flow_id}",)))
    if status in TERMINAL:
        with _ended_lock:
            _ended_here[execution_id] = None
            if len(_ended_here) > _ENDED_HERE_KEPT:
                _ended_here.popitem(last=False)
        outgoing.append((ended_topic(execution_id), payload, ()))
    events.publish_all(outgoing)
    if status in TERMINAL:
        _wake(execution_id)


def step_event(
    execution_id: int,
    flow_id: int,
    record: StepRecord,
    node_id: str,
    node_type: str,
    duration_ms: float | None,
) -> events.Outgoing:
    """A step's event, on its execution's and its flow's topics: what the editor, the
    debugger and SSE follow, for flow nodes and community rules alike."""
    payload = {
        "execution_id": execution_id,
        "flow_id": flow_id,
        "type": "step",
        "seq": record.seq,
        "step_key": record.step_key,
        "node_id": node_id,
        "node_type": node_type,
        "status": str(record.status),
        "handle": record.handle,
        "error": record.error,
        "duration_ms": duration_ms,
    }
    return f"execution.{execution_id}", payload, (f"flow.{flow_id}",)

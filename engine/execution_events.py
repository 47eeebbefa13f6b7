"""Execution status on the event bus, for ends decided outside the run itself.

The runtime publishes its own steps; its status, and those timeouts, cancellations and
community automation traces decide, are announced here in one shape, so live watchers
(editor, debugger, SSE) need not know who ended an execution.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from threading import Lock

from engine import events
from engine.execution_store import TERMINAL
from engine.models import ExecutionStatus

# The executions whose end this process announced lately, newest last: a waiter that
# subscribed after the end still learns of it without reading the row.
_ENDED_HERE_KEPT = 10_000
_ended_here: OrderedDict[int, None] = OrderedDict()
_ended_lock = Lock()


def ended_here(execution_id: int) -> bool:
    """Whether this process announced the execution's end (lately)."""
    with _ended_lock:
        return execution_id in _ended_here


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
) -> None:
    """Tell live watchers of a status (the run's own, or one decided outside it)."""
    payload = {
        "execution_id": execution_id,
        "flow_id": flow_id,
        "type": "execution",
        "status": str(status),
        "error": error,
        "resume_at": resume_at.isoformat() if resume_at else None,
    }
    events.publish(f"execution.{execution_id}", payload)
    events.publish(f"flow.{flow_id}", payload)
    if status in TERMINAL:
        with _ended_lock:
            _ended_here[execution_id] = None
            if len(_ended_here) > _ENDED_HERE_KEPT:
                _ended_here.popitem(last=False)
        events.publish(ended_topic(execution_id), payload)

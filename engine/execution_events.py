"""Execution status on the event bus, for ends decided outside the run itself.

The runtime publishes its own steps and status; timeouts, cancellations and community
automation traces announce theirs here, in the same shape, so live watchers (editor,
debugger, SSE) need not know who ended an execution.
"""

from __future__ import annotations

from engine import events
from engine.models import ExecutionStatus


def announce_status(
    execution_id: int, flow_id: int, status: ExecutionStatus, error: str | None
) -> None:
    """Tell live watchers of a status decided outside the run."""
    payload = {
        "execution_id": execution_id,
        "flow_id": flow_id,
        "type": "execution",
        "status": str(status),
        "error": error,
        "resume_at": None,
    }
    events.publish(f"execution.{execution_id}", payload)
    events.publish(f"flow.{flow_id}", payload)

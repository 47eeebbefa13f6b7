"""Re-run an execution from one of its nodes, with the inputs it recorded.

The executor replays any step already recorded as succeeded (see engine/runtime.py), so
a re-run is a new execution of the same version and trigger, seeded with copies of the
succeeded steps that ran before the chosen node: those are replayed with their recorded
outputs (and the variables they set), and the chosen node and everything after it run
again for real.

Secrets are redacted in recorded traces, but a re-run never runs on the redaction marker:
the trigger and the copied outputs carry their masked values sealed (engine/redaction.py),
so the new execution unseals and uses the real ones. If they cannot be unsealed (the
secret key changed), the re-run fails with that reason instead of sending "[redacted]".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx
from sqlmodel import Session, col, select

from engine.broker import send_execution
from engine.db import saved_id, session_scope
from engine.execution_store import create_execution
from engine.graph import RUN_FLOW_TYPE, build_graph
from engine.models import (
    AdminUser,
    FlowDefinition,
    FlowExecution,
    FlowExecutionStep,
    FlowVersion,
    Role,
    StepStatus,
)
from engine.nodes import REGISTRY
from engine.nodes.base import PLATFORM_LABELS
from engine.services import audit
from engine.services.auth import require_role
from engine.services.errors import NotFound


class RerunError(ValueError):
    """The re-run cannot start, with a message fit to show the user."""


class RerunSourceMissing(RerunError, NotFound):
    """The execution to re-run does not exist (the API answers 404)."""


def repeated_actions(graph: Mapping[str, Any], node_id: str) -> list[str]:
    """What a re-run from ``node_id`` may do again outside Flowbot, one line per node
    ("Telegram bot: Send message (send_reply)"): the node itself and every node after it,
    on any branch, that acts on a platform or elsewhere, or starts another flow. A person
    asked to confirm a re-run must see which real messages it can send twice."""
    flow = build_graph(graph, REGISTRY).graph
    if node_id not in flow:
        return []
    lines = []
    for node in nx.bfs_tree(flow, node_id):  # breadth-first as the executor walks, each once
        node_type = flow.nodes[node].get("node_type")
        if node_type is None:
            continue
        if node_type.external_effects or node_type.id == RUN_FLOW_TYPE:
            platform = PLATFORM_LABELS.get(str(node_type.platform), str(node_type.platform))
            lines.append(f"{platform}: {node_type.label} ({node})")
    return lines


def rerun_preview(session: Session, actor: AdminUser, execution_id: int, node_id: str) -> list[str]:
    """The actions a re-run of the execution from ``node_id`` may repeat, from the graph
    of the version that ran (what the re-run will run)."""
    require_role(actor, Role.viewer)
    source = session.get(FlowExecution, execution_id)
    if source is None:
        raise RerunSourceMissing(f"Execution {execution_id} does not exist.")
    version = session.get(FlowVersion, source.version_id) if source.version_id else None
    return repeated_actions(version.graph if version else {}, node_id)


def seed_rerun(session: Session, actor: AdminUser, execution_id: int, node_id: str) -> int:
    """Create (not start) the new execution; returns its id."""
    require_role(actor, Role.editor)
    source = session.get(FlowExecution, execution_id)
    if source is None:
        raise RerunSourceMissing(f"Execution {execution_id} does not exist.")
    flow = session.get(FlowDefinition, source.flow_id)
    if flow is not None and flow.system_kind is not None:
        raise RerunError(
            f"Execution {execution_id} is a built-in run of {flow.name!r}: rules act on "
            "events as they happen and are not re-run."
        )
    steps = list(
        session.exec(
            select(FlowExecutionStep)
            .where(FlowExecutionStep.execution_id == execution_id)
            .order_by(col(FlowExecutionStep.seq).asc())
        ).all()
    )
    target = next((step for step in steps if step.node_id == node_id), None)
    if target is None:
        raise RerunError(f"Node {node_id!r} did not run in execution {execution_id}.")
    execution = create_execution(
        session,
        source.flow_id,
        dict(source.trigger_data or {}),
        trigger_type=source.trigger_type,
        version_id=source.version_id,
    )
    session.flush()
    kept = [s for s in steps if s.seq < target.seq and s.status == StepStatus.succeeded]
    execution.step_count = len(kept)  # tells the run's load that replayed steps are there
    for seq, step in enumerate(kept, start=1):
        session.add(
            FlowExecutionStep(
                execution_id=saved_id(execution),
                seq=seq,
                step_key=step.step_key,
                node_id=step.node_id,
                node_type=step.node_type,
                status=step.status,
                input=step.input,
                output=step.output,
                handle=step.handle,
                started_at=step.started_at,
                duration_ms=step.duration_ms,
            )
        )
    audit.record(
        session,
        actor.username,
        "execution_rerun",
        target_type="execution",
        target_id=execution.id,
        source=execution_id,
        node=node_id,
    )
    session.flush()
    assert execution.id is not None
    return execution.id


def start_rerun(session: Session, actor: AdminUser, execution_id: int, node_id: str) -> int:
    """Seed the re-run and send it to the workers inside the caller's transaction, as
    engine.services.executions.launch does: a broker outage rolls the seed back, so the
    caller may retry without a second re-run being left behind."""
    new_id = seed_rerun(session, actor, execution_id, node_id)
    send_execution(new_id)
    return new_id


def rerun_from_node(actor_id: int, execution_id: int, node_id: str) -> int:
    """The debugger's re-run, as the account with ``actor_id``."""
    with session_scope() as session:
        actor = session.get(AdminUser, actor_id)
        if actor is None:
            raise RerunError("Your account no longer exists.")
        return start_rerun(session, actor, execution_id, node_id)

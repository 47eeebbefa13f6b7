"""Flow definitions: create, save drafts without losing concurrent edits, publish, pause.

The editor, the REST API and the tests all change flows through these functions, so the
rules (validation before publishing, role checks, optimistic concurrency, audit) hold
everywhere.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from engine.graph import ValidatedFlow, build_graph
from engine.models import AdminUser, FlowDefinition, FlowStatus, FlowVersion, Role, utcnow
from engine.nodes import REGISTRY
from engine.services import audit
from engine.services.auth import require_role

EMPTY_GRAPH: dict[str, Any] = {"nodes": [], "edges": []}


class FlowError(ValueError):
    """A flow operation refused, with a message fit to show the user."""


class StaleRevision(FlowError):
    """Someone else saved the flow since this copy was loaded."""


def validate(session: Session, graph: dict[str, Any]) -> ValidatedFlow:
    """Validate a graph against the node registry and the flows that exist."""
    return build_graph(
        graph, REGISTRY, flow_exists=lambda fid: session.get(FlowDefinition, fid) is not None
    )


def _trigger_type(graph: dict[str, Any]) -> str | None:
    for node in graph.get("nodes", []):
        if node.get("type") in REGISTRY and REGISTRY.get(node["type"]).category == "trigger":
            return node["type"]
    return None


def create_flow(
    session: Session,
    actor: AdminUser,
    name: str,
    *,
    graph: dict[str, Any] | None = None,
    folder_id: int | None = None,
    description: str = "",
) -> FlowDefinition:
    require_role(actor, Role.editor)
    if not name.strip():
        raise FlowError("A flow needs a name.")
    graph = graph or dict(EMPTY_GRAPH)
    flow = FlowDefinition(
        name=name.strip(),
        description=description,
        folder_id=folder_id,
        graph=graph,
        trigger_type=_trigger_type(graph),
        created_by=actor.username,
    )
    session.add(flow)
    session.flush()
    audit.record(session, actor.username, "flow_created", target_type="flow", target_id=flow.id)
    return flow


def save_draft(
    session: Session,
    actor: AdminUser,
    flow_id: int,
    graph: dict[str, Any],
    expected_revision: int | None = None,
) -> FlowDefinition:
    """Save the draft graph; with ``expected_revision`` a concurrent save is refused, not lost.

    The update is one conditional UPDATE, so two savers racing on PostgreSQL or SQLite
    cannot both win.
    """
    require_role(actor, Role.editor)
    conditions = [FlowDefinition.id == flow_id]
    if expected_revision is not None:
        conditions.append(FlowDefinition.revision == expected_revision)
    result = session.exec(
        sa.update(FlowDefinition)
        .where(*conditions)
        .values(
            graph=graph,
            trigger_type=_trigger_type(graph),
            revision=FlowDefinition.revision + 1,
            updated_at=utcnow(),
        )
    )
    if result.rowcount == 0:
        if session.get(FlowDefinition, flow_id) is None:
            raise FlowError(f"Flow {flow_id} does not exist.")
        raise StaleRevision("Someone else saved this flow meanwhile; reload to merge.")
    flow = session.get(FlowDefinition, flow_id)
    session.refresh(flow)
    return flow


def publish(session: Session, actor: AdminUser, flow_id: int, note: str = "") -> FlowVersion:
    """Freeze the draft as the next version; refused while the graph has errors."""
    require_role(actor, Role.editor)
    flow = session.get(FlowDefinition, flow_id)
    if flow is None:
        raise FlowError(f"Flow {flow_id} does not exist.")
    checked = validate(session, flow.graph)
    if not checked.ok:
        problems = "; ".join(issue.message for issue in checked.errors[:5])
        raise FlowError(f"The flow has {len(checked.errors)} problem(s): {problems}")
    last = session.exec(
        select(sa.func.max(FlowVersion.version)).where(FlowVersion.flow_id == flow_id)
    ).one()
    version = FlowVersion(
        flow_id=flow_id,
        version=(last or 0) + 1,
        graph=flow.graph,
        note=note,
        created_by=actor.username,
    )
    session.add(version)
    session.flush()
    flow.published_version_id = version.id
    if flow.status == FlowStatus.draft:
        flow.status = FlowStatus.active
    flow.updated_at = utcnow()
    session.add(flow)
    audit.record(
        session,
        actor.username,
        "flow_published",
        target_type="flow",
        target_id=flow_id,
        version=version.version,
    )
    return version


def set_status(session: Session, actor: AdminUser, flow_id: int, status: FlowStatus) -> None:
    require_role(actor, Role.editor)
    flow = session.get(FlowDefinition, flow_id)
    if flow is None:
        raise FlowError(f"Flow {flow_id} does not exist.")
    if status == FlowStatus.active and flow.published_version_id is None:
        raise FlowError("Publish the flow before activating it.")
    flow.status = status
    flow.updated_at = utcnow()
    session.add(flow)
    audit.record(
        session,
        actor.username,
        "flow_status",
        target_type="flow",
        target_id=flow_id,
        status=str(status),
    )

"""Flow definitions: create, save drafts without losing concurrent edits, publish, pause.

The editor, the REST API and the tests all change flows through these functions, so the
rules (validation before publishing, role checks, optimistic concurrency, audit) hold
everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from engine import events
from engine.graph import ValidatedFlow, build_graph
from engine.models import (
    AdminUser,
    ExecutionStatus,
    FlowDefinition,
    FlowExecution,
    FlowExecutionStep,
    FlowFolder,
    FlowStatus,
    FlowVersion,
    Role,
    UserFlowContext,
    WebhookEndpoint,
    utcnow,
)
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


def valid_draft(session: Session, flow_id: int) -> FlowDefinition:
    """The flow whose draft is about to be frozen (published or test-run); FlowError names
    the first problems when the draft has errors."""
    flow = session.get(FlowDefinition, flow_id)
    if flow is None:
        raise FlowError(f"Flow {flow_id} does not exist.")
    checked = validate(session, flow.graph)
    if not checked.ok:
        problems = "; ".join(issue.message for issue in checked.errors[:5])
        raise FlowError(f"The flow has {len(checked.errors)} problem(s): {problems}")
    return flow


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
    flow = valid_draft(session, flow_id)
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
    events.publish("flows.changed", {"flow_id": flow_id})
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
    events.publish("flows.changed", {"flow_id": flow_id})


# --------------------------------------------------------------------------- the flows page

EXPORT_FORMAT = "flowbot.flow"
EXPORT_VERSION = 1
STATS_DAYS = 30  # the success rate on the flows page covers this many days


class FlowImportError(FlowError):
    """An import refused; ``problems`` lists every reason, for the page to show."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("The file cannot be imported: " + "; ".join(problems[:5]))


@dataclass(frozen=True)
class FlowSummary:
    """One row of the flows page."""

    id: int
    name: str
    description: str
    folder_id: int | None
    status: str
    published: bool
    updated_at: datetime
    last_run_at: datetime | None
    runs: int
    succeeded: int

    @property
    def success_rate(self) -> float | None:
        """Share of finished runs that succeeded, None before the first finished run."""
        return self.succeeded / self.runs if self.runs else None


def _flow(session: Session, flow_id: int) -> FlowDefinition:
    flow = session.get(FlowDefinition, flow_id)
    if flow is None:
        raise FlowError(f"Flow {flow_id} does not exist.")
    return flow


def _folder_id(session: Session, folder_id: int | None) -> int | None:
    if folder_id is not None and session.get(FlowFolder, folder_id) is None:
        raise FlowError(f"Folder {folder_id} does not exist.")
    return folder_id


def list_folders(session: Session) -> list[FlowFolder]:
    return list(session.exec(select(FlowFolder).order_by(FlowFolder.name)).all())


def create_folder(session: Session, actor: AdminUser, name: str) -> FlowFolder:
    require_role(actor, Role.editor)
    if not name.strip():
        raise FlowError("A folder needs a name.")
    folder = FlowFolder(name=name.strip()[:128])
    session.add(folder)
    session.flush()
    audit.record(
        session, actor.username, "folder_created", target_type="folder", target_id=folder.id
    )
    return folder


def list_flows(
    session: Session, *, search: str = "", folder_id: int | None = None, all_folders: bool = True
) -> list[FlowSummary]:
    """Flows with their last run and success rate, newest edit first.

    ``all_folders=False`` keeps only the flows in ``folder_id`` (None: the top level).
    """
    query = select(FlowDefinition).order_by(FlowDefinition.updated_at.desc(), FlowDefinition.id)
    if search.strip():
        needle = f"%{search.strip().lower()}%"
        query = query.where(
            sa.or_(
                sa.func.lower(FlowDefinition.name).like(needle),
                sa.func.lower(FlowDefinition.description).like(needle),
            )
        )
    if not all_folders:
        query = query.where(
            FlowDefinition.folder_id.is_(None)
            if folder_id is None
            else FlowDefinition.folder_id == folder_id
        )
    flows = list(session.exec(query).all())
    stats = _run_stats(session, [f.id for f in flows])
    return [
        FlowSummary(
            id=f.id,
            name=f.name,
            description=f.description,
            folder_id=f.folder_id,
            status=str(f.status),
            published=f.published_version_id is not None,
            updated_at=f.updated_at,
            **stats.get(f.id, {"last_run_at": None, "runs": 0, "succeeded": 0}),
        )
        for f in flows
    ]


def _run_stats(session: Session, flow_ids: list[int | None]) -> dict[int, dict[str, Any]]:
    """Last run (ever) and finished/succeeded counts (last STATS_DAYS) per flow, one query."""
    if not flow_ids:
        return {}
    since = utcnow() - timedelta(days=STATS_DAYS)
    recent = FlowExecution.started_at >= since
    finished = FlowExecution.status.in_(
        [ExecutionStatus.succeeded, ExecutionStatus.failed, ExecutionStatus.stopped]
    )
    rows = session.exec(
        select(
            FlowExecution.flow_id,
            sa.func.max(FlowExecution.started_at),
            sa.func.sum(sa.case((sa.and_(recent, finished), 1), else_=0)),
            sa.func.sum(
                sa.case(
                    (sa.and_(recent, FlowExecution.status == ExecutionStatus.succeeded), 1),
                    else_=0,
                )
            ),
        )
        .where(FlowExecution.flow_id.in_(flow_ids))
        .group_by(FlowExecution.flow_id)
    ).all()
    return {
        flow_id: {"last_run_at": last, "runs": int(runs or 0), "succeeded": int(ok or 0)}
        for flow_id, last, runs, ok in rows
    }


def rename_flow(session: Session, actor: AdminUser, flow_id: int, name: str) -> FlowDefinition:
    require_role(actor, Role.editor)
    if not name.strip():
        raise FlowError("A flow needs a name.")
    flow = _flow(session, flow_id)
    old, flow.name, flow.updated_at = flow.name, name.strip()[:128], utcnow()
    session.add(flow)
    audit.record(
        session, actor.username, "flow_renamed", target_type="flow", target_id=flow_id, old=old
    )
    return flow


def duplicate_flow(session: Session, actor: AdminUser, flow_id: int) -> FlowDefinition:
    """A new draft with the same graph; versions and runs stay with the original."""
    source = _flow(session, flow_id)
    copy = create_flow(
        session,
        actor,
        f"Copy of {source.name}"[:128],
        graph=json.loads(json.dumps(source.graph)),
        folder_id=source.folder_id,
        description=source.description,
    )
    audit.record(
        session, actor.username, "flow_duplicated", target_type="flow", target_id=copy.id,
        source=flow_id,
    )  # fmt: skip
    return copy


def move_flow(
    session: Session, actor: AdminUser, flow_id: int, folder_id: int | None
) -> FlowDefinition:
    require_role(actor, Role.editor)
    flow = _flow(session, flow_id)
    flow.folder_id = _folder_id(session, folder_id)
    flow.updated_at = utcnow()
    session.add(flow)
    audit.record(
        session, actor.username, "flow_moved", target_type="flow", target_id=flow_id,
        folder=folder_id,
    )  # fmt: skip
    return flow


def delete_flow(session: Session, actor: AdminUser, flow_id: int) -> None:
    """Delete a flow with its versions, runs and stored variables.

    Refused while webhooks start it: deleting those silently would break their callers.
    """
    require_role(actor, Role.editor)
    flow = _flow(session, flow_id)
    hooks = session.exec(
        select(sa.func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.flow_id == flow_id)
    ).one()
    if hooks:
        raise FlowError(f"{hooks} webhook(s) start {flow.name!r}; delete or re-point them first.")
    executions = select(FlowExecution.id).where(FlowExecution.flow_id == flow_id)
    session.exec(sa.delete(FlowExecutionStep).where(FlowExecutionStep.execution_id.in_(executions)))
    # Sub-flow runs started by this flow's runs point at them: detach, do not delete.
    session.exec(
        sa.update(FlowExecution)
        .where(FlowExecution.parent_execution_id.in_(executions.scalar_subquery()))
        .where(FlowExecution.flow_id != flow_id)
        .values(parent_execution_id=None)
    )
    session.exec(
        sa.update(FlowExecution)
        .where(FlowExecution.flow_id == flow_id)
        .values(parent_execution_id=None)
    )
    session.exec(sa.delete(FlowExecution).where(FlowExecution.flow_id == flow_id))
    session.exec(sa.delete(UserFlowContext).where(UserFlowContext.flow_id == flow_id))
    flow.published_version_id = None
    session.add(flow)
    session.flush()
    session.exec(sa.delete(FlowVersion).where(FlowVersion.flow_id == flow_id))
    session.delete(flow)
    session.flush()
    audit.record(
        session, actor.username, "flow_deleted", target_type="flow", target_id=flow_id,
        name=flow.name,
    )  # fmt: skip
    events.publish("flows.changed", {"flow_id": flow_id})


def export_flow(session: Session, flow_id: int) -> dict[str, Any]:
    """The draft as a portable document (no ids of this install besides node ids)."""
    flow = _flow(session, flow_id)
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "name": flow.name,
        "description": flow.description,
        "graph": flow.graph,
    }


def import_flow(
    session: Session,
    actor: AdminUser,
    document: str | bytes | dict[str, Any],
    *,
    folder_id: int | None = None,
) -> FlowDefinition:
    """Create a draft from an exported document, refused with every error engine.graph finds.

    A bare ``{"nodes": ..., "edges": ...}`` graph is accepted too.
    """
    require_role(actor, Role.editor)
    if isinstance(document, str | bytes):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise FlowImportError([f"the file is not JSON ({exc})"]) from None
    if not isinstance(document, dict):
        raise FlowImportError(["the file does not hold a flow (expected a JSON object)"])
    if "graph" in document:
        if document.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
            raise FlowImportError([f"unknown format {document.get('format')!r}"])
        graph, name = document["graph"], str(document.get("name") or "Imported flow")
    else:
        graph, name = document, "Imported flow"
    if not isinstance(graph, dict):
        raise FlowImportError(["'graph' must be an object with nodes and edges"])
    checked = validate(session, graph)
    if not checked.ok:
        raise FlowImportError([issue.message for issue in checked.errors])
    flow = create_flow(
        session,
        actor,
        name,
        graph=graph,
        folder_id=_folder_id(session, folder_id),
        description=str(document.get("description") or ""),
    )
    audit.record(session, actor.username, "flow_imported", target_type="flow", target_id=flow.id)
    return flow


def list_versions(session: Session, flow_id: int) -> list[FlowVersion]:
    """Published versions, newest first (test-run snapshots, numbered <= 0, left out)."""
    return list(
        session.exec(
            select(FlowVersion)
            .where(FlowVersion.flow_id == flow_id, FlowVersion.version > 0)
            .order_by(FlowVersion.version.desc())
        ).all()
    )


def restore_version(
    session: Session,
    actor: AdminUser,
    flow_id: int,
    version_id: int,
    expected_revision: int | None = None,
) -> FlowDefinition:
    """Put a published version's graph back into the draft (publish to make it live)."""
    version = session.get(FlowVersion, version_id)
    if version is None or version.flow_id != flow_id:
        raise FlowError(f"Version {version_id} is not a version of flow {flow_id}.")
    flow = save_draft(session, actor, flow_id, version.graph, expected_revision)
    audit.record(
        session, actor.username, "flow_restored", target_type="flow", target_id=flow_id,
        version=version.version,
    )  # fmt: skip
    return flow

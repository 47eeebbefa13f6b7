"""Flow definitions: create, save drafts without losing concurrent edits, publish, pause.

The editor, the REST API and the tests all change flows through these functions, so the
rules (validation before publishing, role checks, optimistic concurrency, audit) hold
everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from engine import events
from engine.db import affected_rows, saved_id
from engine.flow_templates import UnknownTemplate, get_template
from engine.flow_templates.choices import TemplateAnswerError, resolve
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
from engine.services import audit, webhooks
from engine.services.auth import require_role
from engine.services.errors import Conflict, NotFound

EMPTY_GRAPH: dict[str, Any] = {"nodes": [], "edges": []}
ROOT: Literal["root"] = "root"  # the top level, where flows outside any folder live


class FlowError(ValueError):
    """A flow operation refused, with a message fit to show the user."""


class StaleRevision(FlowError):
    """Someone else saved the flow since this copy was loaded."""


class FlowNotFound(FlowError, NotFound):
    """The flow, folder or version named does not exist (any more)."""


class FlowConflict(FlowError, Conflict):
    """The flow or folder is not in a state that allows this (yet)."""


def validate(session: Session, graph: dict[str, Any]) -> ValidatedFlow:
    """Validate a graph against the node registry and the flows that exist."""
    return build_graph(
        graph, REGISTRY, flow_exists=lambda fid: session.get(FlowDefinition, fid) is not None
    )


def valid_draft(session: Session, flow_id: int) -> FlowDefinition:
    """The flow whose draft is about to be frozen (published or test-run); FlowConflict
    names the first problems when the draft has errors (fix the draft, then retry)."""
    flow = editable_flow(session, flow_id)
    checked = validate(session, flow.graph)
    if not checked.ok:
        problems = "; ".join(issue.message for issue in checked.errors[:5])
        raise FlowConflict(f"The flow has {len(checked.errors)} problem(s): {problems}")
    return flow


def _trigger_type(graph: dict[str, Any]) -> str | None:
    for node in graph.get("nodes", []):
        if node.get("type") in REGISTRY and REGISTRY.get(node["type"]).category == "trigger":
            return str(node["type"])
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
        folder_id=_folder_id(session, folder_id),
        graph=graph,
        trigger_type=_trigger_type(graph),
        created_by=actor.username,
        draft_saved_by_id=actor.id,
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
    cannot both win. The saver is recorded: an editor whose save was refused is told whose
    changes keeping theirs would overwrite.
    """
    require_role(actor, Role.editor)
    editable_flow(session, flow_id)
    conditions = [col(FlowDefinition.id) == flow_id]
    if expected_revision is not None:
        conditions.append(col(FlowDefinition.revision) == expected_revision)
    result = session.exec(
        sa.update(FlowDefinition)
        .where(*conditions)
        .values(
            graph=graph,
            trigger_type=_trigger_type(graph),
            revision=FlowDefinition.revision + 1,
            updated_at=utcnow(),
            draft_saved_by_id=actor.id,
        )
    )
    if affected_rows(result) == 0:
        get_flow(session, flow_id)
        raise StaleRevision("Someone else saved this flow meanwhile; reload to merge.")
    flow = get_flow(session, flow_id)
    session.refresh(flow)
    return flow


def publish(
    session: Session,
    actor: AdminUser,
    flow_id: int,
    note: str = "",
    expected_revision: int | None = None,
    activate: bool | None = None,
) -> FlowVersion:
    """Freeze the draft as the next version; refused while the graph has errors, and with
    ``expected_revision`` when the draft changed since the publisher looked at it.

    ``activate`` says whether the flow runs afterwards: True makes it live, False leaves
    a running or paused flow as it is and a flow never published before paused (published,
    not running), so nothing goes live that the publisher did not ask for. None (the
    API's default, kept for its clients) activates only a flow never published before.
    """
    require_role(actor, Role.editor)
    flow = valid_draft(session, flow_id)
    _expect_revision(flow, expected_revision)
    first = flow.published_version_id is None
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
    webhooks.sync_flow_endpoints(session, actor, flow_id, flow.graph)  # the node owns its URL
    flow.published_version_id = version.id
    if activate or (activate is None and first):
        flow.status = FlowStatus.active
    elif first:
        flow.status = FlowStatus.paused
    flow.updated_at = utcnow()
    session.add(flow)
    audit.record(
        session,
        actor.username,
        "flow_published",
        target_type="flow",
        target_id=flow_id,
        version=version.version,
        status=str(flow.status),
    )
    events.publish("flows.changed", {"flow_id": flow_id})
    return version


def set_status(session: Session, actor: AdminUser, flow_id: int, status: FlowStatus) -> None:
    require_role(actor, Role.editor)
    flow = editable_flow(session, flow_id)
    if status == FlowStatus.active and flow.published_version_id is None:
        raise FlowConflict("Publish the flow before activating it.")
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
    live_version: int | None = None
    unpublished_changes: bool = False

    @property
    def success_rate(self) -> float | None:
        """Share of finished runs that succeeded, None before the first finished run."""
        return self.succeeded / self.runs if self.runs else None

    @property
    def status_label(self) -> str:
        return status_label(self.status, self.live_version, self.unpublished_changes)


def status_label(status: str, live_version: int | None, unpublished_changes: bool) -> str:
    """The one status chip the editor and the flows list show: whether the flow runs, which
    version, and whether the draft holds edits that are not live yet."""
    if live_version is None:
        return "Draft"
    if status != FlowStatus.active:
        return "Paused"
    suffix = " with unpublished changes" if unpublished_changes else ""
    return f"Live v{live_version}{suffix}"


def published_versions(
    session: Session, flows: list[FlowDefinition]
) -> dict[int, tuple[int, dict[str, Any]]]:
    """Each published flow's live version: its number and graph, by flow id (one query)."""
    ids = [f.published_version_id for f in flows if f.published_version_id is not None]
    if not ids:
        return {}
    rows = session.exec(select(FlowVersion).where(col(FlowVersion.id).in_(ids))).all()
    return {v.flow_id: (v.version, v.graph) for v in rows}


def get_flow(session: Session, flow_id: int) -> FlowDefinition:
    """The flow, or FlowNotFound (every face answers a missing flow alike)."""
    flow = session.get(FlowDefinition, flow_id)
    if flow is None:
        raise FlowNotFound(f"Flow {flow_id} does not exist.")
    return flow


def draft_saver(session: Session, flow: FlowDefinition) -> str:
    """Who saved the flow's draft last: their username, "" when not known (any more)."""
    saver = session.get(AdminUser, flow.draft_saved_by_id) if flow.draft_saved_by_id else None
    return saver.username if saver else ""


def editable_flow(session: Session, flow_id: int) -> FlowDefinition:
    """The flow, unless Flowbot runs it by itself (a community's rules): those are changed
    through what they serve, never edited, published, paused or deleted by hand."""
    flow = get_flow(session, flow_id)
    if flow.system_kind is not None:
        raise FlowConflict(
            f"{flow.name!r} is built in: it runs a community's rules. Change the rules on "
            "the community instead."
        )
    return flow


def _expect_revision(flow: FlowDefinition, expected_revision: int | None) -> None:
    """StaleRevision when the caller's copy is older than the stored draft."""
    if expected_revision is not None and flow.revision != expected_revision:
        raise StaleRevision("Someone else saved this flow meanwhile; reload to merge.")


def get_folder(session: Session, folder_id: int) -> FlowFolder:
    folder = session.get(FlowFolder, folder_id)
    if folder is None:
        raise FlowNotFound(f"Folder {folder_id} does not exist.")
    return folder


def _folder_id(session: Session, folder_id: int | None) -> int | None:
    if folder_id is not None:
        get_folder(session, folder_id)
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


def rename_folder(session: Session, actor: AdminUser, folder_id: int, name: str) -> FlowFolder:
    require_role(actor, Role.editor)
    if not name.strip():
        raise FlowError("A folder needs a name.")
    folder = get_folder(session, folder_id)
    old, folder.name = folder.name, name.strip()[:128]
    session.add(folder)
    audit.record(
        session, actor.username, "folder_renamed", target_type="folder", target_id=folder_id,
        old=old,
    )  # fmt: skip
    return folder


def folder_counts(session: Session, folder_ids: list[int]) -> dict[int, int]:
    """How many flows each folder holds (folders without flows are left out)."""
    if not folder_ids:
        return {}
    rows = session.exec(
        select(FlowDefinition.folder_id, sa.func.count())
        .where(col(FlowDefinition.folder_id).in_(folder_ids))
        .group_by(col(FlowDefinition.folder_id))
    ).all()
    return {folder_id: int(count) for folder_id, count in rows if folder_id is not None}


def delete_folder(
    session: Session,
    actor: AdminUser,
    folder_id: int,
    move_to: int | Literal["root"] | None = None,
) -> None:
    """Delete a folder; its flows and sub-folders go to ``move_to`` (a folder or ROOT).

    Without ``move_to`` a folder that still holds anything is refused: deleting flows
    with it would be a surprise, and leaving them pointing at nothing a broken link.
    """
    require_role(actor, Role.editor)
    folder = get_folder(session, folder_id)
    flows_in = col(FlowDefinition.folder_id) == folder_id
    children = col(FlowFolder.parent_id) == folder_id
    held = session.exec(select(sa.func.count()).select_from(FlowDefinition).where(flows_in)).one()
    held += session.exec(select(sa.func.count()).select_from(FlowFolder).where(children)).one()
    if held and move_to is None:
        raise FlowConflict(
            f"Folder {folder.name!r} is not empty; move what it holds first (or pass a "
            "folder to move it to)."
        )
    target = None if move_to in (None, ROOT) else int(move_to)
    _folder_id(session, target)
    seen, above = set(), target
    while above is not None and above not in seen:  # no folder moved inside itself
        if above == folder_id:
            raise FlowError("The folder's contents cannot move into the folder being deleted.")
        seen.add(above)
        above = get_folder(session, above).parent_id
    session.exec(sa.update(FlowDefinition).where(flows_in).values(folder_id=target))
    session.exec(sa.update(FlowFolder).where(children).values(parent_id=target))
    session.delete(folder)
    session.flush()
    audit.record(
        session, actor.username, "folder_deleted", target_type="folder", target_id=folder_id,
        name=folder.name, moved_to=target, moved=held,
    )  # fmt: skip


def list_flows(
    session: Session, *, search: str = "", folder_id: int | None = None, all_folders: bool = True
) -> list[FlowSummary]:
    """Flows with their last run and success rate, newest edit first.

    ``all_folders=False`` keeps only the flows in ``folder_id`` (None: the top level).
    """
    query = flow_query(search=search, folder_id=folder_id, all_folders=all_folders)
    query = query.order_by(col(FlowDefinition.updated_at).desc(), col(FlowDefinition.id))
    return summarize(session, list(session.exec(query).all()))


def flow_query(
    *,
    search: str = "",
    folder_id: int | None = None,
    all_folders: bool = True,
    status: FlowStatus | None = None,
) -> Any:
    """The flows matching the flows page's (and the API's) filters, unordered; built-in
    flows (a community's rules) are left out: nobody edits them.

    ``search`` matches name or description, case-insensitively.
    """
    query = select(FlowDefinition).where(col(FlowDefinition.system_kind).is_(None))
    if status is not None:
        query = query.where(FlowDefinition.status == status)
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
            col(FlowDefinition.folder_id).is_(None)
            if folder_id is None
            else FlowDefinition.folder_id == folder_id
        )
    return query


def summarize(session: Session, flows: list[FlowDefinition]) -> list[FlowSummary]:
    """The flows as rows of the flows page, with their run statistics."""
    stats = _run_stats(session, [saved_id(f) for f in flows])
    live = published_versions(session, flows)
    return [
        FlowSummary(
            id=saved_id(f),
            name=f.name,
            description=f.description,
            folder_id=f.folder_id,
            status=str(f.status),
            published=f.published_version_id is not None,
            updated_at=f.updated_at,
            live_version=live[f.id][0] if f.id in live else None,
            unpublished_changes=f.id in live and live[f.id][1] != f.graph,
            **stats.get(saved_id(f), {"last_run_at": None, "runs": 0, "succeeded": 0}),
        )
        for f in flows
    ]


def _run_stats(session: Session, flow_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Last run (ever) and finished/succeeded counts (last STATS_DAYS) per flow, one query."""
    if not flow_ids:
        return {}
    since = utcnow() - timedelta(days=STATS_DAYS)
    recent = col(FlowExecution.started_at) >= since
    finished = col(FlowExecution.status).in_(
        [ExecutionStatus.succeeded, ExecutionStatus.failed, ExecutionStatus.stopped]
    )
    rows = session.exec(
        select(
            FlowExecution.flow_id,
            sa.func.max(FlowExecution.started_at),
            sa.func.sum(sa.case((sa.and_(recent, finished), 1), else_=0)),
            sa.func.sum(
                sa.case(
                    (sa.and_(recent, col(FlowExecution.status) == ExecutionStatus.succeeded), 1),
                    else_=0,
                )
            ),
        )
        .where(col(FlowExecution.flow_id).in_(flow_ids))
        .group_by(col(FlowExecution.flow_id))
    ).all()
    return {
        flow_id: {"last_run_at": last, "runs": int(runs or 0), "succeeded": int(ok or 0)}
        for flow_id, last, runs, ok in rows
    }


def rename_flow(session: Session, actor: AdminUser, flow_id: int, name: str) -> FlowDefinition:
    require_role(actor, Role.editor)
    if not name.strip():
        raise FlowError("A flow needs a name.")
    flow = editable_flow(session, flow_id)
    old, flow.name, flow.updated_at = flow.name, name.strip()[:128], utcnow()
    session.add(flow)
    audit.record(
        session, actor.username, "flow_renamed", target_type="flow", target_id=flow_id, old=old
    )
    return flow


def duplicate_flow(session: Session, actor: AdminUser, flow_id: int) -> FlowDefinition:
    """A new draft with the same graph; versions and runs stay with the original."""
    source = editable_flow(session, flow_id)
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
    flow = editable_flow(session, flow_id)
    flow.folder_id = _folder_id(session, folder_id)
    flow.updated_at = utcnow()
    session.add(flow)
    audit.record(
        session, actor.username, "flow_moved", target_type="flow", target_id=flow_id,
        folder=folder_id,
    )  # fmt: skip
    return flow


def edit_flow(
    session: Session,
    actor: AdminUser,
    flow_id: int,
    *,
    expected_revision: int | None = None,
    name: str | None = None,
    description: str | None = None,
    folder: int | Literal["root"] | None = None,
) -> FlowDefinition:
    """Rename, describe and move in one go (None: unchanged; ROOT: out of any folder).

    ``expected_revision`` refuses a caller whose copy is stale; these details do not bump
    the revision, so an editor open on the graph keeps saving.
    """
    require_role(actor, Role.editor)
    _expect_revision(editable_flow(session, flow_id), expected_revision)
    if name is not None:
        rename_flow(session, actor, flow_id, name)
    if folder is not None:
        move_flow(session, actor, flow_id, None if folder == ROOT else int(folder))
    flow = get_flow(session, flow_id)
    if description is not None and description != flow.description:
        flow.description, flow.updated_at = description, utcnow()
        session.add(flow)
        audit.record(
            session, actor.username, "flow_described", target_type="flow", target_id=flow_id
        )
    return flow


def delete_flow(session: Session, actor: AdminUser, flow_id: int) -> None:
    """Delete a flow with its versions, runs and stored variables.

    Refused while webhooks made by hand start it: deleting those silently would break their
    callers. The endpoints of its own Webhook trigger nodes are deleted with it.
    """
    require_role(actor, Role.editor)
    flow = editable_flow(session, flow_id)
    hooks = session.exec(
        select(sa.func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.flow_id == flow_id, col(WebhookEndpoint.node_id).is_(None))
    ).one()
    if hooks:
        raise FlowConflict(
            f"{hooks} webhook(s) start {flow.name!r}; delete or re-point them first."
        )
    webhooks.delete_flow_endpoints(session, actor, flow_id)  # its nodes' own go with it
    executions = select(FlowExecution.id).where(FlowExecution.flow_id == flow_id)
    session.exec(
        sa.delete(FlowExecutionStep).where(col(FlowExecutionStep.execution_id).in_(executions))
    )
    # Sub-flow runs started by this flow's runs point at them: detach, do not delete.
    session.exec(
        sa.update(FlowExecution)
        .where(col(FlowExecution.parent_execution_id).in_(executions.scalar_subquery()))
        .where(col(FlowExecution.flow_id) != flow_id)
        .values(parent_execution_id=None)
    )
    session.exec(
        sa.update(FlowExecution)
        .where(col(FlowExecution.flow_id) == flow_id)
        .values(parent_execution_id=None)
    )
    session.exec(sa.delete(FlowExecution).where(col(FlowExecution.flow_id) == flow_id))
    session.exec(sa.delete(UserFlowContext).where(col(UserFlowContext.flow_id) == flow_id))
    flow.published_version_id = None
    session.add(flow)
    session.flush()
    session.exec(sa.delete(FlowVersion).where(col(FlowVersion.flow_id) == flow_id))
    session.delete(flow)
    session.flush()
    audit.record(
        session, actor.username, "flow_deleted", target_type="flow", target_id=flow_id,
        name=flow.name,
    )  # fmt: skip
    events.publish("flows.changed", {"flow_id": flow_id})


def export_flow(session: Session, flow_id: int) -> dict[str, Any]:
    """The draft as a portable document (no ids of this install besides node ids)."""
    flow = get_flow(session, flow_id)
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
        session.exec(versions_query(flow_id).order_by(col(FlowVersion.version).desc())).all()
    )


def versions_query(flow_id: int) -> SelectOfScalar[FlowVersion]:
    """The flow's published versions, unordered (test-run snapshots left out)."""
    return select(FlowVersion).where(FlowVersion.flow_id == flow_id, FlowVersion.version > 0)


def get_version(session: Session, flow_id: int, number: int) -> FlowVersion:
    """Published version ``number`` of the flow, or FlowNotFound."""
    found = session.exec(versions_query(flow_id).where(FlowVersion.version == number)).first()
    if found is None:
        get_flow(session, flow_id)
        raise FlowNotFound(f"Flow {flow_id} has no version {number}.")
    return found


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
        raise FlowNotFound(f"Version {version_id} is not a version of flow {flow_id}.")
    flow = save_draft(session, actor, flow_id, version.graph, expected_revision)
    audit.record(
        session, actor.username, "flow_restored", target_type="flow", target_id=flow_id,
        version=version.version,
    )  # fmt: skip
    return flow


# --------------------------------------------------------------------------- version diffs


@dataclass(frozen=True)
class NodeRef:
    id: str
    type: str


@dataclass(frozen=True)
class NodeChange:
    """A node in both graphs that differs: its changed parameter names, type, position."""

    id: str
    type: str
    params: list[str]
    type_changed: bool = False
    moved: bool = False


@dataclass(frozen=True)
class EdgeRef:
    """An edge by what it connects (ids differ between copies of the same wire)."""

    source: str
    handle: str
    target: str


@dataclass
class GraphDiff:
    """What changed from one graph to another, node by node and wire by wire."""

    nodes_added: list[NodeRef] = field(default_factory=list)
    nodes_removed: list[NodeRef] = field(default_factory=list)
    nodes_changed: list[NodeChange] = field(default_factory=list)
    edges_added: list[EdgeRef] = field(default_factory=list)
    edges_removed: list[EdgeRef] = field(default_factory=list)


def _nodes(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    return {str(n["id"]): n for n in nodes or [] if isinstance(n, dict) and n.get("id") is not None}


def _params(node: dict[str, Any]) -> dict[str, Any]:
    params = node.get("params")
    return params if isinstance(params, dict) else {}


def _edges(graph: dict[str, Any]) -> list[EdgeRef]:
    edges = graph.get("edges") if isinstance(graph, dict) else None
    found = {
        EdgeRef(
            str(e.get("source")),
            str(e.get("sourceHandle") or e.get("source_handle") or "next"),
            str(e.get("target")),
        )
        for e in edges or []
        if isinstance(e, dict)
    }
    return sorted(found, key=lambda e: (e.source, e.handle, e.target))


def graph_diff(old: dict[str, Any], new: dict[str, Any]) -> GraphDiff:
    """The structured difference from ``old`` to ``new`` (order of nodes and edges aside)."""
    before, after = _nodes(old), _nodes(new)
    diff = GraphDiff(
        nodes_added=[NodeRef(i, str(after[i].get("type"))) for i in sorted(after.keys() - before)],
        nodes_removed=[
            NodeRef(i, str(before[i].get("type"))) for i in sorted(before.keys() - after)
        ],
    )
    for node_id in sorted(before.keys() & after):
        was, now = before[node_id], after[node_id]
        was_params, now_params = _params(was), _params(now)
        params = sorted(
            k
            for k in was_params.keys() | now_params.keys()
            if was_params.get(k, ...) != now_params.get(k, ...)
        )
        retyped = was.get("type") != now.get("type")
        moved = (was.get("position") or {}) != (now.get("position") or {})
        if params or retyped or moved:
            diff.nodes_changed.append(
                NodeChange(node_id, str(now.get("type")), params, retyped, moved)
            )
    old_edges, new_edges = _edges(old), _edges(new)
    diff.edges_added = [e for e in new_edges if e not in old_edges]
    diff.edges_removed = [e for e in old_edges if e not in new_edges]
    return diff


def diff_version(
    session: Session, flow_id: int, number: int, base: int | Literal["draft"] | None = None
) -> GraphDiff:
    """What version ``number`` changed from ``base``: another version, the current draft
    (what restoring it would change), or by default the version before it."""
    version = get_version(session, flow_id, number)
    if base == "draft":
        old = get_flow(session, flow_id).graph
    elif base is not None:
        old = get_version(session, flow_id, base).graph
    else:
        previous = session.exec(
            versions_query(flow_id)
            .where(FlowVersion.version < number)
            .order_by(col(FlowVersion.version).desc())
        ).first()
        old = previous.graph if previous is not None else EMPTY_GRAPH
    return graph_diff(old, version.graph)


# --------------------------------------------------------------------------- templates


def create_from_template(
    session: Session,
    actor: AdminUser,
    template_id: str,
    picked: dict[str, Any],
    *,
    name: str = "",
    folder_id: int | None = None,
) -> FlowDefinition:
    """A draft built from a gallery template with the picked connections, chats and
    community (engine/flow_templates); refused, naming the picker, when one is missing or
    was not offered."""
    require_role(actor, Role.editor)
    try:
        template = get_template(template_id)
        graph = template.build(resolve(session, template, picked))
    except (UnknownTemplate, TemplateAnswerError) as exc:
        raise FlowError(str(exc)) from None
    checked = validate(session, graph)
    if not checked.ok:  # a template that no longer fits the registry: say so, save nothing
        raise FlowError(f"Template {template.title!r} is out of date: {checked.errors[0].message}")
    flow = create_flow(
        session,
        actor,
        name.strip() or template.title,
        graph=graph,
        folder_id=folder_id,
        description=template.description,
    )
    audit.record(
        session, actor.username, "flow_from_template", target_type="flow", target_id=flow.id,
        template=template_id,
    )  # fmt: skip
    return flow

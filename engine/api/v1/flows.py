"""Flows: list/search, create, read, edit the graph (If-Match), rename/move, duplicate,
delete; validate; publish; activate/pause; versions, diffs and restore; import/export;
test-run the draft and run the published version.

Every rule is in :mod:`engine.services.flows` (the editor calls the same functions); the
``ETag`` of a flow is its draft's revision, and writes that replace or rename it need
``If-Match`` with that ETag: 428 without, 412 when someone saved meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from engine.api.runs import trigger_event
from engine.api.v1 import paging
from engine.api.v1.caller import Caller, Editor, Viewer, run
from engine.api.v1.errors import ApiError, ErrorEnvelope
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.graph import Issue
from engine.models import AdminUser, FlowDefinition, FlowStatus, FlowVersion
from engine.services import executions, flows

router = APIRouter(prefix="/flows", tags=["Flows"])
FlowId = Annotated[int, Path(description="The flow's id.")]
VersionNumber = Annotated[int, Path(ge=1, description="The published version's number (1, 2…).")]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The flow's `ETag` as you last read it; `*` overwrites whatever is there.",
        examples=['"3"'],
    ),
]

FOLDER_REF = r"^(root|[0-9]+)$"  # a folder's id, or `root` for the top level


def folder_ref(value: str | None) -> int | Literal["root"] | None:
    """A `root`-or-id query value as the services take it (None: not given)."""
    if value is None:
        return None
    return flows.ROOT if value == flows.ROOT else int(value)


def refusals(**by_status: str) -> dict[int | str, dict[str, Any]]:
    """A route's own refusals (``c409="why"``) in OpenAPI, in the shared envelope."""
    return {
        int(key.removeprefix("c")): {"model": ErrorEnvelope, "description": text}
        for key, text in by_status.items()
    }


KEY_IN_USE = "A request with this Idempotency-Key is still in progress."
STALE = "The flow changed since the ETag in If-Match: read it again."
ETAG: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "ETag": {
                "description": "The draft's revision: send it back as If-Match.",
                "schema": {"type": "string"},
            }
        }
    }
}
CONDITIONAL = ETAG | refusals(c412=STALE, c428="If-Match is missing.")
ONCE = refusals(c409=KEY_IN_USE)

EXAMPLE_GRAPH: dict[str, Any] = {
    "nodes": [
        {"id": "start", "type": "tg_command", "params": {"command": "start"}},
        {
            "id": "hello",
            "type": "tg_send_message",
            "params": {"chat_id": "{{trigger.chat.id}}", "text": "Hello!"},
        },
    ],
    "edges": [{"source": "start", "target": "hello"}],
}


class Graph(BaseModel):
    """A flow graph as the editor saves it: nodes, and edges from a node's output handle
    (`sourceHandle`, default `next`) to another node. Node types and their params:
    the node catalogue."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [EXAMPLE_GRAPH]})

    nodes: list[dict[str, Any]] = Field(
        default_factory=list, description="`{id, type, params, position}` each."
    )
    edges: list[dict[str, Any]] = Field(
        default_factory=list, description="`{id?, source, sourceHandle?, target}` each."
    )


class FlowOut(BaseModel):
    """A flow without its graph."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str = Field(examples=["Greeter"])
    description: str
    folder_id: int | None = Field(description="Its folder; null at the top level.")
    status: FlowStatus = Field(description="`draft` until published; then `active` or `paused`.")
    revision: int = Field(description="The draft's revision, also sent as the `ETag` header.")
    published_version_id: int | None = Field(description="What runs; null before publishing.")
    trigger_type: str | None = Field(examples=["tg_command"])
    created_by: str
    created_at: datetime
    updated_at: datetime


class FlowDetail(FlowOut):
    """A flow with its draft graph."""

    graph: Graph


class FlowListItem(BaseModel):
    """A row of the flows list, with its runs of the last 30 days."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    folder_id: int | None
    status: FlowStatus
    published: bool
    updated_at: datetime
    last_run_at: datetime | None = Field(description="Its latest run, ever.")
    runs: int = Field(description="Finished runs in the last 30 days.")
    succeeded: int = Field(description="Of those, the ones that succeeded.")
    success_rate: float | None = Field(description="succeeded / runs; null without runs.")
    live_version: int | None = Field(description="The published version's number, if any.")
    unpublished_changes: bool = Field(description="The draft differs from the live version.")
    status_label: str = Field(
        description="Draft, Paused, Live vN, or Live vN with unpublished changes.",
        examples=["Live v2"],
    )


class FlowCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128, examples=["Greeter"])
    description: str = ""
    folder_id: int | None = Field(default=None, description="A folder's id; null: top level.")
    graph: Graph | None = Field(default=None, description="The first draft; empty if left out.")


class FlowPatch(BaseModel):
    """Only the fields sent change; `folder_id: null` moves the flow to the top level."""

    name: str | None = Field(default=None, min_length=1, max_length=128, examples=["Welcome"])
    description: str | None = Field(default=None, examples=["Greets new members"])
    folder_id: int | None = Field(
        default=None, description="A folder's id; null: the top level.", examples=[3]
    )


class ValidationOut(BaseModel):
    """Every problem at once; only a graph without errors can be published or run."""

    ok: bool = Field(description="No errors (warnings do not block).")
    issues: list[Issue]


class PublishIn(BaseModel):
    note: str = Field(default="", max_length=2000, examples=["Greets in two languages"])
    activate: bool | None = Field(
        default=None,
        description="true: the flow runs afterwards; false: it stays as it is (a flow never "
        "published before stays paused); left out: only a flow never published is activated.",
    )


class VersionOut(BaseModel):
    """A published, immutable version of a flow."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    flow_id: int
    version: int = Field(examples=[3])
    note: str
    created_by: str
    created_at: datetime


class VersionDetail(VersionOut):
    graph: Graph


class FlowDocument(BaseModel):
    """A flow as a portable file (export → import on any Flowbot)."""

    format: str = Field(default=flows.EXPORT_FORMAT, examples=[flows.EXPORT_FORMAT])
    version: int = Field(default=flows.EXPORT_VERSION, examples=[flows.EXPORT_VERSION])
    name: str = Field(default="Imported flow", max_length=128, examples=["Greeter"])
    description: str = ""
    graph: Graph


class RunIn(BaseModel):
    """The trigger: a complete PlatformEvent is used as it is (a new event id); anything
    else becomes a manual run's `trigger.data`."""

    payload: dict[str, Any] = Field(default_factory=dict, examples=[{"order_id": 1042}])


class RunStarted(BaseModel):
    execution_id: int = Field(description="Follow it at /api/v1/executions/{execution_id}.")


def etag(revision: int) -> str:
    return f'"{revision}"'


def expected_revision(if_match: str | None) -> int | None:
    """The revision ``If-Match`` names (None for ``*``); 428 without it, 412 if no revision."""
    if if_match is None or not if_match.strip():
        raise ApiError(
            428,
            "Send If-Match with the flow's ETag (read the flow first), so a concurrent "
            "edit is not overwritten.",
        )
    tag = if_match.strip()
    if tag == "*":
        return None
    tag = tag.removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise ApiError(412, "If-Match names no revision of this flow.")
    return int(tag)


def _detail(flow: FlowDefinition, response: Response) -> FlowDetail:
    response.headers["ETag"] = etag(flow.revision)
    return FlowDetail.model_validate(flow)


async def _created(
    caller: Caller,
    key: str | None,
    request: Request,
    action: Callable[[Session, AdminUser], Any],
    model: type[BaseModel] = FlowDetail,
) -> JSONResponse:
    """201 with what ``action(session, me)`` made, once per Idempotency-Key."""

    def produce_in(session: Session, me: AdminUser) -> dict[str, Any]:
        return model.model_validate(action(session, me)).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 201, await run(caller, produce_in)

    return await once(caller, key, request, produce)


# --------------------------------------------------------------------------- flows


@router.get("", response_model=paging.Page[FlowListItem], summary="List and search flows")
async def list_flows(
    caller: Viewer,
    q: Annotated[str, Query(max_length=200, description="Words in the name or description.")] = "",
    folder_id: Annotated[
        str | None,
        Query(pattern=FOLDER_REF, description="A folder's id, or `root` for the top level."),
    ] = None,
    status_: Annotated[FlowStatus | None, Query(alias="status")] = None,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[FlowListItem]:
    folder = folder_ref(folder_id)
    query = flows.flow_query(
        search=q,
        folder_id=folder if isinstance(folder, int) else None,
        all_folders=folder is None,
        status=status_,
    )

    def action(session: Session, _: AdminUser) -> paging.Page[FlowListItem]:
        rows, after = paging.fetch(session, query, FlowDefinition.id, limit, cursor)
        items = [FlowListItem.model_validate(row) for row in flows.summarize(session, rows)]
        return paging.Page(items=items, next_cursor=after)

    return await run(caller, action)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FlowDetail,
    summary="Create a flow",
    responses=ONCE,
)
async def create_flow(
    body: FlowCreate, caller: Editor, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> FlowDefinition:
        graph = body.graph.model_dump() if body.graph is not None else None
        return flows.create_flow(
            session,
            me,
            body.name,
            graph=graph,
            folder_id=body.folder_id,
            description=body.description,
        )

    return await _created(caller, idempotency_key, request, action)


@router.post(
    "/validate",
    response_model=ValidationOut,
    summary="Validate a graph (nothing is saved)",
)
async def validate_graph(body: Graph, caller: Viewer) -> ValidationOut:
    def action(session: Session, _: AdminUser) -> ValidationOut:
        checked = flows.validate(session, body.model_dump())
        return ValidationOut(ok=checked.ok, issues=checked.issues)

    return await run(caller, action)


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    response_model=FlowDetail,
    summary="Import an exported flow as a new draft (422 lists every problem)",
    responses=ONCE,
)
async def import_flow(
    body: FlowDocument,
    caller: Editor,
    request: Request,
    folder_id: Annotated[int | None, Query(description="Put it in this folder.")] = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> FlowDefinition:
        try:
            return flows.import_flow(session, me, body.model_dump(), folder_id=folder_id)
        except flows.FlowImportError as exc:
            raise ApiError(422, str(exc), details=exc.problems) from None

    return await _created(caller, idempotency_key, request, action)


@router.get(
    "/{flow_id}",
    response_model=FlowDetail,
    summary="Get a flow with its draft graph",
    responses=ETAG,
)
async def get_flow(flow_id: FlowId, caller: Viewer, response: Response) -> FlowDetail:
    return await run(caller, lambda session, _: _detail(flows.get_flow(session, flow_id), response))


@router.put(
    "/{flow_id}/graph",
    response_model=FlowDetail,
    summary="Replace the draft graph (If-Match required; 412 when someone saved meanwhile)",
    responses=CONDITIONAL,
)
async def put_graph(
    flow_id: FlowId, body: Graph, caller: Editor, response: Response, if_match: IfMatch = None
) -> FlowDetail:
    revision = expected_revision(if_match)

    def action(session: Session, me: AdminUser) -> FlowDetail:
        flow = flows.save_draft(session, me, flow_id, body.model_dump(), revision)
        return _detail(flow, response)

    return await run(caller, action)


@router.patch(
    "/{flow_id}",
    response_model=FlowDetail,
    summary="Rename, describe or move a flow (If-Match required)",
    responses=CONDITIONAL,
)
async def patch_flow(
    flow_id: FlowId, body: FlowPatch, caller: Editor, response: Response, if_match: IfMatch = None
) -> FlowDetail:
    revision = expected_revision(if_match)
    moved = "folder_id" in body.model_fields_set
    folder = (flows.ROOT if body.folder_id is None else body.folder_id) if moved else None

    def action(session: Session, me: AdminUser) -> FlowDetail:
        flow = flows.edit_flow(
            session,
            me,
            flow_id,
            expected_revision=revision,
            name=body.name,
            description=body.description,
            folder=folder,
        )
        return _detail(flow, response)

    return await run(caller, action)


@router.delete(
    "/{flow_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a flow with its versions and runs (409 while webhooks start it)",
    responses=refusals(c409="Webhooks start this flow: delete or re-point them first."),
)
async def delete_flow(flow_id: FlowId, caller: Editor) -> None:
    await run(caller, lambda session, me: flows.delete_flow(session, me, flow_id))


@router.post(
    "/{flow_id}/duplicate",
    status_code=status.HTTP_201_CREATED,
    response_model=FlowDetail,
    summary="Copy a flow's draft into a new flow",
    responses=ONCE,
)
async def duplicate_flow(
    flow_id: FlowId, caller: Editor, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    return await _created(
        caller,
        idempotency_key,
        request,
        lambda session, me: flows.duplicate_flow(session, me, flow_id),
    )


@router.post(
    "/{flow_id}/publish",
    status_code=status.HTTP_201_CREATED,
    response_model=VersionOut,
    summary="Publish the draft as the next version (409 while it has errors)",
    responses=refusals(c409=f"The draft has errors, or: {KEY_IN_USE}", c412=STALE),
)
async def publish_flow(
    flow_id: FlowId,
    caller: Editor,
    request: Request,
    body: PublishIn | None = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """With If-Match, only the draft revision the caller reviewed is published."""
    revision = expected_revision(if_match) if if_match else None
    note = body.note if body is not None else ""
    activate = body.activate if body is not None else None
    return await _created(
        caller,
        idempotency_key,
        request,
        lambda session, me: flows.publish(session, me, flow_id, note, revision, activate),
        VersionOut,
    )


async def _set_status(caller: Caller, flow_id: int, wanted: FlowStatus) -> FlowOut:
    def action(session: Session, me: AdminUser) -> FlowOut:
        flows.set_status(session, me, flow_id, wanted)
        return FlowOut.model_validate(flows.get_flow(session, flow_id))

    return await run(caller, action)


@router.post(
    "/{flow_id}/activate",
    response_model=FlowOut,
    summary="Activate a published flow: its triggers start it (409 before publishing)",
    responses=refusals(c409="The flow is not published yet."),
)
async def activate_flow(flow_id: FlowId, caller: Editor) -> FlowOut:
    return await _set_status(caller, flow_id, FlowStatus.active)


@router.post("/{flow_id}/pause", response_model=FlowOut, summary="Pause a flow: its triggers stop")
async def pause_flow(flow_id: FlowId, caller: Editor) -> FlowOut:
    return await _set_status(caller, flow_id, FlowStatus.paused)


@router.get(
    "/{flow_id}/export", response_model=FlowDocument, summary="Export the draft as a JSON file"
)
async def export_flow(flow_id: FlowId, caller: Viewer, response: Response) -> FlowDocument:
    document = await run(caller, lambda session, _: flows.export_flow(session, flow_id))
    response.headers["Content-Disposition"] = f'attachment; filename="flow-{flow_id}.json"'
    return FlowDocument.model_validate(document)


# --------------------------------------------------------------------------- versions


@router.get(
    "/{flow_id}/versions",
    response_model=paging.Page[VersionOut],
    summary="List a flow's published versions",
)
async def list_versions(
    flow_id: FlowId, caller: Viewer, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[VersionOut]:
    def action(session: Session, _: AdminUser) -> paging.Page[VersionOut]:
        flows.get_flow(session, flow_id)
        query = flows.versions_query(flow_id)
        rows, after = paging.fetch(session, query, FlowVersion.id, limit, cursor)
        return paging.Page(items=[VersionOut.model_validate(v) for v in rows], next_cursor=after)

    return await run(caller, action)


@router.get(
    "/{flow_id}/versions/{version}",
    response_model=VersionDetail,
    summary="Get a published version with its graph",
)
async def get_version(flow_id: FlowId, version: VersionNumber, caller: Viewer) -> VersionDetail:
    def action(session: Session, _: AdminUser) -> VersionDetail:
        found = flows.get_version(session, flow_id, version)
        return VersionDetail.model_validate(found)

    return await run(caller, action)


@router.get(
    "/{flow_id}/versions/{version}/diff",
    response_model=flows.GraphDiff,
    summary="What a version changed: nodes added/removed/changed, edges added/removed",
)
async def diff_version(
    flow_id: FlowId,
    version: VersionNumber,
    caller: Viewer,
    base: Annotated[
        str | None,
        Query(
            pattern=r"^(draft|[0-9]+)$",
            description="Compare with this version number, or `draft` (what restoring would "
            "change); by default the version before it.",
        ),
    ] = None,
) -> flows.GraphDiff:
    against: int | Literal["draft"] | None = (
        None if base is None else "draft" if base == "draft" else int(base)
    )
    return await run(
        caller, lambda session, _: flows.diff_version(session, flow_id, version, against)
    )


@router.post(
    "/{flow_id}/versions/{version}/restore",
    response_model=FlowDetail,
    summary="Put a version's graph back into the draft (If-Match required)",
    responses=CONDITIONAL,
)
async def restore_version(
    flow_id: FlowId,
    version: VersionNumber,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
) -> FlowDetail:
    revision = expected_revision(if_match)

    def action(session: Session, me: AdminUser) -> FlowDetail:
        found = flows.get_version(session, flow_id, version)
        return _detail(
            flows.restore_version(session, me, flow_id, found.id or 0, revision), response
        )

    return await run(caller, action)


# --------------------------------------------------------------------------- runs


async def _start(
    caller: Caller,
    key: str | None,
    request: Request,
    flow_id: int,
    body: RunIn,
    *,
    draft: bool,
) -> JSONResponse:
    """Start a run as the REST run route and the editor do (same trigger, same launch)."""

    def action(session: Session, me: AdminUser) -> dict[str, Any]:
        flows.get_flow(session, flow_id)  # a missing flow is 404, not "not runnable"
        event = trigger_event(body.payload, me)
        execution_id = executions.launch(flow_id, event, draft=draft)
        return RunStarted(execution_id=execution_id).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 202, await run(caller, action)

    return await once(caller, key, request, produce)


def _run_route(path: str, name: str, summary: str, *, draft: bool) -> None:
    """Declare one of the two run routes; they differ only in what they run."""

    @router.post(
        path,
        name=name,
        status_code=status.HTTP_202_ACCEPTED,
        response_model=RunStarted,
        summary=summary,
        responses=refusals(c409=f"The flow cannot run now (see the message), or: {KEY_IN_USE}"),
    )
    async def start(
        flow_id: FlowId,
        caller: Editor,
        request: Request,
        body: RunIn | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        return await _start(caller, idempotency_key, request, flow_id, body or RunIn(), draft=draft)


_run_route(
    "/{flow_id}/test-run",
    "test_run_flow",
    "Run the current draft once (409 while it has errors)",
    draft=True,
)
_run_route(
    "/{flow_id}/run",
    "run_flow",
    "Run the published version of an active flow (409 otherwise)",
    draft=False,
)

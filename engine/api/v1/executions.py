"""Executions: list with filters, read one with its steps, cancel, re-run from a node.

Views are the services' (engine/services/executions.py ``execution_view``): secrets
appear redacted, and their sealed originals never leave the server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.api.v1 import paging
from engine.api.v1.caller import Editor, Viewer, run
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser, ExecutionStatus, FlowExecution, StepStatus
from engine.rerun import start_rerun
from engine.services import executions

router = APIRouter(prefix="/executions", tags=["Executions"])
ExecutionId = Annotated[int, Path(description="The execution's id.")]


class ExecutionOut(BaseModel):
    """One run of a flow version; ``result`` and ``error`` show secrets redacted."""

    execution_id: int = Field(examples=[1042])
    flow_id: int = Field(examples=[7])
    version_id: int | None = Field(description="The flow version it runs.", examples=[12])
    status: ExecutionStatus = Field(
        description="`waiting` is parked on a durable delay; `stopped` includes cancelled "
        "(then `error` says who cancelled it)."
    )
    trigger_type: str = Field(examples=["message"])
    result: dict[str, Any] | None = Field(
        description="The last node's output and the variables set, once finished.",
        examples=[{"last_node": "send1", "output": {"message_id": 5}, "variables": {}}],
    )
    error: str | None = Field(examples=[None, "cancelled by ada"])
    started_at: datetime
    finished_at: datetime | None
    resume_at: datetime | None = Field(description="When a waiting execution goes on.")

    @classmethod
    def of(cls, execution: FlowExecution) -> ExecutionOut:
        return cls.model_validate(executions.execution_view(execution))


class StepOut(BaseModel):
    """One node's run: its rendered input and its output, secrets redacted."""

    seq: int = Field(description="Order within the execution, from 1.")
    node_id: str = Field(examples=["send1"])
    node_type: str = Field(examples=["tg_send_message"])
    status: StepStatus
    input: dict[str, Any] = Field(examples=[{"text": "Welcome, Ada!"}])
    output: dict[str, Any] | None = Field(examples=[{"message_id": 5}])
    error: str | None
    handle: str | None = Field(description="The output handle it followed.", examples=["next"])
    started_at: datetime
    duration_ms: float | None


class ExecutionDetail(ExecutionOut):
    """An execution with every step it recorded, in order."""

    steps: list[StepOut]


class RerunRequest(BaseModel):
    node_id: str = Field(
        min_length=1,
        max_length=64,
        description="A node that ran in the execution: the steps before it are replayed "
        "with their recorded outputs, it and the rest run again.",
        examples=["send1"],
    )


@router.get("", response_model=paging.Page[ExecutionOut], summary="List executions, newest first")
async def list_executions(
    caller: Viewer,
    flow_id: Annotated[int | None, Query(description="Only this flow's executions.")] = None,
    status: Annotated[ExecutionStatus | None, Query(description="Only in this status.")] = None,
    trigger_type: Annotated[
        str | None, Query(max_length=64, description="Only started by this trigger kind.")
    ] = None,
    started_after: Annotated[
        datetime | None, Query(description="Started at or after (ISO 8601; no zone: UTC).")
    ] = None,
    started_before: Annotated[
        datetime | None, Query(description="Started before (ISO 8601; no zone: UTC).")
    ] = None,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[ExecutionOut]:
    query = executions.executions_query(
        flow_id=flow_id,
        status=status,
        trigger_type=trigger_type,
        started_after=started_after,
        started_before=started_before,
    )

    def action(session: Session, _: AdminUser) -> paging.Page[ExecutionOut]:
        rows, after = paging.fetch(session, query, FlowExecution.id, limit, cursor)
        return paging.Page(items=[ExecutionOut.of(e) for e in rows], next_cursor=after)

    return await run(caller, action)


@router.get(
    "/{execution_id}",
    response_model=ExecutionDetail,
    summary="Get an execution with its steps",
)
async def get_execution(execution_id: ExecutionId, caller: Viewer) -> ExecutionDetail:
    def action(session: Session, _: AdminUser) -> ExecutionDetail:
        execution = executions.get_execution(session, execution_id)
        return ExecutionDetail.model_validate(executions.execution_view(execution, steps=True))

    return await run(caller, action)


@router.post(
    "/{execution_id}/cancel",
    response_model=ExecutionOut,
    summary="Cancel a queued, running or waiting execution",
    description="Queued and waiting executions stop at once. A running one is recorded "
    "`stopped` now and its worker starts no further step (the step in flight finishes). "
    "Cancelling an execution also cancels the flows it started with run_flow.",
    responses={409: {"description": "The execution has already finished."}},
)
async def cancel_execution(execution_id: ExecutionId, caller: Editor) -> ExecutionOut:
    def action(session: Session, me: AdminUser) -> ExecutionOut:
        return ExecutionOut.of(executions.cancel(session, me, execution_id))

    return await run(caller, action)


@router.post(
    "/{execution_id}/rerun",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExecutionOut,
    summary="Re-run an execution from one of its nodes",
    description="Starts a new execution of the same version and trigger; the answer is it, "
    "queued. Honours `Idempotency-Key`.",
)
async def rerun_execution(
    execution_id: ExecutionId,
    body: RerunRequest,
    caller: Editor,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, Any]:
        new_id = start_rerun(session, me, execution_id, body.node_id)
        return ExecutionOut.of(executions.get_execution(session, new_id)).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 202, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)

"""REST: run a flow with a sample payload, read an execution (API-token auth).

``POST /api/flows/{id}/run`` runs the published version of an active flow; with
``"draft": true`` it runs the current draft instead (any status), frozen as a test-run
snapshot (see :func:`engine.services.executions.draft_snapshot`). ``payload`` is the
trigger: a complete PlatformEvent (such as a trigger's example payload) is used as it is,
under a new event id; anything else becomes a manual run's ``trigger.data``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from engine.api.deps import api_user
from engine.models import AdminUser, Role
from engine.platform_event import EventUser, PlatformEvent
from engine.services import executions

router = APIRouter()
Editor = Annotated[AdminUser, Depends(api_user(Role.editor))]
Viewer = Annotated[AdminUser, Depends(api_user(Role.viewer))]


class RunRequest(BaseModel):
    payload: dict[str, Any] = Field(default_factory=dict)
    draft: bool = False


@router.post("/api/flows/{flow_id}/run", status_code=202)
async def run_flow(
    flow_id: int,
    request: RunRequest,
    user: Editor,
    wait: Annotated[float, Query(ge=0, le=executions.MAX_WAIT_SECONDS)] = 0,
) -> JSONResponse:
    event = trigger_event(request.payload, user)
    try:
        execution_id = await asyncio.to_thread(
            executions.launch, flow_id, event, draft=request.draft
        )
    except executions.NotRunnable as exc:
        raise HTTPException(409, str(exc)) from None
    if wait > 0:
        execution = await executions.wait_for_finish(execution_id, wait)
        if execution is not None and execution.status in executions.TERMINAL:
            return JSONResponse(executions.execution_view(execution), status_code=200)
    return JSONResponse({"execution_id": execution_id}, status_code=202)


@router.get("/api/executions/{execution_id}")
async def get_execution(execution_id: int, _: Viewer) -> dict[str, Any]:
    execution = await asyncio.to_thread(executions.load, execution_id)
    if execution is None:
        raise HTTPException(404, f"Execution {execution_id} does not exist.")
    return await asyncio.to_thread(executions.execution_view, execution, steps=True)


def trigger_event(payload: dict[str, Any], user: AdminUser) -> PlatformEvent:
    event_id = f"run:{uuid.uuid4().hex}"
    try:
        return PlatformEvent.model_validate({**payload, "event_id": event_id})
    except ValidationError:
        return PlatformEvent(
            event_id=event_id,
            kind="manual",
            platform="flowbot",
            user=EventUser(id=user.username, username=user.username),
            data=payload,
        )

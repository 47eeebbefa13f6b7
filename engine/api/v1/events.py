"""Live events: the event bus as Server-Sent Events.

``GET /api/v1/events?topics=executions,connections,flow:<id>`` sends each event as
``id:`` + ``data:`` (``{"topic": ..., "payload": ...}``) and a ``: heartbeat`` comment
every 15 seconds. Reconnecting with ``Last-Event-ID`` first sends what was published
since that id from the bus's replay logs (engine/events.py: the last 1,000 events per
topic, kept in Redis when scaled so any web process can resume), then goes on live.

The engine redacts traces before publishing; on top of that a viewer's stream leaves out
connection ``details`` (WhatsApp QR and pairing codes link an account: editors' work).
The token is checked again at each heartbeat: a revoked token or a deactivated owner
ends the stream, a lowered role narrows it.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from engine import events
from engine.api.v1.caller import Caller, Viewer, run
from engine.api.v1.errors import ApiError
from engine.db import session_scope
from engine.models import AdminUser, FlowDefinition, Role
from engine.services import auth
from engine.services.errors import NotFound

router = APIRouter(prefix="/events", tags=["Live events"])
log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
RETRY_MS = 3000  # how soon a dropped client reconnects (EventSource honours it)
MAX_TOPICS = 20
FIXED_TOPICS = {"executions": "execution.*", "connections": "connection.*"}
FLOW_TOPIC = re.compile(r"^flow:([1-9][0-9]{0,17})$")
EXAMPLE = (
    "id: 1718000000000001\n"
    'data: {"topic": "flow:7", "payload": {"type": "step", "execution_id": 42, '
    '"flow_id": 7, "node_id": "send", "status": "succeeded"}}\n\n'
    ": heartbeat\n\n"
)

Topics = Annotated[
    str,
    Query(
        max_length=1000,
        description="Comma-separated: `executions`, `connections`, `flow:<id>`.",
        examples=["executions,flow:7"],
    ),
]
LastEventId = Annotated[
    int | None,
    Header(
        alias="Last-Event-ID",
        ge=0,
        description="The last `id:` received: events since then are sent first.",
    ),
]


def bus_patterns(topics: str) -> dict[str, str]:
    """The bus pattern of each requested topic (``flow:7`` → ``flow.7``); 422 if unknown."""
    wanted = [t.strip() for t in topics.split(",") if t.strip()]
    if not wanted or len(set(wanted)) > MAX_TOPICS:
        raise ApiError(422, f"Ask for 1 to {MAX_TOPICS} topics.")
    patterns: dict[str, str] = {}
    for topic in wanted:
        flow = FLOW_TOPIC.match(topic)
        if topic not in FIXED_TOPICS and flow is None:
            raise ApiError(
                422,
                f"Unknown topic {topic[:80]!r}: use executions, connections or flow:<id>.",
                details=[{"field": "topics", "problem": "unknown topic"}],
            )
        patterns[FIXED_TOPICS.get(topic) or f"flow.{flow and flow.group(1)}"] = topic
    return patterns


def visible(topic: str, payload: dict[str, Any], role: Role) -> dict[str, Any]:
    """What ``role`` may see of an event: viewers get no connection details."""
    if topic.startswith("connection.") and not role.allows(Role.editor):
        return {k: v for k, v in payload.items() if k != "details"}
    return payload


def _frame(event: events.BusEvent, topic: str, role: Role) -> str:
    data = json.dumps({"topic": topic, "payload": visible(event.topic, event.payload, role)})
    return (f"id: {event.id}\n" if event.id is not None else "") + f"data: {data}\n\n"


def _current_role(caller: Caller) -> Role | None:
    with session_scope() as session:
        return auth.api_token_role(session, caller.token_id)


async def _stream(
    caller: Caller, patterns: dict[str, str], after: int | None
) -> AsyncIterator[str]:
    role = caller.role
    subscription = events.subscribe(*patterns)
    try:
        try:
            await subscription.started()
            backlog = (
                [] if after is None else await asyncio.to_thread(events.replay, patterns, after)
            )
        except Exception:  # Redis is down: the client reconnects after `retry` with its id
            log.warning("cannot follow the event bus", exc_info=True)
            yield f"retry: {RETRY_MS}\nevent: unavailable\ndata: {{}}\n\n"
            return
        yield f"retry: {RETRY_MS}\n: subscribed\n\n"
        high = 0  # events up to here were sent from the backlog
        for kept in backlog:
            yield _frame(kept, _topic_of(kept, patterns), role)
            high = kept.id or high
        while True:
            event = await events.next_within(subscription, HEARTBEAT_SECONDS)
            if event is None:
                now = await asyncio.to_thread(_current_role, caller)
                if now is None:
                    return
                role = now
                yield ": heartbeat\n\n"
                continue
            if event.id is not None and event.id <= high:
                continue
            yield _frame(event, _topic_of(event, patterns), role)
    finally:
        await subscription.close()


def _topic_of(event: events.BusEvent, patterns: dict[str, str]) -> str:
    return next((t for p, t in patterns.items() if fnmatch.fnmatchcase(event.topic, p)), "")


@router.get(
    "",
    summary="Stream live events (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"example": EXAMPLE}}}},
)
async def stream_events(
    caller: Viewer,
    topics: Topics = "executions,connections",
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    patterns = bus_patterns(topics)
    flow_ids = [int(p.split(".", 1)[1]) for p in patterns if p.startswith("flow.")]

    def check(session: Session, _: AdminUser) -> None:
        for flow_id in flow_ids:
            if session.get(FlowDefinition, flow_id) is None:
                raise NotFound(f"Flow {flow_id} does not exist.")

    await run(caller, check)
    return StreamingResponse(
        _stream(caller, patterns, last_event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

"""System status (viewers and up): database, Redis, workers, the queues, supervisors,
process heartbeats, connections, health checks and incidents; and where the health check's
notices go (admins only).

The gathering is engine/services/system_status.py, the channel
engine/services/health_settings.py; this is their HTTP face.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from engine.api.v1.caller import Admin, Viewer, run, run_async
from engine.services import health_settings, system_status

router = APIRouter(prefix="/system", tags=["System"])


class Reachability(BaseModel):
    ok: bool
    latency_ms: float | None = Field(description="How long the probe took.")
    error: str | None = Field(description="Why it is not reachable, in words.")
    detail: str | None = Field(description="The client's own error text (the raw detail).")


class WorkerBeat(BaseModel):
    """A process on the broker by its last heartbeat (scaled: Dramatiq's, which web
    processes sending messages also give; embedded: this process's worker threads)."""

    id: str
    last_heartbeat_at: datetime
    alive: bool
    this_process: bool
    threads: int | None = Field(description="Live worker threads (embedded mode only).")


class QueueStatus(BaseModel):
    """A Dramatiq queue (embedded mode: the web process's in-memory broker, whose messages
    do not outlive the process)."""

    name: str = Field(examples=["flows"])
    depth: int = Field(description="Messages waiting or being worked on (delayed apart).")
    waiting: int = Field(description="Not yet fetched by any worker.")
    delayed: int
    dead_lettered: int
    oldest_age_seconds: float | None = Field(
        description="Age of the oldest message counted in `depth`; null when empty."
    )


class HeldInstance(BaseModel):
    connection_id: int
    instance_id: int
    name: str
    kind: str = Field(examples=["telegram_bot"])
    status: str = Field(examples=["connected"])
    active: bool
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None


class SupervisorStatus(BaseModel):
    owner: str = Field(description="The supervisor's id: host:pid:random.")
    alive: bool = Field(description="Holds at least one lease that has not expired.")
    last_heartbeat_at: datetime | None
    pool_url: str | None
    instances: list[HeldInstance]


class ProcessStatus(BaseModel):
    kind: Literal["web", "worker", "supervisor"]
    key: str = Field(description="kind:host:pid (a supervisor's: supervisor:its owner id).")
    host: str
    pid: int
    version: str = Field(description="The Flowbot package version the process runs.")
    started_at: datetime
    heartbeat_at: datetime
    alive: bool = Field(description="Beat within the last 90 seconds.")
    details: dict[str, Any]


class ConnectionState(BaseModel):
    connection_id: int
    name: str
    kind: str = Field(examples=["telegram_bot"])
    status: str = Field(examples=["connected"])
    last_event_at: str | None = Field(description="When its last platform event went through.")
    last_error: str | None = Field(description="The client's own error text (the detail).")
    cause: str = Field(description="`last_error` in words; empty without one.")


class Problem(BaseModel):
    """Something down now."""

    component: str = Field(examples=["redis", "connection:3"])
    label: str
    since: datetime | None = Field(
        description="When the health check first saw it down; null before a check has."
    )
    cause: str = Field(description="What is wrong, in words.")
    detail: str = Field(description="The raw error text behind `cause`.")


class CheckRecord(BaseModel):
    checked_at: datetime
    ok: bool
    down: list[str] = Field(description="Components down at that check, by name.")


class IncidentRecord(BaseModel):
    component: str = Field(examples=["connection:3", "redis"])
    label: str
    error: str
    started_at: datetime
    resolved_at: datetime | None
    notified_down_at: datetime | None
    notified_up_at: datetime | None
    notify_error: str | None = Field(description="Why the last notice failed (retried).")
    cause: str = Field(description="`error` in words.")


class SystemStatus(BaseModel):
    mode: Literal["embedded", "scaled"]
    database: Reachability
    redis: Reachability | None = Field(description="Null in embedded mode (no Redis).")
    workers: list[WorkerBeat] | None = Field(description="Null when Redis is unreachable.")
    queues: list[QueueStatus] | None = Field(
        description="Every queue the app declares, by name; null when Redis is unreachable."
    )
    supervisors: list[SupervisorStatus]
    unheld: list[HeldInstance] = Field(
        description="Active instances no live supervisor holds (waiting for a lease)."
    )
    processes: list[ProcessStatus] = Field(description="Web, worker and supervisor processes.")
    connections: list[ConnectionState] = Field(description="Each active connection.")
    checks: list[CheckRecord] = Field(description="The latest health checks, newest first.")
    incidents: list[IncidentRecord] = Field(description="The latest incidents, newest first.")
    problems: list[Problem] = Field(description="What is down now, in words.")


@router.get("/status", response_model=SystemStatus, summary="System status")
async def get_status(caller: Viewer) -> SystemStatus:
    found = await run(caller, system_status.gather)
    return SystemStatus.model_validate(found, from_attributes=True)


class NotificationChannel(BaseModel):
    """Where the health check's notices go: a chat on a connection, or a webhook."""

    kind: Literal["chat", "webhook"]
    instance_id: int | None = Field(
        default=None, description="Chat: the connection's bot instance that sends."
    )
    chat_id: str = Field(default="", description="Chat: the platform's chat id.")
    url: str = Field(default="", description='Webhook: POSTed {"text", "key"} as JSON.')


class TestNotice(BaseModel):
    sent: bool
    error: str | None = Field(description="Why it did not arrive.")


def _channel_out(channel: health_settings.Channel | None) -> NotificationChannel | None:
    return NotificationChannel(**asdict(channel)) if channel else None


@router.get(
    "/notifications",
    response_model=NotificationChannel | None,
    summary="Where health notices go (null: nowhere)",
)
async def get_notifications(caller: Admin) -> NotificationChannel | None:
    return _channel_out(await run(caller, health_settings.get_channel))


@router.put(
    "/notifications", response_model=NotificationChannel, summary="Choose where health notices go"
)
async def put_notifications(body: NotificationChannel, caller: Admin) -> NotificationChannel | None:
    channel = health_settings.Channel(**body.model_dump())
    saved = await run(caller, lambda s, me: health_settings.set_channel(s, me, channel))
    return _channel_out(saved)


@router.delete("/notifications", status_code=204, summary="Send health notices nowhere")
async def delete_notifications(caller: Admin) -> None:
    await run(caller, lambda s, me: health_settings.set_channel(s, me, None))


@router.post("/notifications/test", response_model=TestNotice, summary="Send a test health notice")
async def test_notifications(caller: Admin) -> TestNotice:
    try:
        await run_async(caller, health_settings.send_test)
    except health_settings.NoticeFailed as failed:
        return TestNotice(sent=False, error=str(failed))
    return TestNotice(sent=True, error=None)

"""System status (viewers and up): database, Redis, workers, the flow queue, supervisors.

The gathering is engine/services/system_status.py; this is its HTTP face.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from engine.api.v1.caller import Viewer, run
from engine.services import system_status

router = APIRouter(prefix="/system", tags=["System"])


class Reachability(BaseModel):
    ok: bool
    latency_ms: float | None = Field(description="How long the probe took.")
    error: str | None = Field(description="The kind of failure when not reachable.")


class WorkerBeat(BaseModel):
    """A process on the broker by its last heartbeat (scaled: Dramatiq's, which web
    processes sending messages also give; embedded: this process's worker threads)."""

    id: str
    last_heartbeat_at: datetime
    alive: bool
    this_process: bool
    threads: int | None = Field(description="Live worker threads (embedded mode only).")


class QueueStatus(BaseModel):
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


class SystemStatus(BaseModel):
    mode: Literal["embedded", "scaled"]
    database: Reachability
    redis: Reachability | None = Field(description="Null in embedded mode (no Redis).")
    workers: list[WorkerBeat] | None = Field(description="Null when Redis is unreachable.")
    queue: QueueStatus | None = Field(description="Null when Redis is unreachable.")
    supervisors: list[SupervisorStatus]
    unheld: list[HeldInstance] = Field(
        description="Active instances no live supervisor holds (waiting for a lease)."
    )


@router.get("/status", response_model=SystemStatus, summary="System status")
async def get_status(caller: Viewer) -> SystemStatus:
    found = await run(caller, system_status.gather)
    return SystemStatus.model_validate(found, from_attributes=True)

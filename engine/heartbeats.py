"""Process heartbeats: each web process, worker process and connector supervisor keeps one
``ProcessHeartbeat`` row fresh from a loop it already runs (the web lifespan, the
worker's sweep timer, the supervisor's lease loop), so the status page and the health
check see every process in either mode.

A beat is one UPDATE of the process's own row (an INSERT the first time); rows silent
for ``PRUNE_AFTER`` are deleted by the health check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from functools import cache
from importlib import metadata
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from engine.child_tasks import cancel_and_wait
from engine.db import get_engine, table_of
from engine.models import utcnow
from engine.models.health import ProcessHeartbeat

log = logging.getLogger(__name__)

BEAT_SECONDS = 30.0
"""How often a process beats; a process silent for ``ALIVE_WITHIN`` counts as gone."""
ALIVE_WITHIN = timedelta(seconds=BEAT_SECONDS * 3)
PRUNE_AFTER = timedelta(hours=1)
KINDS = ("web", "worker", "supervisor")


@cache
def version() -> str:
    """The installed Flowbot package's version, shown beside each process."""
    try:
        return metadata.version("flowbot")
    except metadata.PackageNotFoundError:
        return "unknown"


def process_key(kind: str, suffix: str | None = None) -> str:
    """``kind:host:pid`` (or ``kind:suffix`` for a supervisor, whose owner id holds both)."""
    return f"{kind}:{suffix or f'{socket.gethostname()}:{os.getpid()}'}"


def beat(kind: str, key: str | None = None, details: dict[str, Any] | None = None) -> None:
    """Mark this process alive now: one UPDATE, or the INSERT of its first beat."""
    key = key or process_key(kind)
    now = utcnow()
    values: dict[str, Any] = {"heartbeat_at": now, "version": version()}
    if details is not None:
        values["details"] = details
    table = table_of(ProcessHeartbeat)
    with get_engine().begin() as conn:
        updated = conn.execute(sa.update(table).where(table.c.key == key).values(**values))
        if updated.rowcount:
            return
    row = {
        "key": key,
        "kind": kind,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "details": details or {},
        "started_at": now,
        **values,
    }
    try:
        with get_engine().begin() as conn:
            conn.execute(sa.insert(table).values(**row))
    except sa.exc.IntegrityError:  # a second thread of this process inserted it first
        with get_engine().begin() as conn:
            conn.execute(sa.update(table).where(table.c.key == key).values(**values))


def forget(key: str) -> None:
    """A process stopping cleanly removes its row at once."""
    table = table_of(ProcessHeartbeat)
    with get_engine().begin() as conn:
        conn.execute(sa.delete(table).where(table.c.key == key))


def prune(now: datetime) -> int:
    """Delete the rows of processes silent for ``PRUNE_AFTER``; how many went."""
    with get_engine().begin() as conn:
        gone = conn.execute(
            sa.delete(ProcessHeartbeat).where(
                col(ProcessHeartbeat.heartbeat_at) < now - PRUNE_AFTER
            )
        )
    return gone.rowcount


class Pacer:
    """Lets a loop that ticks more often than ``BEAT_SECONDS`` beat only that often."""

    def __init__(self, every: float = BEAT_SECONDS) -> None:
        self.every = every
        self._next = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.every
        return True


@contextlib.asynccontextmanager
async def web_heartbeat() -> AsyncIterator[None]:
    """Reflex lifespan task: the web process beats every ``BEAT_SECONDS`` while it serves."""
    key = process_key("web")
    task = asyncio.create_task(_beat_forever(key))
    try:
        yield
    finally:
        await cancel_and_wait(task)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(forget, key)


async def _beat_forever(key: str) -> None:
    while True:
        try:
            await asyncio.to_thread(beat, "web", key)
        except Exception as exc:  # the database may be down: beat again later
            log.warning("web heartbeat skipped: %s", type(exc).__name__)
        await asyncio.sleep(BEAT_SECONDS)

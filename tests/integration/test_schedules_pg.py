"""Workers sweeping at the same moment, on SQLite and PostgreSQL (the ``session``
fixture): a due schedule starts one execution, a due message is sent once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from engine import pool_client, runtime, scheduled_messages
from engine.models import FlowExecution, ScheduledMessage, ScheduledStatus
from engine.scheduled_messages import deliver_due_messages
from engine.schedules import fire_due_schedules
from tests.fakes.pool import FakePool
from tests.unit import test_runtime
from tests.unit.test_scheduled_messages import scheduled
from tests.unit.test_schedules import PUBLISHED, scheduled_flow

pool = test_runtime.pool  # the recording fake pool, wired in through the settings
SWEEPERS = 6


def race(sweep: Callable[[], Any]) -> list[Any]:
    """Run ``sweep`` in SWEEPERS threads released together; their results."""
    start = threading.Barrier(SWEEPERS)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(sweep())
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(SWEEPERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == SWEEPERS
    return results


def test_concurrent_sweeps_start_one_execution(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_id = scheduled_flow(session, interval_seconds=600)
    now = PUBLISHED + timedelta(seconds=601)
    # Every sweeper finds no execution yet before any creates one.
    checked = threading.Barrier(SWEEPERS)
    create = runtime.create_execution

    def create_once_all_checked(*args: Any, **kwargs: Any) -> FlowExecution:
        checked.wait(30)
        return create(*args, **kwargs)

    monkeypatch.setattr(runtime, "create_execution", create_once_all_checked)

    created = [i for ids in race(lambda: fire_due_schedules(now)) for i in ids]

    rows = session.exec(select(FlowExecution).where(FlowExecution.flow_id == flow_id)).all()
    assert len(rows) == 1
    assert set(created) == {rows[0].id}


async def test_concurrent_sweeps_send_each_message_once(
    session: Session, pool: FakePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [scheduled(session, text=f"m{n}") for n in range(3)]
    # Every sweeper reads the due rows before any claims one: the race the claim must win.
    read_all = threading.Barrier(SWEEPERS)
    claiming = threading.local()
    update = scheduled_messages._update

    def update_once_all_read(*args: Any, **values: Any) -> bool:
        if not getattr(claiming, "started", False):
            claiming.started = True
            read_all.wait(30)
        return update(*args, **values)

    monkeypatch.setattr(scheduled_messages, "_update", update_once_all_read)
    now = datetime(2025, 3, 14, 8, 0, tzinfo=UTC)

    async def deliver() -> dict[int, str | None]:
        try:
            return await deliver_due_messages(now)
        finally:
            await pool_client.aclose()  # this thread's loop has a client of its own

    # Threads with loops of their own; this loop keeps serving the fake pool meanwhile.
    outcomes = await asyncio.to_thread(race, lambda: asyncio.run(deliver()))

    delivered = [row_id for outcome in outcomes for row_id in outcome]
    assert sorted(delivered) == sorted(row.id for row in rows)
    assert sorted(c.params["text"] for c in pool.requests.calls) == ["m0", "m1", "m2"]
    session.expire_all()
    statuses = session.exec(select(ScheduledMessage.status)).all()
    assert statuses == [ScheduledStatus.sent] * 3

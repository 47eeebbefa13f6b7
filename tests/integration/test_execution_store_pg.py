"""The execution store's own PostgreSQL connections (issue 15): a run's load and end in
autocommit, without a ping before every checkout, and the end as one statement. Round trips
are counted by libpq's trace of what the client sends (one Sync or Query message each)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from engine import db, execution_store
from engine.execution_store import StepBatch
from engine.models import ExecutionStatus, StepStatus
from engine.redaction import Redactor
from tests.integration.test_execution_writes import PURE, new_execution, status_of
from tests.unit.test_runtime import make_flow, steps

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgresql_url: str) -> str:
    """PostgreSQL only: SQLite uses the main engine, which has no ping to skip."""
    return postgresql_url


@contextmanager
def round_trips() -> Iterator[list[int]]:
    """The messages that each end a round trip, sent on the store's connections meanwhile
    (checkout pings included); yields a one-item list filled in on exit."""
    engine, counted = execution_store._store_engine(), [0]
    with tempfile.TemporaryFile("w+") as trace:

        def start(dbapi: Any, *_: Any) -> None:
            dbapi.pgconn.trace(trace.fileno())

        def stop(dbapi: Any, *_: Any) -> None:
            dbapi.pgconn.untrace()

        sa.event.listen(engine, "checkout", start, insert=True)
        sa.event.listen(engine, "checkin", stop)
        try:
            yield counted
        finally:
            sa.event.remove(engine, "checkout", start)
            sa.event.remove(engine, "checkin", stop)
            os.fsync(trace.fileno())
            trace.seek(0)
            sent = [line.split("\t") for line in trace.read().splitlines()]
            counted[0] = sum(
                1 for part in sent if "F" in part and ("Sync" in part or "Query" in part)
            )


def _finish(execution_id: int, batch: StepBatch) -> ExecutionStatus:
    return execution_store.finish(
        execution_id,
        ExecutionStatus.succeeded,
        result={"ok": 1},
        error=None,
        resume_at=None,
        variables={},
        redactor=Redactor(),
        batch=batch,
        step_count=2,
        left_running=False,
    )


def _two_steps(execution_id: int) -> StepBatch:
    redactor, batch = Redactor(), StepBatch(execution_id)
    for seq, key in ((1, "v"), (2, "m")):
        record = batch.start(seq, key, None, execution_store.running_values(key, "x", {}, redactor))
        record.status = StepStatus.succeeded
        execution_store.finish_step(record, redactor, batch=batch)
    return batch


def test_the_end_with_its_steps_is_one_round_trip_on_a_recently_used_connection(
    session: Session,
) -> None:
    execution_id = new_execution(make_flow(session, *PURE))
    with round_trips() as loading:
        loaded = execution_store.load(execution_id)
    assert loaded.graph is not None and not loaded.steps
    assert loading == [2]  # the execution with its version, then the graph: no ping
    batch = _two_steps(execution_id)
    with round_trips() as ending:
        assert _finish(execution_id, batch) is ExecutionStatus.succeeded
    assert ending == [1]  # no ping, BEGIN nor COMMIT: one autocommit statement
    assert [s.step_key for s in steps(session, execution_id)] == ["v", "m"]
    assert status_of(execution_id) is ExecutionStatus.succeeded


def test_a_connection_idle_for_a_while_is_pinged_and_replaced_if_dead(session: Session) -> None:
    """Idle PING_IDLE_SECONDS or more, a connection is pinged as it is checked out; one the
    server ended meanwhile (a PostgreSQL restart) is replaced before the end is sent."""
    execution_id = new_execution(make_flow(session, *PURE))
    with execution_store._store_connection() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    _end_backend(pid)
    engine = execution_store._store_engine()
    sa.event.listen(engine, "checkout", _long_idle, insert=True)
    try:
        with round_trips() as ending:
            assert _finish(execution_id, _two_steps(execution_id)) is ExecutionStatus.succeeded
    finally:
        sa.event.remove(engine, "checkout", _long_idle)
    assert ending[0] >= 2  # the ping (on the dead connection: no answer) and the end
    assert status_of(execution_id) is ExecutionStatus.succeeded


def test_a_load_on_a_connection_that_died_just_after_use_is_read_again(session: Session) -> None:
    """Used moments ago, a connection is not pinged; if the server ended it meanwhile, the
    load's first statement fails and the load is read again on a new connection."""
    execution_id = new_execution(make_flow(session, *PURE))
    with execution_store._store_connection() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    _end_backend(pid)
    loaded = execution_store.load(execution_id)
    assert loaded.execution.id == execution_id and loaded.graph is not None


def _long_idle(_dbapi: Any, record: Any, _proxy: Any) -> None:
    record.info["idle_from"] = 0.0


def _end_backend(pid: int) -> None:
    with db.get_engine().connect() as admin:
        assert admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()


def test_an_error_on_the_driver_is_raised_as_sqlalchemys(session: Session) -> None:
    """The end of an execution deleted meanwhile, with steps: their rows have no execution
    to belong to; the error is SQLAlchemy's IntegrityError, as from the engine's own path."""
    gone = new_execution(make_flow(session, *PURE)) + 1000
    with pytest.raises(sa.exc.IntegrityError):
        _finish(gone, _two_steps(gone))
    with execution_store._store_connection() as connection:  # and the connection still works
        assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1

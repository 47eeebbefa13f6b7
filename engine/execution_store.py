"""Persistence of executions and their steps, kept apart from the executor's logic.

A step with external effects is written durably: its ``running`` row is its claim,
inserted (never reused) and committed before the effect, and its outcome committed right
after, so a redelivery can tell it was started and never repeats it (see
engine/runtime.py). The steps of side-effect-free nodes are kept in a :class:`StepBatch`
and written in one statement with the run's next durable write (a claim, the finish): a
pure flow costs two commits (create, finish), and a worker that dies only loses steps
that a re-run may run again without harm.

Everything written here goes through one :class:`~engine.redaction.Redactor`: secrets
are masked in what viewers read, and sealed where the engine reads them back.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from threading import Lock
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from psycopg.rows import RowFactory, dict_row, tuple_row
from pydantic_core import to_json, to_jsonable_python
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session, col, select

from engine.db import get_engine, session_scope, table_of
from engine.models import (
    ExecutionStatus,
    FlowDefinition,
    FlowExecution,
    FlowExecutionStep,
    FlowVersion,
    StepStatus,
    utcnow,
)
from engine.redaction import Redactor

TERMINAL = frozenset({ExecutionStatus.succeeded, ExecutionStatus.failed, ExecutionStatus.stopped})
OUTCOME_UNKNOWN = (
    "outcome unknown after a worker restart; not repeated (this step acts outside Flowbot "
    "and had already been started)"
)


class ExecutionNotFound(LookupError):
    pass


class ExecutionMissing(ExecutionNotFound):
    """No row has the execution's id (yet: its creator may not have committed)."""


class ExecutionCancelled(RuntimeError):
    """Someone cancelled the execution (its row is ``stopped``): no further step starts."""


class TreeFull(RuntimeError):
    """The trigger's tree of executions has used its execution budget."""


class ClaimTaken(RuntimeError):
    """Another run of the execution had already started this side-effecting step."""

    def __init__(self, step: StepRecord) -> None:
        super().__init__(step.step_key)
        self.step = step


_STEPS = table_of(FlowExecutionStep)


# --------------------------------------------------------------------------- connections

# A run's load and end on PostgreSQL use an engine of their own, in autocommit and without
# the main engine's ping before every checkout (two round trips per execution, issue 15):
# a connection idle this long is pinged when checked out; one that died sooner fails its
# statement, which invalidates the pool's older connections (a load is then read again on a
# new one; an end fails its message, which Dramatiq retries and every actor allows).
PING_IDLE_SECONDS = 1.0
_lean_engines: weakref.WeakKeyDictionary[sa.Engine, sa.Engine] = weakref.WeakKeyDictionary()
_lean_lock = Lock()


def _store_engine() -> sa.Engine:
    """The engine of the run's load and end: the main one on SQLite (no ping there), else a
    lean autocommit copy of it, disposed with it."""
    main = get_engine()
    if main.dialect.name != "postgresql":
        return main
    with _lean_lock:
        lean = _lean_engines.get(main)
        if lean is None:
            lean = _lean_engines[main] = _lean_engine(main)
    return lean


def _lean_engine(main: sa.Engine) -> sa.Engine:
    lean = sa.create_engine(
        main.url,
        isolation_level="AUTOCOMMIT",
        pool_size=10,  # as the main engine's: a pool smaller than the threads using it
        max_overflow=20,  # closes the extra connections on return and opens new ones
        pool_pre_ping=False,
        pool_reset_on_return=None,  # autocommit: no transaction to roll back
    )

    @sa.event.listens_for(lean, "checkin")
    def _idle_from(_dbapi: Any, record: Any) -> None:
        record.info["idle_from"] = time.monotonic()

    @sa.event.listens_for(lean, "checkout")
    def _ping_if_idle(dbapi: Any, record: Any, _proxy: Any) -> None:
        idle_from = record.info.get("idle_from")  # None: connected just now
        if idle_from is None or time.monotonic() - idle_from < PING_IDLE_SECONDS:
            return
        try:
            dbapi.execute("SELECT 1")
        except Exception as exc:  # the pool connects afresh and checks that one out
            raise sa.exc.DisconnectionError(str(exc)) from exc

    sa.event.listen(main, "engine_disposed", lambda _engine: lean.dispose())
    return lean


@contextmanager
def _store_connection() -> Iterator[sa.Connection]:
    """A connection of :func:`_store_engine` in autocommit (SQLite's too)."""
    engine = _store_engine()
    with engine.connect() as connection:
        if engine.dialect.name != "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def jsonable(value: Any) -> Any:
    return to_jsonable_python(value, fallback=str)


@dataclass
class StepRecord:
    """A step as the executor sees it; ``id`` is its row (None until a batch writes it)."""

    id: int | None
    seq: int
    step_key: str
    status: StepStatus
    output: dict[str, Any] | None
    error: str | None
    handle: str | None


def _record(row: FlowExecutionStep) -> StepRecord:
    assert row.id is not None
    return StepRecord(
        row.id, row.seq, row.step_key, StepStatus(row.status), row.output, row.error, row.handle
    )


# The hot statements' SQL for psycopg and the values of their constant parameters, compiled
# once per statement (the lean engine is PostgreSQL's psycopg dialect).
_driver_sql: dict[sa.ClauseElement, tuple[str, dict[str, Any]]] = {}


def _on_driver(
    connection: sa.Connection,
    statement: sa.ClauseElement,
    params: dict[str, Any],
    row_factory: RowFactory[Any] = tuple_row,
) -> list[Any]:
    """PostgreSQL: the statement's rows run straight on psycopg, compiled once (about 30 µs
    of CPU where SQLAlchemy's execution of the same compiled statement takes 115 µs, issue
    15). ``params`` as psycopg takes them (JSON as text: the statement casts it). Errors are
    raised as SQLAlchemy's would be; a connection found broken is invalidated first."""
    compiled = _driver_sql.get(statement)
    if compiled is None:
        done = cast(SQLCompiler, statement.compile(dialect=connection.dialect))
        fixed = {done.bind_names[b]: _plain(b.value) for b in done.binds.values() if not b.required}
        compiled = _driver_sql[statement] = (done.string, fixed)
    sql, fixed = compiled
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor(row_factory=row_factory) as cursor:
            return cursor.execute(sql, fixed | params).fetchall()
    except psycopg.Error as exc:
        if driver.broken:
            connection.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            sql, params, exc, psycopg.Error, connection_invalidated=driver.broken
        ) from exc


def _plain(value: Any) -> Any:
    """A constant parameter as psycopg takes it: an enum's value (its dumper sends names)."""
    return value.value if isinstance(value, Enum) else value


# --------------------------------------------------------------------------- executions


def create_execution(
    session: Session,
    flow_id: int,
    trigger: dict[str, Any],
    *,
    trigger_type: str,
    idempotency_key: str | None = None,
    parent: FlowExecution | None = None,
    version_id: int | None = None,
    max_tree: int | None = None,
    known_new: bool = False,
) -> FlowExecution:
    """A queued execution of the flow's published version (or ``version_id``).

    With an idempotency key, a second call (a redelivered event, a racing worker) returns
    the row the first one made: the insert runs in a savepoint and a unique violation
    falls back to reading the winner, on SQLite and PostgreSQL alike. ``known_new``: the
    caller knows no row has the key (it made the key up, or just looked), so it is not
    looked up first; the savepoint still catches a race. A child joins its
    parent's tree (``root_execution_id``); with ``max_tree``, a tree that already holds
    that many executions gets no new one (TreeFull). The trigger is stored sealed.
    """
    if idempotency_key is not None and not known_new:
        existing = _by_key(session, idempotency_key)
        if existing is not None:
            return existing
    root_id = (parent.root_execution_id or parent.id) if parent else None
    if root_id is not None and max_tree is not None and tree_size(session, root_id) >= max_tree:
        raise TreeFull(
            f"the execution tree ran out of its budget of {max_tree} executions "
            "(FLOWBOT_MAX_TREE_EXECUTIONS)"
        )
    if version_id is None:
        flow = session.get(FlowDefinition, flow_id)
        if flow is None:
            raise ExecutionNotFound(f"flow {flow_id} does not exist")
        if flow.published_version_id is None:
            raise ExecutionNotFound(f"flow {flow_id} has no published version")
        version_id = flow.published_version_id
    execution = FlowExecution(
        flow_id=flow_id,
        version_id=version_id,
        idempotency_key=idempotency_key,
        trigger_type=trigger_type,
        trigger_data=Redactor().seal(jsonable(trigger)),
        parent_execution_id=parent.id if parent else None,
        root_execution_id=root_id,
        depth=parent.depth + 1 if parent else 0,
    )
    try:
        with session.begin_nested():
            session.add(execution)
    except sa.exc.IntegrityError:
        if idempotency_key is None:
            raise
        existing = _by_key(session, idempotency_key)
        if existing is None:
            raise
        return existing
    return execution


_INSERT_EXECUTION = sa.insert(table_of(FlowExecution)).returning(table_of(FlowExecution).c.id)


def insert_new_execution(
    session: Session,
    flow_id: int,
    trigger: dict[str, Any],
    *,
    trigger_type: str,
    idempotency_key: str,
    version_id: int,
) -> int:
    """:func:`create_execution` of a root execution for an event no other can share (its
    key was just made up): the same row, built by the model, inserted by a Core statement
    prepared once (the ORM's flush of the one object was about a ninth of a webhook call's
    CPU); its id. In a savepoint as there: on SQLite, its release commits the row before
    the worker is sent it."""
    row = FlowExecution.model_construct(  # the model's defaults; no instance to keep
        flow_id=flow_id,
        version_id=version_id,
        idempotency_key=idempotency_key,
        trigger_type=trigger_type,
        trigger_data=Redactor().seal(jsonable(trigger)),
    )
    values = row.model_dump(exclude={"id"})
    with session.begin_nested():
        return int(session.connection().execute(_INSERT_EXECUTION, values).scalar_one())


def _by_key(session: Session, key: str) -> FlowExecution | None:
    return session.exec(select(FlowExecution).where(FlowExecution.idempotency_key == key)).first()


def tree_size(session: Session, root_id: int) -> int:
    """How many executions the tree rooted at ``root_id`` holds, the root included."""
    return session.exec(
        select(sa.func.count())
        .select_from(FlowExecution)
        .where(
            sa.or_(
                col(FlowExecution.id) == root_id, col(FlowExecution.root_execution_id) == root_id
            )
        )
    ).one()


@dataclass
class LoadedExecution:
    execution: FlowExecution
    graph: dict[str, Any] | None  # None: the caller said it has this version's graph
    version_created_at: datetime  # with the id, names a version even if SQLite reuses ids
    steps: dict[str, StepRecord]
    next_seq: int
    flow_stack: list[int]  # the flows of the run_flow chain, outermost first


def runnable(execution: FlowExecution, now: datetime) -> bool:
    """Whether a run should go on with the execution: not finished, and not parked until
    a later moment."""
    status = ExecutionStatus(execution.status)
    if status in TERMINAL:
        return False
    resume_at = execution.resume_at
    if status is not ExecutionStatus.waiting or resume_at is None:
        return True
    return (resume_at if resume_at.tzinfo else resume_at.replace(tzinfo=now.tzinfo)) <= now


_EXECUTIONS = table_of(FlowExecution)
_VERSIONS = table_of(FlowVersion)
_EXECUTION_COLUMNS = [column.name for column in _EXECUTIONS.c]
# Prepared once, read on a connection in autocommit: one statement, no BEGIN and COMMIT
# round trips, no ORM session (issue 15).
_LOAD = (
    sa.select(_EXECUTIONS, _VERSIONS.c.created_at.label("version_created_at"))
    .select_from(_EXECUTIONS.outerjoin(_VERSIONS, _VERSIONS.c.id == _EXECUTIONS.c.version_id))
    .where(_EXECUTIONS.c.id == sa.bindparam("execution_id"))
)
_GRAPH = sa.select(_VERSIONS.c.graph).where(_VERSIONS.c.id == sa.bindparam("version_id"))
_STEP_RECORDS = sa.select(
    _STEPS.c.id,
    _STEPS.c.seq,
    _STEPS.c.step_key,
    _STEPS.c.status,
    _STEPS.c.output,
    _STEPS.c.error,
    _STEPS.c.handle,
).where(_STEPS.c.execution_id == sa.bindparam("execution_id"))
_CALLER = sa.select(_EXECUTIONS.c.flow_id, _EXECUTIONS.c.parent_execution_id).where(
    _EXECUTIONS.c.id == sa.bindparam("execution_id")
)


def load(
    execution_id: int, has_graph: Callable[[int, datetime], bool] = lambda *_: False
) -> LoadedExecution:
    """The execution with its recorded steps, and its version's graph unless
    ``has_graph(version_id, created_at)`` (versions never change: a cached copy will do).
    A ``queued`` execution has no steps yet (every durable write marks it running or
    ended) unless a re-run seeded it with the replayed ones, which it counts in
    ``step_count``; a root execution has no callers. What cannot be there is not looked for.
    Read again once on a new connection if the first one turns out dead (a read is safe to
    repeat)."""
    try:
        return _load(execution_id, has_graph)
    except sa.exc.DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return _load(execution_id, has_graph)


def _load(execution_id: int, has_graph: Callable[[int, datetime], bool]) -> LoadedExecution:
    with _store_connection() as connection:
        params = {"execution_id": execution_id}
        if connection.dialect.name == "postgresql":
            first = _on_driver(connection, _LOAD, params, dict_row)
            found = first[0] if first else None
        else:
            found = connection.execute(_LOAD, params).mappings().first()
        if found is None:
            raise ExecutionMissing(f"execution {execution_id} does not exist")
        execution = loaded_execution({name: found[name] for name in _EXECUTION_COLUMNS})
        created_at = found["version_created_at"]
        if execution.version_id is None or created_at is None:
            raise ExecutionNotFound(f"execution {execution_id} has no flow version to run")
        graph = None
        if not has_graph(execution.version_id, created_at):
            graph = dict(connection.execute(_GRAPH, {"version_id": execution.version_id}).one()[0])
        steps: list[StepRecord] = []
        if execution.status != ExecutionStatus.queued or execution.step_count:
            rows = connection.execute(_STEP_RECORDS, {"execution_id": execution_id})
            steps = [
                StepRecord(row_id, seq, key, StepStatus(status), output, error, handle)
                for row_id, seq, key, status, output, error, handle in rows
            ]
        stack = [execution.flow_id]
        parent_id = execution.parent_execution_id
        while parent_id is not None and len(stack) < 50:
            caller = connection.execute(_CALLER, {"execution_id": parent_id}).first()
            if caller is None:
                break
            stack.insert(0, caller[0])
            parent_id = caller[1]
    return LoadedExecution(
        execution=execution,
        graph=graph,
        version_created_at=created_at,
        steps={step.step_key: step for step in steps},
        next_seq=max((step.seq for step in steps), default=0) + 1,
        flow_stack=stack,
    )


def loaded_execution(row: dict[str, Any]) -> FlowExecution:
    """The row as an execution, made as the ORM makes the rows it loads: without the model's
    validation and defaults, which a stored row has passed already (2 µs instead of 125 µs
    for ``FlowExecution(**row)``, issue 15)."""
    sa.orm.configure_mappers()  # done once; the instance needs its class's attributes
    execution: FlowExecution = sa.orm.class_mapper(FlowExecution).class_manager.new_instance()
    execution.__dict__.update(row)
    return execution


def version_graph(version_id: int) -> dict[str, Any]:
    """A version's graph, read alone (a cached copy was dropped since :func:`load`)."""
    with _store_connection() as connection:
        return dict(connection.execute(_GRAPH, {"version_id": version_id}).one()[0])


def set_running(session: Session, execution_id: int) -> None:
    """Mark the run started, in the transaction of its first durable write (or after
    a while, engine/runtime.py); a cancelled (``stopped``) row stays stopped."""
    session.exec(
        sa.update(FlowExecution)
        .where(
            col(FlowExecution.id) == execution_id,
            col(FlowExecution.status) != ExecutionStatus.stopped,
        )
        .values(status=ExecutionStatus.running, resume_at=None, finished_at=None)
    )


def mark_running(execution_id: int) -> None:
    """:func:`set_running` in a transaction of its own."""
    with session_scope() as session:
        set_running(session, execution_id)


def interrupt_running_steps(connection: sa.Connection, execution_id: int, error: str) -> None:
    """Fail the steps an ended execution left ``running`` (a cut-short branch, a parked
    delay, a cancellation), with the reason."""
    connection.execute(
        sa.update(_STEPS)
        .where(_STEPS.c.execution_id == execution_id, _STEPS.c.status == StepStatus.running)
        .values(status=StepStatus.failed, error=error)
    )


_STOPPED = _EXECUTIONS.c.status == ExecutionStatus.stopped


def _unless_stopped(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """The new value of ``column``, or the canceller's on a row already ``stopped``."""
    return sa.case((_STOPPED, column), else_=sa.bindparam(f"new_{column.name}", type_=column.type))


# Prepared once: a Core statement on the table skips the ORM's per-call compile (issue 15).
# One UPDATE decides and records the end: a row cancelled meanwhile keeps the canceller's
# status, reason and times (PostgreSQL re-evaluates the CASEs on the row it waited for).
_RECORD_END = (
    sa.update(_EXECUTIONS)
    .where(_EXECUTIONS.c.id == sa.bindparam("ended_id"))
    .values(
        {
            _EXECUTIONS.c.result: sa.bindparam("new_result", type_=_EXECUTIONS.c.result.type),
            _EXECUTIONS.c.context: sa.bindparam("new_context", type_=_EXECUTIONS.c.context.type),
            _EXECUTIONS.c.step_count: sa.func.coalesce(
                sa.bindparam("new_step_count", type_=sa.Integer),
                sa.select(sa.func.count())
                .where(_STEPS.c.execution_id == _EXECUTIONS.c.id)
                .scalar_subquery(),
            ),
            **{
                column: _unless_stopped(column)
                for column in (
                    _EXECUTIONS.c.status,
                    _EXECUTIONS.c.error,
                    _EXECUTIONS.c.resume_at,
                    _EXECUTIONS.c.finished_at,
                )
            },
        }
    )
    .returning(_EXECUTIONS.c.status)
)


def finish(
    execution_id: int,
    status: ExecutionStatus,
    *,
    result: dict[str, Any] | None,
    error: str | None,
    resume_at: datetime | None,
    variables: dict[str, Any],
    redactor: Redactor,
    batch: StepBatch | None = None,
    step_count: int | None = None,
    left_running: bool = True,
) -> ExecutionStatus:
    """Record how the run ended, with the ``batch`` of steps not written yet, in one
    transaction; returns the status recorded. An execution cancelled meanwhile (its row
    already ``stopped``) stays stopped with the canceller's reason, so a run that parked or
    got past its last step cannot revive it. ``step_count``: the steps the run knows of
    (else counted before the ``batch`` is written: give it with a batch);
    ``left_running``: whether it knows of steps still running (else none are looked for)."""
    values: dict[str, Any] = {
        "ended_id": execution_id,  # not a column name: an UPDATE would set it
        "new_result": redactor.seal(jsonable(result)) if result is not None else None,
        "new_context": redactor.redact(jsonable(variables)),
        "new_step_count": step_count,
        "new_status": status,
        "new_error": redactor.scrub(error),
        "new_resume_at": resume_at,
        "new_finished_at": None if status is ExecutionStatus.waiting else utcnow(),
    }
    recorded: ExecutionStatus | None = None
    if (batch is None or not batch.changed) and get_engine().dialect.name == "postgresql":
        with _store_connection() as connection:
            recorded = _end_in_one_statement(connection, values, batch, left_running)
        if batch is None or not batch.new:
            return recorded
    # SQLite, a batch that resets rows of an earlier run, or steps another run wrote
    # meanwhile (those refused are written after the end, with the batch's rules).
    with get_engine().begin() as connection:
        if recorded is None:
            found = connection.execute(_RECORD_END, values).scalar()
            recorded = status if found is None else ExecutionStatus(found)  # None: row deleted
        if batch is not None:
            batch.write(connection)
        if recorded in TERMINAL and left_running:  # cut short (a failed branch, the budget)
            interrupt_running_steps(connection, execution_id, INTERRUPTED)
    return recorded


INTERRUPTED = "interrupted: the execution ended first"


def _end_in_one_statement(
    connection: sa.Connection,
    values: dict[str, Any],
    batch: StepBatch | None,
    left_running: bool,
) -> ExecutionStatus:
    """PostgreSQL: the end, the batch's new rows and the interruption of steps left running
    in one autocommit statement (_END_POSTGRESQL): no BEGIN and COMMIT round trips. The rows
    refused (another run wrote their step keys) stay in the batch."""
    params = values | {
        "new_status": values["new_status"].value,
        "new_result": _json_text(values["new_result"]),
        "new_context": _json_text(values["new_context"]),
        "rows": to_json(batch.rows() if batch is not None else []).decode(),
        "left_running": left_running,
        "interrupted": INTERRUPTED,
    }
    recorded: str | None = None
    for status, step_key, row_id in _on_driver(connection, _END_POSTGRESQL, params):
        if step_key is None:
            recorded = status
        elif batch is not None:
            batch.new.pop(step_key)[0].id = row_id
    return values["new_status"] if recorded is None else ExecutionStatus(recorded)


# --------------------------------------------------------------------------- steps


def running_values(
    node_id: str, node_type: str, params: dict[str, Any], redactor: Redactor
) -> dict[str, Any]:
    """A step's row as it starts: running, with its params (redacted) as input."""
    return {
        "node_id": node_id,
        "node_type": node_type,
        "status": StepStatus.running,
        "input": redactor.redact(jsonable(params)),
        "output": None,
        "error": None,
        "handle": None,
        "started_at": utcnow(),
        "duration_ms": None,
    }


def _outcome_values(
    step: StepRecord,
    redactor: Redactor,
    rendered: dict[str, Any] | None,
    duration_ms: float | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": step.status,
        "output": redactor.seal(jsonable(step.output)) if step.output is not None else None,
        "error": redactor.scrub(step.error),
        "handle": step.handle,
    }
    if rendered is not None:
        values["input"] = redactor.redact(jsonable(rendered))
    if duration_ms is not None:
        values["duration_ms"] = duration_ms
    return values


# Rows another run of the execution holds (its step key or sequence number) are skipped,
# not an error: no savepoint is needed, and only the rows inserted come back (any order).
# SQLite: the driver's executemany as multi-row VALUES. PostgreSQL: the rows as one JSON
# parameter, expanded by the server: psycopg converts (and caches) a query of one parameter
# instead of re-parsing a VALUES list of a dozen parameters per row on every batch.
_STEP_COLUMNS = [column.name for column in _STEPS.c if column.name != "id"]
_INSERT_STEPS_SQLITE = (
    sqlite_insert(_STEPS).on_conflict_do_nothing().returning(_STEPS.c.step_key, _STEPS.c.id)
)
_INSERT_STEPS_POSTGRESQL = sa.text(
    f"INSERT INTO {_STEPS.name} ({', '.join(_STEP_COLUMNS)}) SELECT {', '.join(_STEP_COLUMNS)}"
    f" FROM jsonb_populate_recordset(NULL::{_STEPS.name}, CAST(:rows AS jsonb))"
    " ON CONFLICT DO NOTHING RETURNING step_key, id"
)


def _json_text(value: Any) -> str | None:
    return None if value is None else to_json(value).decode()


def _end_postgresql() -> sa.CompoundSelect[Any]:
    """_RECORD_END, the insert of the batch's rows (one JSON parameter, ``rows``) and, when the
    execution ends for good and ``left_running``, ``interrupted`` as the error of its steps
    still running, as one statement. Its parts see the same snapshot, so the rows inserted
    here are interrupted as they are inserted. Rows: the recorded status (step key NULL;
    none if the row was deleted), then the step key and id of each row inserted."""
    ended = _RECORD_END.cte("ended")
    recorded = sa.func.coalesce(
        sa.select(ended.c.status).scalar_subquery(),
        sa.bindparam("new_status", type_=_EXECUTIONS.c.status.type),
    )
    cut_short = sa.and_(
        sa.bindparam("left_running", type_=sa.Boolean),
        recorded.in_([_sql_text(status) for status in sorted(TERMINAL)]),
    )
    new = (
        sa.func.jsonb_populate_recordset(
            sa.literal_column(f"NULL::{_STEPS.name}"), sa.cast(sa.bindparam("rows"), JSONB)
        )
        .table_valued(*(sa.column(name, _STEPS.c[name].type) for name in _STEP_COLUMNS))
        .alias("new_steps")
    )
    interrupted = sa.bindparam("interrupted", type_=_STEPS.c.error.type)
    running = sa.and_(cut_short, new.c.status == _sql_text(StepStatus.running))
    failed = _sql_text(StepStatus.failed)
    replaced = {
        "status": sa.case((running, failed), else_=new.c.status),
        "error": sa.case((running, interrupted), else_=new.c.error),
    }
    inserted = (
        postgresql_insert(_STEPS)
        .from_select(
            _STEP_COLUMNS,
            sa.select(*(replaced.get(name, new.c[name]) for name in _STEP_COLUMNS)),
        )
        .on_conflict_do_nothing()
        .returning(_STEPS.c.step_key, _STEPS.c.id)
        .cte("inserted")
    )
    earlier = (
        sa.update(_STEPS)
        .where(
            _STEPS.c.execution_id == sa.bindparam("ended_id"),
            _STEPS.c.status == _sql_text(StepStatus.running),
            cut_short,
        )
        .values(status=failed, error=interrupted)
        .cte("interrupted_steps")
    )
    return sa.union_all(
        sa.select(ended.c.status, sa.null(), sa.null()),
        sa.select(sa.null(), inserted.c.step_key, inserted.c.id),
    ).add_cte(earlier)


def _sql_text(value: str) -> sa.ColumnElement[str]:
    """A constant written into the statement (anonymous parameters of a DML CTE in a SELECT
    lose their values from SQLAlchemy's cache)."""
    return sa.literal_column(f"'{value}'", sa.String)


_END_POSTGRESQL = _end_postgresql()


@dataclass
class StepBatch:
    """The steps of side-effect-free nodes a run has not written yet: new rows by step key,
    and changes to rows already written by id. :meth:`write` sends them with the run's
    next durable write, in its transaction."""

    execution_id: int
    new: dict[str, tuple[StepRecord, dict[str, Any]]] = field(default_factory=dict)
    changed: dict[int, dict[str, Any]] = field(default_factory=dict)

    def start(
        self, seq: int, step_key: str, existing: StepRecord | None, values: dict[str, Any]
    ) -> StepRecord:
        """The step as running (``values``: :func:`running_values`): a new row, or a reset
        of one an earlier run left running."""
        if existing is not None and existing.id is not None:
            self.changed[existing.id] = values
            return StepRecord(
                existing.id, existing.seq, step_key, StepStatus.running, None, None, None
            )
        record = StepRecord(None, seq, step_key, StepStatus.running, None, None, None)
        self.new[step_key] = (record, values)
        return record

    def note(self, step: StepRecord, values: dict[str, Any]) -> None:
        """A step's outcome, to be written with the rest."""
        if step.id is None:
            self.new[step.step_key][1].update(values)
        else:
            self.changed.setdefault(step.id, {}).update(values)

    def write(self, connection: sa.Connection) -> None:
        """Insert the new rows in one statement and apply the changes. Rows another run
        of the execution wrote meanwhile (same step key) are updated instead, and taken
        sequence numbers move past the last one."""
        self._insert(connection)
        if self.new:  # refused: another run wrote some of these meanwhile
            self._make_room(connection)
            self._insert(connection)
            if self.new:
                raise RuntimeError(f"could not record the steps of execution {self.execution_id}")
        for row_id, values in self.changed.items():
            connection.execute(sa.update(_STEPS).where(_STEPS.c.id == row_id).values(**values))
        self.changed.clear()

    def rows(self) -> list[dict[str, Any]]:
        """The new rows, as inserted."""
        return [
            {"execution_id": self.execution_id, "seq": record.seq, "step_key": key, **values}
            for key, (record, values) in self.new.items()
        ]

    def _insert(self, connection: sa.Connection) -> None:
        """One INSERT of every new row, its compiled form the same whatever the number of
        rows; those refused stay in ``new``."""
        if not self.new:
            return
        rows = self.rows()
        if connection.dialect.name == "postgresql":
            found = connection.execute(_INSERT_STEPS_POSTGRESQL, {"rows": to_json(rows).decode()})
        else:
            found = connection.execute(_INSERT_STEPS_SQLITE, rows)
        for key, row_id in found.all():
            self.new.pop(key)[0].id = row_id

    def _make_room(self, connection: sa.Connection) -> None:
        found = connection.execute(
            sa.select(_STEPS.c.step_key, _STEPS.c.id).where(
                _STEPS.c.execution_id == self.execution_id
            )
        )
        taken: dict[str, int] = {key: row_id for key, row_id in found}
        seq = _max_seq(connection, self.execution_id)
        for key, (record, values) in list(self.new.items()):
            if key in taken:
                record.id = row_id = taken[key]
                self.changed[row_id] = values
                del self.new[key]
            else:
                seq += 1
                record.seq = seq


def start_step(
    execution_id: int,
    seq: int,
    step_key: str,
    node_id: str,
    node_type: str,
    params: dict[str, Any],
    existing: StepRecord | None,
    redactor: Redactor,
    *,
    claim: bool = False,
    batch: StepBatch | None = None,
    mark_running: bool = False,
) -> StepRecord:
    """Insert the step as running, or reset a row a crashed run left running, and commit,
    with the ``batch`` of steps before it (and the execution's ``running`` mark when
    asked); refuse (ExecutionCancelled) once the execution is cancelled: the check before
    every durable step.

    A unique violation means another run of the same execution wrote this step (or
    took this sequence number) meanwhile: the row found by key is reused, else the
    next free sequence number is tried. A ``claim`` (a step with external effects) is
    never reused: a row found by key raises ClaimTaken, so at most one run acts.
    """
    values = running_values(node_id, node_type, params, redactor)
    for _ in range(5):
        with session_scope() as session:
            if _cancelled(session, execution_id):
                raise ExecutionCancelled(f"execution {execution_id} was cancelled")
            if mark_running:
                set_running(session, execution_id)
            if batch is not None:
                batch.write(session.connection())
            if existing is not None and claim:
                raise ClaimTaken(existing)
            if existing is not None:
                session.exec(
                    sa.update(FlowExecutionStep)
                    .where(col(FlowExecutionStep.id) == existing.id)
                    .values(**values)
                )
                return StepRecord(
                    existing.id, existing.seq, step_key, StepStatus.running, None, None, None
                )
            row = FlowExecutionStep(execution_id=execution_id, seq=seq, step_key=step_key, **values)
            try:
                with session.begin_nested():
                    session.add(row)
                return _record(row)
            except sa.exc.IntegrityError:  # looked up only now: a new step is rarely taken
                existing = _step_by_key(session, execution_id, step_key)
                seq = _max_seq(session.connection(), execution_id) + 1
    raise RuntimeError(f"could not record step {step_key} of execution {execution_id}")


def finish_step(
    step: StepRecord,
    redactor: Redactor,
    *,
    rendered: dict[str, Any] | None = None,
    duration_ms: float | None = None,
    only_running: bool = False,
    batch: StepBatch | None = None,
) -> None:
    """Write the step's outcome (status, output, error, handle) and, once known, the
    rendered params as its input: into the ``batch`` when given, else committed now;
    ``only_running`` leaves a row another run finished."""
    values = _outcome_values(step, redactor, rendered, duration_ms)
    if batch is not None:
        batch.note(step, values)
        return
    statement = sa.update(_STEPS).where(_STEPS.c.id == step.id).values(**values)
    if only_running:
        statement = statement.where(_STEPS.c.status == StepStatus.running)
    with session_scope() as session:
        session.connection().execute(statement)


# --------------------------------------------------------------------------- cancellation

# The executions running in this process, each with whether someone here cancelled it:
# such a run learns it before its next step without reading its row.
_running_here: dict[int, bool] = {}
_running_lock = Lock()


def track(execution_id: int, running: bool) -> None:
    """Note a run of the execution starting (``running``) or ending in this process."""
    with _running_lock:
        if running:
            _running_here.setdefault(execution_id, False)
        else:
            _running_here.pop(execution_id, None)


def note_cancelled(execution_id: int) -> None:
    """A cancellation committed in this process (engine/services/executions.py)."""
    with _running_lock:
        if execution_id in _running_here:
            _running_here[execution_id] = True


def cancelled(execution_id: int, *, read_row: bool) -> bool:
    """Whether the execution was cancelled in this process, or (``read_row``) at all."""
    with _running_lock:
        if _running_here.get(execution_id):
            return True
    if not read_row:
        return False
    with session_scope() as session:
        return _cancelled(session, execution_id)


def _cancelled(session: Session, execution_id: int) -> bool:
    """One primary-key read, in the transaction that records the step anyway."""
    status = session.exec(
        select(FlowExecution.status).where(FlowExecution.id == execution_id)
    ).first()
    return status == ExecutionStatus.stopped


def _step_by_key(session: Session, execution_id: int, step_key: str) -> StepRecord | None:
    row = session.exec(
        select(FlowExecutionStep).where(
            FlowExecutionStep.execution_id == execution_id,
            FlowExecutionStep.step_key == step_key,
        )
    ).first()
    return _record(row) if row else None


def _max_seq(connection: sa.Connection, execution_id: int) -> int:
    """The execution's last step number (0: none yet)."""
    found = connection.execute(
        sa.select(sa.func.coalesce(sa.func.max(_STEPS.c.seq), 0)).where(
            _STEPS.c.execution_id == execution_id
        )
    ).scalar_one()
    return int(found)

"""Database engine and sessions for SQLite (embedded) and PostgreSQL (scaled)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from engine import sqlite_writes
from engine.settings import get_settings, private_dir

P = ParamSpec("P")
T = TypeVar("T")

# Threads of the embedded process that use the database, beyond asyncio.to_thread's
# (min(32, cpus + 4)): the embedded worker's 4 (engine/worker.py) and its timers.
OTHER_SQLITE_THREADS = 8


def sqlite_pool_size() -> int:
    """Connections kept for SQLite: one per thread that may use the database at once. A
    pool smaller than that closes the extra connections when they are given back, and
    each new one pays for opening the file and its pragmas."""
    return min(32, (os.cpu_count() or 1) + 4) + OTHER_SQLITE_THREADS


def make_engine(url: str) -> sa.Engine:
    """An engine tuned for the backend: SQLite gets WAL and foreign keys."""
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            _private_file(Path(database))
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": sqlite_writes.WAIT_SECONDS},
            pool_size=sqlite_pool_size(),
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(sqlite_writes.WAIT_SECONDS * 1000)}")
            cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; one fsync per checkpoint
            cur.close()

        sqlite_writes.install(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _private_file(path: Path) -> None:
    """The SQLite file (and so its -wal/-shm, which copy its mode) readable by us alone."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


@lru_cache
def get_engine() -> sa.Engine:
    return make_engine(get_settings().effective_database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


async def in_session(
    fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run ``fn(session, ...)`` in a worker thread inside one committed transaction, so
    async code (node runners, the moderation service) never blocks its event loop on SQL."""

    def work() -> T:
        with session_scope() as session:
            return fn(session, *args, **kwargs)

    return await asyncio.to_thread(work)


def update_row(
    session: Session, table: type, row_id: int, condition: sa.ColumnElement[bool], **values: object
) -> bool:
    """One conditional UPDATE of the row ``row_id`` of ``table``; whether it matched. Of two
    workers claiming a row at once, exactly one matches (PostgreSQL re-checks after the lock)."""
    result = session.execute(
        sa.update(table)
        .where(table_of(table).c.id == row_id, condition)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(result) == 1


def affected_rows(result: sa.Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched. Session.execute is typed to return a plain Result,
    but for these statements SQLAlchemy returns a CursorResult, which has the count."""
    return cast("sa.CursorResult[Any]", result).rowcount


class _Row(Protocol):
    @property
    def id(self) -> int | None: ...


def saved_id(row: _Row) -> int:
    """The id of a row already in the database. Table models type ``id`` optional because a
    new row has none until it is flushed; this says so plainly where one is required."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: it was never flushed")
    return row.id


def saved_ids(ids: Iterable[int | None]) -> list[int]:
    """Ids read from a primary-key column: the model types the column optional (a new row
    has none), but a row read back from the database always has one."""
    found = list(ids)
    if None in found:
        raise ValueError("a primary-key column read back as NULL")
    return cast(list[int], found)


def primary_key(model: type[SQLModel]) -> sa.ColumnElement[int]:
    """The model's ``id`` column for a select, typed as what it reads back: a stored row's id
    (never NULL; the model's ``int | None`` is for rows not yet flushed)."""
    return cast("sa.ColumnElement[int]", table_of(model).c.id)


def insert_ignore(
    session: Session, table: sa.Table, values: Mapping[str, Any], keys: list[str]
) -> bool:
    """INSERT that does nothing when the unique ``keys`` already exist (SQLite, PostgreSQL);
    whether the row was inserted. Told by RETURNING: psycopg reports no rowcount for it."""
    statement = _insert_or_skip(session.get_bind().dialect.name, table, keys).values(**values)
    return session.execute(statement.returning(table.c[keys[0]])).first() is not None


def _insert_or_skip(
    dialect: str, table: sa.Table, keys: list[str]
) -> postgresql.Insert | sqlite.Insert:
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    raise ValueError(f"no insert-or-skip for the {dialect} dialect")


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Table behind a table model, for Core statements (bulk inserts, column sets)."""
    # SQLModel sets __table__ on each table=True class but does not declare it.
    return cast(sa.Table, model.__table__)  # type: ignore[attr-defined]  # set, not declared

"""One write transaction at a time per process on SQLite, queued on a lock (issue 15).

SQLite lets one connection write at a time; the others get SQLITE_BUSY and its busy
handler sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries, so under load (webhook
launches, runs' finishes, call counters from a dozen threads) writers slept while the
database sat unlocked, and p99 latency grew to hundreds of ms. Here a writer waits on a
Python lock instead, taken before its transaction's first write statement and given
back right after its commit or rollback, so the next writer starts the moment it may.

The lock is held exactly while SQLite's would be (from the first write to the end of
the transaction), so it adds no new waiting: a thread that would have waited for SQLite
waits here. A transaction that would deadlock SQLite still fails as before: after
:data:`WAIT_SECONDS` the writer goes on without the lock and SQLite decides. Writes in
autocommit mode, other processes, and a thread's second connection are left to SQLite.
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

WAIT_SECONDS = 30.0  # and SQLite's own busy timeout (engine/db.py sets it from this)
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")


class WriteLock:
    """The process's queue of SQLite writers for one engine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: Any = None  # the DBAPI connection in its write transaction
        self._owner = 0  # and its thread

    def before_write(self, connection: sa.Connection, statement: str) -> None:
        if statement[:6].upper() not in _WRITES or _autocommit(connection):
            return
        dbapi = connection.connection.dbapi_connection
        if self._holder is dbapi or self._owner == threading.get_ident():
            return  # already queued through, or this thread's other connection
        if self._lock.acquire(timeout=WAIT_SECONDS):
            self._holder, self._owner = dbapi, threading.get_ident()

    def after_end(self, dbapi: Any) -> None:
        if dbapi is not None and self._holder is dbapi:
            self._holder, self._owner = None, 0
            self._lock.release()


def _autocommit(connection: sa.Connection) -> bool:
    return connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def install(engine: sa.Engine) -> None:
    """Queue ``engine``'s writers: the lock is taken before a transaction's first write
    and given back after the DBAPI commit or rollback (also the pool's reset on checkin,
    and an invalidated connection's close)."""
    lock = WriteLock()
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            lock.after_end(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            lock.after_end(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(connection: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        lock.before_write(connection, statement)

    @sa.event.listens_for(engine, "invalidate")
    def _invalidated(dbapi_connection: Any, _record: Any, _exc: Any) -> None:
        lock.after_end(dbapi_connection)

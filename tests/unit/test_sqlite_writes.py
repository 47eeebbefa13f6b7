"""SQLite writers of one process queue on a lock (engine/sqlite_writes.py) instead of
sleeping in SQLite's busy handler. With busy_timeout 0, a second writer that reached
SQLite while the first one's transaction was open would fail at once ("database is
locked"): these pass only because it waited for the first one's commit."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from engine.db import make_engine


def _engine(tmp_path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'writes.db'}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (n INTEGER)"))
    return engine


def _second_writer(engine: sa.Engine, errors: list[BaseException]) -> threading.Thread:
    def write() -> None:
        try:
            with engine.begin() as connection:
                connection.execute(sa.text("PRAGMA busy_timeout=0"))
                connection.execute(sa.text("INSERT INTO t VALUES (2)"))
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    return threading.Thread(target=write)


def test_a_second_writer_waits_for_the_first_ones_commit(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    errors: list[BaseException] = []
    with engine.begin() as first:
        first.execute(sa.text("INSERT INTO t VALUES (1)"))
        second = _second_writer(engine, errors)
        second.start()
        second.join(0.3)
        assert second.is_alive()  # queued behind the open transaction
    second.join(5)
    assert errors == []
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]


def test_a_rollback_lets_the_next_writer_in(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    errors: list[BaseException] = []
    first = engine.connect()
    first.execute(sa.text("INSERT INTO t VALUES (1)"))
    second = _second_writer(engine, errors)
    second.start()
    second.join(0.3)
    assert second.is_alive()
    first.rollback()
    second.join(5)
    first.close()
    assert errors == []
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT n FROM t")).scalars().all() == [2]


def test_reads_and_a_thread_s_own_second_connection_are_not_queued(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with engine.begin() as first:
        first.execute(sa.text("INSERT INTO t VALUES (1)"))
        with engine.connect() as reader:
            assert reader.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 0
        with engine.connect() as other:  # same thread: SQLite decides, as before
            other.execute(sa.text("PRAGMA busy_timeout=0"))
            try:
                other.execute(sa.text("INSERT INTO t VALUES (3)"))
            except sa.exc.OperationalError as exc:
                assert "locked" in str(exc)
            else:
                raise AssertionError("a second connection of the same thread was queued")

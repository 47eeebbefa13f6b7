"""The SQLite pool keeps a connection for every thread of the embedded process that may
use the database at once, so none is closed on return and reopened (with its pragmas)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import sqlalchemy as sa

from engine.db import make_engine, sqlite_pool_size
from engine.worker import EMBEDDED_THREADS


def test_the_pool_covers_the_worker_and_the_event_loops_threads() -> None:
    to_thread_workers = min(32, (os.cpu_count() or 1) + 4)  # asyncio's default executor
    assert sqlite_pool_size() > EMBEDDED_THREADS + to_thread_workers


def test_connections_are_kept_between_bursts_of_threads(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    opened: list[object] = []
    sa.event.listen(engine, "connect", lambda conn, _record: opened.append(conn))
    threads = 12
    together = threading.Barrier(threads)

    def use() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
            together.wait(timeout=30)  # every thread holds its connection at once

    for _burst in range(2):
        workers = [threading.Thread(target=use) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert engine.pool.size() == sqlite_pool_size()
    assert len(opened) == threads  # the second burst reused the first one's
    engine.dispose()

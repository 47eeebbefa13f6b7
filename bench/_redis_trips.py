"""Redis round trips made by the bench's server processes (scaled mode), counted where they
are made, in redis-py (sync and asyncio): a write of commands to a connection that is not
already waiting for replies starts a round trip; writes before the next read ride along (a
pipeline or a script call counts once). A new connection's handshake counts with the
command that opened it, though it waits for its own replies first (and for the TCP
connect): a process opening connections per call makes more round trips than shown.
Reading a pub/sub message that Redis pushes is no round trip.

The bench puts a ``sitecustomize.py`` on the server processes' PYTHONPATH (``environment``),
so every Python process it starts, and the worker processes those start, counts from its
first import on and writes its count to ``<directory>/<pid>`` every ``WRITE_EVERY`` seconds
(when it changed);
``total`` sums the files of a set of processes. Redis's own MONITOR would see the other
clients of a shared server too, and one line per command rather than per round trip.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

WRITE_EVERY = 0.1
_lock = threading.Lock()
_count = 0


def _counted_send(send: Any) -> Any:
    def send_packed_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _count
        if not getattr(self, "_bench_awaiting_reply", False):
            self._bench_awaiting_reply = True
            with _lock:
                _count += 1
        return send(self, *args, **kwargs)

    return send_packed_command


def _counted_read(read: Any) -> Any:
    def read_response(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._bench_awaiting_reply = False
        return read(self, *args, **kwargs)  # the asyncio one returns its coroutine

    return read_response


def _write_forever(directory: Path) -> None:
    """Write the count whenever it changed (idle, writing it anyway was most of an idle
    process's CPU)."""
    own = directory / str(os.getpid())
    scratch = directory / f".{os.getpid()}"
    written = None
    while True:
        if _count != written:
            written = _count
            scratch.write_text(str(written))
            scratch.replace(own)  # whole, so a reader never sees a half-written figure
        time.sleep(WRITE_EVERY)


def _start_writer(directory: Path) -> None:
    threading.Thread(target=_write_forever, args=(directory,), daemon=True).start()


def install(directory: str) -> None:
    """Count this process's round trips (a forked child starts again from zero)."""
    import redis.asyncio.connection
    import redis.connection

    for module in (redis.connection, redis.asyncio.connection):
        cls = module.AbstractConnection
        cls.send_packed_command = _counted_send(cls.send_packed_command)  # type: ignore[method-assign]
        cls.read_response = _counted_read(cls.read_response)  # type: ignore[method-assign]
    path = Path(directory)

    def after_fork() -> None:
        global _count
        _count = 0
        _start_writer(path)

    os.register_at_fork(after_in_child=after_fork)
    _start_writer(path)


def environment(directory: Path) -> dict[str, str]:
    """The environment variables that make Python processes count into ``directory``."""
    root = Path(__file__).resolve().parent.parent
    (directory / "sitecustomize.py").write_text(
        f"import sys\nsys.path.insert(0, {str(root)!r})\n"
        f"import bench._redis_trips\nbench._redis_trips.install({str(directory)!r})\n"
    )
    path = os.pathsep.join([str(directory), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {"PYTHONPATH": path}


def total(directory: Path, pids: list[int]) -> int:
    """The round trips counted so far by these processes (live ones; read after a pause
    of ``WRITE_EVERY`` so each has written its latest figure)."""
    found = 0
    for pid in pids:
        try:
            found += int((directory / str(pid)).read_text())
        except FileNotFoundError:
            continue
    return found

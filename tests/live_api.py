"""The API app behind a real granian server, for tests that need real HTTP (event streams,
slow clients, schema fuzzing): in this process or as another web process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

import httpx
from granian.constants import Interfaces
from granian.server.embed import Server

from engine.api.app import create_api
from tests.processes import free_port


@contextmanager
def served_in_thread() -> Iterator[str]:
    """create_api() served from a thread of this process: it shares this process's event
    bus, embedded worker and database (and monkeypatches)."""
    port = free_port()
    server = Server(create_api(), port=port, interface=Interfaces.ASGI, log_enabled=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),))
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base)
        yield base
    finally:
        loop.call_soon_threadsafe(server.stop)
        thread.join(10)
        loop.close()


@contextmanager
def served_in_process(
    env: Mapping[str, str] | None = None, log: IO[bytes] | None = None
) -> Iterator[str]:
    """Another web process, as `flowbot web` serves the API (the test's environment, so
    the same database and Redis, with ``env`` on top)."""
    port = free_port()
    command = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory"]
    command += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    server = subprocess.Popen(
        [*command, "engine.api.app:create_api"],
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, server)
        yield base
    finally:
        server.terminate()
        server.wait(10)


def wait_until_healthy(base: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process is None or process.poll() is None, "granian exited"
        assert time.monotonic() < deadline, "granian did not start"
        time.sleep(0.1)

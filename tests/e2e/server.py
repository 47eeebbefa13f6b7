"""Start the real Flowbot web process (`flowbot run`) for browser tests, and Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Browser tests build into their own folder, so a developer's running app is untouched.
WEB_WORKDIR = ROOT / ".web-e2e"
START_TIMEOUT = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def flowbot_server(data_dir: Path, port: int, log_path: Path) -> Iterator[str]:
    """Run `flowbot run` until the UI answers; stop the whole process group afterwards."""
    env = dict(os.environ)
    pool_port = free_port()  # the embedded supervisor's pool API: never a shared 3010
    env.update(
        FLOWBOT_POOL_PORT=str(pool_port),
        FLOWBOT_POOL_URL=f"http://127.0.0.1:{pool_port}",
        FLOWBOT_DATA_DIR=str(data_dir),
        FLOWBOT_PORT=str(port),
        FLOWBOT_SECRET_KEY="e2e-secret-key",
        REFLEX_WEB_WORKDIR=str(WEB_WORKDIR),
        REFLEX_STATES_WORKDIR=str(ROOT / ".states-e2e"),
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowbot.cli", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_up(proc, url, log_path)
            yield url
        finally:
            _stop(proc)


def _wait_until_up(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"flowbot exited early:\n{log_path.read_text()[-4000:]}")
        try:
            # The backend answers before the compiled UI is mounted: check the page too.
            if (
                httpx.get(f"{url}/api/health", timeout=2).status_code == 200
                and httpx.get(f"{url}/login", timeout=5, follow_redirects=True).status_code == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # a second per start adds up over every browser module
    raise RuntimeError(
        f"flowbot did not start in {START_TIMEOUT}s:\n{log_path.read_text()[-4000:]}"
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

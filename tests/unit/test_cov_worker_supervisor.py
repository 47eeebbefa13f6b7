"""The worker parent (engine/worker_supervisor.py) with tiny Python children instead of
Dramatiq workers: a child that dies is restarted after a growing wait, and stopping
terminates the children, killing one that ignores SIGTERM. (The fault tests run it with real
workers, without coverage.)"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine import worker_supervisor
from engine.worker_supervisor import WorkerSupervisor, backoff, child_command, describe

WAIT = 60.0  # generous: only a broken supervisor comes near it


@pytest.fixture(autouse=True)
def quick_timings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Short polls and waits, and the test process's own signal handlers put back (run()
    installs its SIGTERM/SIGINT handlers)."""
    monkeypatch.setattr(worker_supervisor, "POLL_SECONDS", 0.02)
    monkeypatch.setattr(worker_supervisor, "FIRST_BACKOFF", 0.05)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def run_until(supervisor: WorkerSupervisor, done: Callable[[], bool]) -> int:
    """Run the supervisor in this (main) thread, as the CLI does, until ``done`` holds."""
    ready = threading.Event()

    def watch() -> None:
        ready.wait()
        stop_at = threading.Event()
        while not done() and not stop_at.wait(0.02):
            pass
        supervisor.stopping.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    timeout = threading.Timer(WAIT, supervisor.stopping.set)
    timeout.start()
    ready.set()
    try:
        return supervisor.run()
    finally:
        timeout.cancel()
        watcher.join(WAIT)


def test_a_child_that_dies_is_restarted_after_a_growing_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(worker_supervisor, "FIRST_BACKOFF", 0.1)
    starts = tmp_path / "starts"
    dies = python("import sys; open(sys.argv[1], 'a').write('x'); sys.exit(3)", str(starts))
    supervisor = WorkerSupervisor(dies, processes=1)
    with caplog.at_level(logging.INFO, logger="flowbot.worker"):
        code = run_until(supervisor, lambda: starts.exists() and len(starts.read_text()) >= 3)
    assert code == 0
    assert len(starts.read_text()) >= 3, "started, died, restarted, died, restarted"
    assert supervisor.slots[0].quick_deaths >= 2, "each death within the stable time counts"
    assert "exited with code 3" in caplog.text
    assert "restarting in 0.1 s" in caplog.text
    assert "restarting in 0.2 s" in caplog.text, "the second quick death waits twice as long"


def test_stopping_terminates_children_and_kills_one_that_ignores_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(worker_supervisor, "STOP_SECONDS", 1.0)
    ready = tmp_path / "ready"
    stubborn = python(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "open(sys.argv[1], 'a').write('x')\n"
        "time.sleep(60)",
        str(ready),
    )
    supervisor = WorkerSupervisor(stubborn, processes=2)
    with caplog.at_level(logging.INFO, logger="flowbot.worker"):
        code = run_until(supervisor, lambda: ready.exists() and len(ready.read_text()) == 2)
    assert code == 0
    processes = [slot.process for slot in supervisor.slots]
    assert all(p is not None and p.returncode == -signal.SIGKILL for p in processes)
    assert "stopping 2 worker processes" in caplog.text
    assert "did not stop in time: killing it" in caplog.text


def test_a_child_that_honours_sigterm_stops_with_it(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    waits = python(
        "import sys, time; open(sys.argv[1], 'w').write('x'); time.sleep(60)", str(ready)
    )
    supervisor = WorkerSupervisor(waits, processes=0)  # at least one process
    assert run_until(supervisor, ready.exists) == 0
    (slot,) = supervisor.slots
    assert slot.process is not None and slot.process.returncode == -signal.SIGTERM


def test_waits_double_after_each_quick_death_up_to_the_cap() -> None:
    waits = [backoff(n) for n in range(12)]
    assert waits[:4] == [0.0, 0.05, 0.1, 0.2]  # FIRST_BACKOFF is 0.05 in these tests
    assert waits[-1] == worker_supervisor.MAX_BACKOFF
    assert waits == sorted(waits)


def test_a_death_is_described_for_the_operator() -> None:
    assert describe(3) == "exited with code 3"
    assert describe(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe(-200) == "killed by signal 200"


def test_children_run_the_worker_module_with_this_interpreter() -> None:
    assert child_command(4) == [sys.executable, "-m", "engine.worker", "--threads", "4"]

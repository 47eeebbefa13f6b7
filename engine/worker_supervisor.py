"""``flowbot worker``: a parent that keeps its worker processes running.

Dramatiq's own ``dramatiq`` command stops every process as soon as one dies, so one
killed process (the OOM killer, an operator's mistake) stopped the whole worker for good.
Here the parent only supervises: it starts ``processes`` children (each runs
:func:`engine.worker.run_process`), restarts one that dies, waiting longer after each
quick death so a process that cannot start does not spin, and stops them all on SIGTERM
or SIGINT. The parent itself is kept alive by the process manager (README, "Scaled
mode"); its children stop when they see it gone.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("flowbot.worker")

ROOT = Path(__file__).resolve().parent.parent
# A child that lived this long was healthy: its death restarts it at once.
STABLE_SECONDS = 30.0
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
POLL_SECONDS = 0.2
# On shutdown, children get this long to finish their messages before SIGKILL.
STOP_SECONDS = 35.0


def backoff(quick_deaths: int) -> float:
    """Seconds to wait before restarting a child that died ``quick_deaths`` times in a
    row without becoming stable."""
    if quick_deaths <= 0:
        return 0.0
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** (quick_deaths - 1))


def describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass
class Slot:
    """One child process position: its current process and its history of deaths."""

    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_deaths: int = 0
    restart_at: float = 0.0


class WorkerSupervisor:
    def __init__(self, command: Sequence[str], processes: int) -> None:
        self.command = list(command)
        self.slots = [Slot(i) for i in range(max(1, processes))]
        self.stopping = threading.Event()

    def run(self) -> int:
        """Supervise until asked to stop; the exit code for the process manager."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        for slot in self.slots:
            self._start(slot)
        while not self.stopping.wait(POLL_SECONDS):
            now = time.monotonic()
            for slot in self.slots:
                self._check(slot, now)
        self._stop_all()
        return 0

    def _start(self, slot: Slot) -> None:
        slot.process = subprocess.Popen(self.command, cwd=ROOT)
        slot.started = time.monotonic()
        log.info("worker process %d started (pid %d)", slot.index, slot.process.pid)

    def _check(self, slot: Slot, now: float) -> None:
        if slot.process is None:
            if now >= slot.restart_at:
                self._start(slot)
            return
        code = slot.process.poll()
        if code is None:
            return
        lived = now - slot.started
        slot.quick_deaths = 0 if lived >= STABLE_SECONDS else slot.quick_deaths + 1
        wait = backoff(slot.quick_deaths)
        log.warning(
            "worker process %d (pid %d) %s after %.1f s; restarting in %.1f s",
            slot.index,
            slot.process.pid,
            describe(code),
            lived,
            wait,
        )
        slot.process = None
        slot.restart_at = now + wait

    def _stop_all(self) -> None:
        running = [s.process for s in self.slots if s.process is not None]
        log.info("stopping %d worker processes", len(running))
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in time: killing it", process.pid)
                process.kill()
                process.wait()


def child_command(threads: int) -> list[str]:
    """The command line of one supervised worker process."""
    return [sys.executable, "-m", "engine.worker", "--threads", str(threads)]


def supervise(processes: int, threads: int) -> int:
    return WorkerSupervisor(child_command(threads), processes).run()

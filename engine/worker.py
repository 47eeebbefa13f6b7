"""The worker: ``dramatiq engine.worker`` (scaled) or threads in the web process (embedded).

Importing this module declares the actors on the configured broker and adds the sweep
timer: each worker process ticks every ``SWEEP_SECONDS``; one tick per period wins
across all processes and sends the periodic actors (``PERIODIC``), and the daily ones
once their time of day has passed (``send_daily``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta

import dramatiq
from dramatiq.middleware import Middleware

from engine.actors import (
    deliver_scheduled_messages,
    fire_schedules,
    prune_history,
    recover_orphans,
    resume_waiting,
    snapshot_communities,
)
from engine.broker import claim_once, get_broker
from engine.models import utcnow
from engine.schedules import SWEEP_SECONDS
from engine.settings import get_settings

log = logging.getLogger(__name__)

# Sent once per sweep period, by whichever process wins the tick.
PERIODIC: tuple[dramatiq.Actor, ...] = (resume_waiting, fire_schedules, deliver_scheduled_messages)
# Longest wait of an idle consumer between polls (the in-memory broker wakes at once).
POLL_MS = 50
EMBEDDED_THREADS = 4
# UTC times of day of the daily jobs (the reference system's 2 AM and 3 AM).
SNAPSHOT_AT = time(2)
PRUNE_AT = time(3)
# A daily claim outlives its day, so no tick later that day can win it again.
DAILY_CLAIM_MS = 2 * 24 * 3_600_000


class SweepTimer(Middleware):
    """Starts a timer thread with each worker; the timer asks for the periodic sweep."""

    def __init__(self, interval: float = SWEEP_SECONDS) -> None:
        self.interval = interval
        self._stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        threading.Thread(target=self._tick, name="flowbot-sweep", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if claim_once("sweep", int(self.interval * 1000)):
                    for actor in PERIODIC:
                        actor.send()
                    send_daily(utcnow())
            except Exception:  # a broker hiccup must not end the timer
                log.warning("could not send the periodic sweep", exc_info=True)


def send_daily(now: datetime) -> None:
    """Send each daily job whose time has passed today, once per UTC day across processes;
    a worker started later in the day still runs that day's jobs."""
    today = now.date()
    if now.time() >= SNAPSHOT_AT and claim_once(f"snapshot:{today}", DAILY_CLAIM_MS):
        snapshot_communities.send((today - timedelta(days=1)).isoformat())
    if now.time() >= PRUNE_AT and claim_once(f"prune:{today}", DAILY_CLAIM_MS):
        prune_history.send()


class PollInterval(Middleware):
    """Caps how long an idle consumer waits between polls of Redis.

    Dramatiq's default (1 s, and `dramatiq` has no flag for it) adds up to a second to
    each hop of an event (route, then execute) reaching an idle worker.
    """

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        worker.worker_timeout = POLL_MS


broker = get_broker()
for middleware in (SweepTimer, PollInterval):
    if not any(isinstance(m, middleware) for m in broker.middleware):
        broker.add_middleware(middleware())


def start_embedded_worker(threads: int = EMBEDDED_THREADS) -> dramatiq.Worker:
    """Worker threads consuming the in-process broker; stop them with stop_embedded_worker."""
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=POLL_MS)
    worker.start()
    return worker


def stop_embedded_worker(worker: dramatiq.Worker, timeout_ms: int = 10_000) -> None:
    """Stop the threads and unhook the worker from the broker.

    Dramatiq leaves a stopped worker's middleware on the broker, and that middleware
    would start a consumer for any queue declared later: a consumer feeding a worker
    with no threads, silently swallowing messages. Unhooking it keeps a restarted
    embedded worker (a reload, a test) the only consumer.
    """
    worker.stop(timeout_ms)
    broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", 0) is not worker]


@asynccontextmanager
async def embedded_worker() -> AsyncIterator[None]:
    """Reflex lifespan task: in embedded mode, run the worker threads in the web process.

    In scaled mode it does nothing: ``flowbot worker`` processes do the work.
    """
    if not get_settings().is_embedded_broker:
        yield
        return
    worker = await asyncio.to_thread(start_embedded_worker)
    try:
        resent = await asyncio.to_thread(recover_orphans)
        if resent:
            log.info("resumed %d unfinished executions", resent)
        yield
    finally:
        await asyncio.to_thread(stop_embedded_worker, worker)

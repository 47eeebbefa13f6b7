"""The worker: ``dramatiq engine.worker`` (scaled) or threads in the web process (embedded).

Importing this module declares the actors on the configured broker and adds the sweep
timer: each worker process ticks every ``RECOVER_SECONDS``; one tick per period wins
across all processes and sends again the executions whose message was lost
(``requeue_lost``), and one per ``SWEEP_SECONDS`` sends the periodic actors
(``PERIODIC``), and the daily ones once their time of day has passed (``send_daily``).

``flowbot worker`` runs :func:`run_process` in each of its processes, under
``engine.worker_supervisor`` which restarts a process that dies.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta
from time import monotonic
from typing import Any

import dramatiq
import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware, SkipMessage

from engine import health_check, heartbeats
from engine.actors import (
    check_health,
    deliver_scheduled_messages,
    execute_flow,
    fire_schedules,
    prune_history,
    recover_orphans,
    requeue_lost,
    rollup_flow_stats,
    snapshot_communities,
)
from engine.broadcast_delivery import resume_broadcasts
from engine.broker import claim_once, get_broker
from engine.community_automation.hold_expiry import expire_overdue_holds
from engine.models import utcnow
from engine.redis_broker import DoorbellBroker
from engine.schedules import SWEEP_SECONDS
from engine.settings import get_settings
from engine.thread_loop import run_on_thread_loop
from engine.worker_logs import LOG_FORMAT

log = logging.getLogger(__name__)

# Sent once per sweep period, by whichever process wins the tick.
PERIODIC: tuple[dramatiq.Actor[..., Any], ...] = (
    fire_schedules,
    deliver_scheduled_messages,
    expire_overdue_holds,
    resume_broadcasts,
)
# Lost messages are looked for this often, so those lost with Redis run soon after it is back.
RECOVER_SECONDS = 5.0
# Longest wait of an idle worker thread, and of a consumer of the in-memory broker, before
# it looks whether it should stop, and how late a delay may end in memory (a message wakes
# either at once). Redis consumers wait on their queue's doorbell (engine/redis_broker.py),
# so a worker process's threads wait longer: each wake-up costs CPU, nothing else.
POLL_MS = 50
REDIS_POLL_MS = 500
EMBEDDED_THREADS = 4
# UTC times of day of the daily jobs (the reference system's 2 AM and 3 AM).
SNAPSHOT_AT = time(2)
PRUNE_AT = time(3)
# A daily claim outlives its day, so no tick later that day can win it again.
DAILY_CLAIM_MS = 2 * 24 * 3_600_000


class SweepTimer(Middleware):
    """Starts a timer thread with each worker; the timer looks for lost messages every
    ``recover_every`` seconds and asks for the periodic sweep every ``interval``."""

    def __init__(self, interval: float = SWEEP_SECONDS, recover_every: float = RECOVER_SECONDS):
        self.interval = interval
        self.recover_every = min(recover_every, interval)
        self._stop = threading.Event()
        self._beats = heartbeats.Pacer()
        self._threads = 0
        self._checked_without_redis_at: float | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        self._threads = len(worker.workers)
        threading.Thread(target=self._tick, name="flowbot-sweep", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        if isinstance(broker, DoorbellBroker):
            self._guarded(broker.wake_consumers)  # they may be waiting for seconds

    def _tick(self) -> None:
        while not self._stop.wait(self.recover_every):
            if self._beats.due():  # first: the health check the sweep sends sees this beat
                self._guarded(self._beat)
            self._guarded(self._recover)
            self._guarded(self._sweep)
            self._guarded(self._check_health)

    def _recover(self) -> None:
        # Run here rather than sent: a backlog in the queue must not delay it.
        if claim_once("recover", int(self.recover_every * 1000)):
            broker = get_broker()
            if isinstance(broker, DoorbellBroker):
                broker.maintain()  # a dead worker's messages back, though consumers are idle
            requeue_lost(utcnow())

    def _sweep(self) -> None:
        if claim_once("sweep", int(self.interval * 1000)):
            for actor in PERIODIC:
                actor.send()
            send_daily(utcnow())

    def _check_health(self) -> None:
        """Sent once per period across processes; while Redis is down neither the claim nor
        the message can go through it, so each worker checks here (paced on its own clock),
        and the outage it finds is recorded and notified (notices are claimed in the
        database, so several checking workers still send one)."""
        try:
            if claim_once("health-check", health_check.period_ms()):
                check_health.send()
            self._checked_without_redis_at = None
        except redis.RedisError:
            now = monotonic()
            last = self._checked_without_redis_at
            if last is None or now - last >= health_check.period_ms() / 1000:
                self._checked_without_redis_at = now
                run_on_thread_loop(health_check.run_check(utcnow()))

    def _beat(self) -> None:
        heartbeats.beat("worker", details={"threads": self._threads})

    @staticmethod
    def _guarded(job: Callable[[], None]) -> None:
        """An outage must not end the timer (nor one job stop the other): it ticks on."""
        try:
            job()
        except Exception as exc:
            log.warning("%s skipped: %s: %s", job.__name__, type(exc).__name__, exc)


def send_daily(now: datetime) -> None:
    """Send each daily job whose time has passed today, once per UTC day across processes;
    a worker started later in the day still runs that day's jobs."""
    today = now.date()
    if now.time() >= SNAPSHOT_AT and claim_once(f"snapshot:{today}", DAILY_CLAIM_MS):
        snapshot_communities.send((today - timedelta(days=1)).isoformat())
    if now.time() >= SNAPSHOT_AT and claim_once(f"rollup:{today}", DAILY_CLAIM_MS):
        rollup_flow_stats.send((today - timedelta(days=1)).isoformat())
    if now.time() >= PRUNE_AT and claim_once(f"prune:{today}", DAILY_CLAIM_MS):
        prune_history.send()


class PollInterval(Middleware):
    """Caps how long idle worker threads wait before looking whether they should stop.

    Dramatiq's default (1 s, and `dramatiq` has no flag for it) made each stop of a
    worker take up to a second, and delays of the in-memory broker end that late.
    """

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        worker.worker_timeout = REDIS_POLL_MS if isinstance(broker, DoorbellBroker) else POLL_MS


# A message that waited in this process's memory less than this since its fetch (when
# Redis held it) runs without asking Redis again: see SkipForgotten.
FRESH_FETCH_SECONDS = 0.5


class SkipForgotten(Middleware):
    """Skips an ``execute_flow`` message that Redis no longer holds.

    When Redis comes back empty, messages already fetched into this process's memory
    would still run, while the sweep of lost messages sends their executions again (the
    new Redis has no trace of them): both would run. The sweep's copy runs instead.
    Unreachable Redis proves nothing, so the message then runs as usual.

    Only a message that waited here (behind busy threads) for FRESH_FETCH_SECONDS is
    asked about: one fetched just now was in Redis just now, and a run stays unmarked
    far longer than that anyway (engine/runtime.py MARK_RUNNING_SECONDS) before the sweep
    could tell it from a lost one. A round trip per message saved.
    """

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if message.actor_name != execute_flow.actor_name or not isinstance(broker, RedisBroker):
            return
        fetched_at = getattr(message, "fetched_at", None)
        if fetched_at is not None and monotonic() - fetched_at < FRESH_FETCH_SECONDS:
            return
        name = f"{broker.namespace}:{message.queue_name}.msgs"
        try:
            known = broker.client.hexists(name, message.options.get("redis_message_id", ""))
        except redis.RedisError:
            return
        if not known:
            log.warning("skipping a message Redis forgot: the sweep sends %s again", message.args)
            raise SkipMessage


broker = get_broker()
for middleware in (SweepTimer, PollInterval, SkipForgotten):
    if not any(isinstance(m, middleware) for m in broker.middleware):
        broker.add_middleware(middleware())


# A stopping process lets the messages it is running finish within this time.
SHUTDOWN_MS = 30_000


def run_process(threads: int) -> int:
    """One process of ``flowbot worker``: worker threads on the Redis broker until SIGTERM
    or SIGINT, or until its supervisor is gone. An orphan stops rather than run on unseen:
    the process manager restarts the supervisor, which starts processes of its own."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    supervisor = os.getppid()
    broker.emit_after("process_boot")
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=POLL_MS)
    worker.start()
    log.info("worker process %d is running %d threads", os.getpid(), threads)
    while not stop.wait(1):
        if os.getppid() != supervisor:
            log.warning("supervisor %d is gone: stopping", supervisor)
            break
    worker.stop(SHUTDOWN_MS)
    broker.close()
    return 0


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


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.worker --threads N``: one supervised worker process, started by
    ``flowbot worker`` (engine/worker_supervisor.py)."""
    parser = argparse.ArgumentParser(prog="engine.worker", description=main.__doc__)
    parser.add_argument("--threads", type=int, default=8)
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return run_process(ns.threads)


if __name__ == "__main__":
    raise SystemExit(main())

"""Flow engine benchmark: executions per second and latency of a 5-node flow.

    python -m bench.engine            # all three scenarios, then a table
    python -m bench.engine --only a   # one of them

(a) the runtime called directly (SQLite temp database, fake pool in process);
(b) route_event through Redis to one `dramatiq engine.worker` process (PostgreSQL);
(c) webhook HTTP request → finished execution (granian serving create_api() with the
    embedded broker; the endpoint waits for the result).

Each scenario runs in its own process, so settings and brokers never mix. "sequential"
runs one execution at a time (latency); "burst" keeps BURST in flight (throughput).
The flow: trigger → condition → set_variable → template → tg_send_message on the pool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POOL_TOKEN = "bench-pool-token"
BURST = 16
RUNS = {"a": 200, "b": 100, "c": 100}
TITLES = {
    "a": "in-process runtime (SQLite)",
    "b": "Redis + 1 worker process (PostgreSQL)",
    "c": "webhook HTTP -> result (embedded)",
}
TIMEOUT = 30.0


class Skip(Exception):
    """The scenario cannot run here (no PostgreSQL or Redis)."""


# --- measuring -----------------------------------------------------------------------------


async def measure(run_one: Callable[[int], Awaitable[None]], n: int) -> dict[str, float]:
    """Latency percentiles one at a time, then throughput with BURST in flight."""
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await run_one(i)
        latencies.append((time.perf_counter() - t0) * 1000)
    sequential = time.perf_counter() - started

    gate = asyncio.Semaphore(BURST)

    async def gated(i: int) -> None:
        async with gate:
            await run_one(n + i)

    started = time.perf_counter()
    await asyncio.gather(*(gated(i) for i in range(n)))
    burst = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "n": n,
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        "sequential_per_s": n / sequential,
        "burst_per_s": n / burst,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_port(port: int, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{what} did not start listening on {port}")


@contextmanager
def processes() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start helper processes (logs under a temp dir); all are stopped on the way out."""
    started: list[subprocess.Popen[bytes]] = []
    logs = Path(tempfile.mkdtemp(prefix="flowbot-bench-"))

    def spawn(name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        started.append(proc)
        return proc

    try:
        yield spawn
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def configure(**env: str) -> None:
    """Install settings for this scenario process, before anything reads them."""
    os.environ.update(env)
    from engine import db
    from engine.settings import get_settings

    get_settings.cache_clear()
    db.get_engine.cache_clear()


def sqlite_env(tmp: Path, pool_port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "FLOWBOT_DATA_DIR": str(tmp),
        "FLOWBOT_SECRET_KEY": "bench-secret-key",
        "FLOWBOT_POOL_URL": f"http://127.0.0.1:{pool_port}",
        "FLOWBOT_POOL_TOKEN": POOL_TOKEN,
    }


def start_pool(spawn: Callable[..., subprocess.Popen[bytes]], port: int) -> None:
    spawn("pool", "-m", "tests.fakes.pool", "--port", str(port), "--token", POOL_TOKEN)


def trigger(i: int) -> dict[str, Any]:
    from engine.platform_event import EventChat, EventUser, PlatformEvent

    return PlatformEvent(
        event_id=f"bench:{uuid.uuid4().hex}:{i}",
        kind="tg_command",
        platform="telegram",
        instance_id=1,
        chat=EventChat(id="-100", type="supergroup"),
        user=EventUser(id=str(i), first_name="Ada"),
        text="/start",
        command="start",
    ).as_trigger()


def published_five_node_flow(url: str) -> int:
    from engine.migrations import upgrade
    from tests.flow_helpers import five_node_graph, make_flow

    upgrade(url)
    return make_flow(five_node_graph())


def check_succeeded(expected: int) -> None:
    import sqlalchemy as sa
    from sqlmodel import select

    from engine.db import session_scope
    from engine.models import ExecutionStatus, FlowExecution

    with session_scope() as session:
        counts = dict(
            session.exec(
                select(FlowExecution.status, sa.func.count()).group_by(FlowExecution.status)
            ).all()
        )
    if counts.get(ExecutionStatus.succeeded, 0) != expected:
        raise RuntimeError(f"expected {expected} succeeded executions, found {counts}")


# --- scenarios -------------------------------------------------------------------------------


async def scenario_a(n: int) -> dict[str, float]:
    from tests.fakes.pool import FakePool

    tmp = Path(tempfile.mkdtemp(prefix="flowbot-bench-a-"))
    async with FakePool(token=POOL_TOKEN) as pool:
        port = int(pool.url.rsplit(":", 1)[1].rstrip("/"))
        configure(**sqlite_env(tmp, port))
        flow_id = published_five_node_flow(os.environ["DATABASE_URL"])
        from engine import runtime

        async def run_one(i: int) -> None:
            outcome = await runtime.run_flow_now(flow_id, trigger(i), trigger_type="tg_command")
            if outcome.status != "succeeded":
                raise RuntimeError(f"execution failed: {outcome.error}")

        figures = await measure(run_one, n)
    check_succeeded(2 * n)
    return figures


async def scenario_b(n: int) -> dict[str, float]:
    import dramatiq
    import sqlalchemy as sa

    from bench._services import REDIS_TEST_URL, PostgresUnreachable, scratch_postgres_database

    try:
        import redis

        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        raise Skip(f"PostgreSQL or Redis unavailable: {exc}") from None
    port = free_port()
    try:
        with scratch_postgres_database("flowbot_bench") as url:
            namespace = sa.engine.make_url(url).database
            try:
                base = sqlite_env(Path(tempfile.mkdtemp(prefix="flowbot-bench-b-")), port)
                configure(
                    **base | {"DATABASE_URL": url, "REDIS_URL": REDIS_TEST_URL},
                    FLOWBOT_REDIS_NAMESPACE=namespace,
                )
                flow_id = published_five_node_flow(url)
                with processes() as spawn:
                    start_pool(spawn, port)
                    spawn("worker", "-m", "dramatiq", "engine.worker", "--processes", "1")
                    await wait_port(port, "the fake pool")
                    return await _through_redis(flow_id, n, dramatiq)
            finally:
                _drop_redis_keys(REDIS_TEST_URL, namespace)
    except PostgresUnreachable as exc:
        raise Skip(f"PostgreSQL or Redis unavailable: {exc}") from None


async def _through_redis(flow_id: int, n: int, dramatiq: Any) -> dict[str, float]:
    from sqlmodel import select

    from engine.broker import QUEUE, build_broker
    from engine.db import session_scope
    from engine.models import FlowExecution
    from engine.services.executions import TERMINAL
    from engine.settings import get_settings

    broker = build_broker(get_settings())

    def status(key: str) -> str | None:
        with session_scope() as session:
            query = select(FlowExecution.status).where(FlowExecution.idempotency_key == key)
            return session.exec(query).first()

    async def run_one(i: int) -> None:
        event = trigger(i)
        message = dramatiq.Message(
            queue_name=QUEUE, actor_name="route_event", args=(event,), kwargs={}, options={}
        )
        await asyncio.to_thread(broker.enqueue, message)
        key = f"{event['event_id']}:{flow_id}"
        deadline = time.monotonic() + TIMEOUT
        while (found := await asyncio.to_thread(status, key)) not in TERMINAL:
            if time.monotonic() > deadline:
                raise RuntimeError(f"execution for {key} did not finish (status {found})")
            await asyncio.sleep(0.002)

    await run_one(-1)  # the worker's first message pays for its imports and connections
    try:
        return await measure(run_one, n)
    finally:
        broker.close()
        check_succeeded(2 * n + 1)


def _drop_redis_keys(url: str, namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def webhook_app() -> Any:
    """create_api() with the embedded worker as its lifespan (what Reflex does in `run`),
    and the web server's garbage collector tuning once the load generator's warm-up is
    under way (flowbot/web_server.py does it 20 s after start)."""
    from engine.api.app import create_api
    from engine.worker import embedded_worker
    from flowbot.web_server import tune_gc_after_start

    api = create_api()

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        async with embedded_worker():
            tune_gc_after_start(3.0)
            yield

    api.router.lifespan_context = lifespan
    return api


async def scenario_c(n: int) -> dict[str, float]:
    import httpx

    from engine.db import session_scope
    from engine.models import WebhookEndpoint
    from tests.flow_helpers import five_node_graph, make_flow

    tmp = Path(tempfile.mkdtemp(prefix="flowbot-bench-c-"))
    pool_port, web_port = free_port(), free_port()
    env = sqlite_env(tmp, pool_port)
    configure(**env)
    from engine.migrations import upgrade

    upgrade(env["DATABASE_URL"])
    graph = five_node_graph()
    graph["nodes"][0] = {"id": "t", "type": "webhook", "params": {"endpoint_name": "bench"}}
    graph["nodes"][1]["params"]["text"] = "{{trigger.data.body.text}}"
    graph["nodes"][4]["params"]["chat_id"] = "{{trigger.data.body.chat}}"
    flow_id = make_flow(graph)
    with session_scope() as session:
        session.add(
            WebhookEndpoint(
                name="bench", token="bench", flow_id=flow_id, wait_for_result=True,
                wait_timeout_seconds=30,
            )
        )  # fmt: skip
    with processes() as spawn:
        start_pool(spawn, pool_port)
        spawn(
            "web", "-m", "granian", "--interface", "asgi", "--factory", "--no-log",
            "--host", "127.0.0.1", "--port", str(web_port), "bench.engine:webhook_app",
        )  # fmt: skip
        await wait_port(pool_port, "the fake pool")
        await wait_port(web_port, "the web server")
        limits = httpx.Limits(max_connections=BURST)
        async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as client:
            url = f"http://127.0.0.1:{web_port}/api/webhooks/bench"

            async def run_one(i: int) -> None:
                body = {"text": "start", "chat": "-100", "i": i}
                answer = await client.post(url, json=body)
                if answer.status_code != 200 or answer.json()["status"] != "succeeded":
                    raise RuntimeError(f"webhook answered {answer.status_code}: {answer.text}")

            await run_one(-1)
            figures = await measure(run_one, n)
    check_succeeded(2 * n + 1)
    return figures


SCENARIOS = {"a": scenario_a, "b": scenario_b, "c": scenario_c}


# --- driver ----------------------------------------------------------------------------------


def run_scenario(name: str, n: int) -> None:
    """In a child process: print one JSON line with the figures (or the skip reason)."""
    try:
        figures: dict[str, Any] = asyncio.run(SCENARIOS[name](n))
    except Skip as exc:
        figures = {"skipped": str(exc)}
    print("RESULT " + json.dumps(figures), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SCENARIOS))
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    parser.add_argument("-n", type=int, default=None, help="runs per scenario and mode")
    args = parser.parse_args(argv)
    if args.scenario:
        run_scenario(args.scenario, args.n or RUNS[args.scenario])
        return 0
    rows = []
    for name in [args.only] if args.only else sorted(SCENARIOS):
        n = args.n or RUNS[name]
        child = subprocess.run(
            [sys.executable, "-m", "bench.engine", "--scenario", name, "-n", str(n)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        line = next((x for x in child.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"({name}) failed:\n{child.stdout[-2000:]}\n{child.stderr[-4000:]}")
            continue
        rows.append((name, json.loads(line.removeprefix("RESULT "))))
    table = [(f"({name}) {TITLES[name]}", figures) for name, figures in rows]
    print_figures("scenario", "runs", table)
    print(f"\nseq/s: one execution at a time; burst/s: {BURST} in flight.")
    return 0


def print_figures(what: str, count: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
    """The figures :func:`measure` returns, a row each (or why a row was skipped)."""
    print(f"\n{what:42} {count:>5} {'p50 ms':>8} {'p99 ms':>8} {'seq/s':>8} {'burst/s':>8}")
    for title, figures in rows:
        if "skipped" in figures:
            print(f"{title:42} skipped: {figures['skipped']}")
            continue
        print(
            f"{title:42} {figures['n']:>5} {figures['p50_ms']:>8.1f} {figures['p99_ms']:>8.1f} "
            f"{figures['sequential_per_s']:>8.1f} {figures['burst_per_s']:>8.1f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())

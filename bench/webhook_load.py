"""Webhook load benchmark: a 5-node flow answering HTTP calls, at concurrency 1, 16 and 64.

    python -m bench.webhook_load                    # starts Flowbot embedded, 10 s a round
    python -m bench.webhook_load --seconds 30 --concurrency 16
    python -m bench.webhook_load --scaled 2              # PostgreSQL + Redis, 2 workers
    python -m bench.webhook_load --url http://127.0.0.1:3000 --token <API token> --pid <PID>

The flow (made through the REST API, then published): webhook -> set variable `doubled` to
`n * 2` -> compare `doubled > 0` -> template -> stop with the text as the result, which the
webhook (waiting for the result) answers. Every answer is checked against the `n` sent.

Embedded: granian serves create_api() with the embedded worker (SQLite, in-process broker),
as `flowbot run` does. --scaled N: a web process serving create_api() and `flowbot worker
--processes N` on a scratch PostgreSQL database and Redis (FLOWBOT_TEST_PG_URL,
FLOWBOT_TEST_REDIS_URL), with the web's and the workers' CPU per request apart, requests
per CPU-second of each, and their Redis round trips per request (counted inside those
processes, bench/_redis_trips.py; the idle round trips and CPU per second are printed
first). --url: a running Flowbot instead (--pid: its process, for the CPU and memory
figures).

Printed per round: requests/s, p50/p99, errors, the server process trees' CPU per request
and their memory (/proc), and the generator's own CPU per request. Figures only, no
assertions. Needs only the default install.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import _redis_trips
from bench._load import (
    Answer,
    Round,
    Target,
    add_round_options,
    cpu_seconds,
    header,
    memory,
    redis_trips,
    row,
    run_round,
)
from bench.engine import configure, free_port, processes, wait_port

WARMUP_SECONDS = 2.0
IDLE_SECONDS = 3.0


def five_node_graph() -> dict[str, Any]:
    """webhook -> set variable -> compare -> template -> response (stop with the text)."""
    nodes = [
        ("hook", "webhook", {"endpoint_name": "bench", "wait_for_result": True}),
        ("double", "set_variable", {"name": "doubled", "value": "{{trigger.data.body.n * 2}}"}),
        ("positive", "variable_compare", {"name": "doubled", "op": ">", "value": 0}),
        ("text", "template", {"text": "doubled: {{context.doubled}}"}),
        ("respond", "stop", {"status": "succeeded", "message": "{{node.text.text}}"}),
    ]
    edges = [
        {"source": "hook", "target": "double"},
        {"source": "double", "target": "positive"},
        {"source": "positive", "sourceHandle": "true", "target": "text"},
        {"source": "text", "target": "respond"},
    ]
    return {
        "nodes": [
            {"id": node_id, "type": kind, "params": params, "position": {"x": 200 * i, "y": 0}}
            for i, (node_id, kind, params) in enumerate(nodes)
        ],
        "edges": edges,
    }


def body(i: int) -> dict[str, Any]:
    return {"n": i + 1}


def expected(i: int) -> str:
    """The text the flow (and the Node-RED copy in bench/peers.py) answers for body(i)."""
    return f"doubled: {2 * (i + 1)}"


def check(i: int, answer: Answer) -> str | None:
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}: {answer.text[:200]}"
    found = answer.json()
    message = (found.get("result") or {}).get("message")
    if found.get("status") != "succeeded" or message != expected(i):
        return f"unexpected answer for n={i + 1}: {answer.text[:200]}"
    return None


async def webhook_url(
    base: str, token: str, transport: httpx.AsyncBaseTransport | None = None
) -> str:
    """Create, publish and hook up the flow through the REST API; the URL to call.
    ``transport``: an in-process app's (bench/webhook_counts.py), else over the network."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=30.0, transport=transport
    ) as api:

        async def call(path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
            answer = await api.post(f"/api/v1{path}", json=json)
            if answer.status_code >= 300:
                raise SystemExit(f"POST /api/v1{path} answered {answer.status_code}: {answer.text}")
            return answer.json()

        flow = await call("/flows", {"name": "Webhook load bench", "graph": five_node_graph()})
        await call(f"/flows/{flow['id']}/publish")
        hook = {"name": "bench", "flow_id": flow["id"], "wait_for_result": True}
        hook = await call("/webhooks", hook | {"timeout_seconds": 60})
    return base + httpx.URL(hook["url"]).path


def admin_token() -> str:
    """A fresh install's first admin and an API token of theirs (the configured database)."""
    from engine.db import session_scope
    from engine.migrations import upgrade
    from engine.models import Role
    from engine.services import auth

    upgrade()
    with session_scope() as session:
        admin = auth.create_user(session, "bench", "a-long-password", Role.admin, actor=None)
        return auth.create_api_token(session, admin, "bench", Role.admin).plaintext


@asynccontextmanager
async def embedded_flowbot() -> AsyncIterator[Target]:
    """Flowbot embedded in a temp data directory, served by granian on a free port."""
    tmp = Path(tempfile.mkdtemp(prefix="flowbot-bench-webhook-"))
    configure(
        DATABASE_URL=f"sqlite:///{tmp / 'flowbot.db'}",
        FLOWBOT_DATA_DIR=str(tmp),
        FLOWBOT_SECRET_KEY="bench-secret-key",
    )
    token, port = admin_token(), free_port()
    with processes() as spawn:
        server = spawn(
            "web", "-m", "granian", "--interface", "asgi", "--factory", "--no-log",
            "--host", "127.0.0.1", "--port", str(port), "bench.engine:webhook_app",
        )  # fmt: skip
        await wait_port(port, "the web server")
        base = f"http://127.0.0.1:{port}"
        url = await webhook_url(base, token)
        yield Target("flowbot embedded", url, body, check, {"web": server.pid})


@asynccontextmanager
async def scaled_flowbot(workers: int) -> AsyncIterator[Target]:
    """Scaled: a web process (granian, create_api) and `flowbot worker --processes N` on a
    scratch PostgreSQL database and Redis (keys under a namespace of their own, dropped)."""
    import redis

    from bench._services import REDIS_TEST_URL, bench_database
    from bench.engine import _drop_redis_keys

    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        raise SystemExit(f"Redis unavailable at {REDIS_TEST_URL}: {exc}") from None
    namespace = f"flowbot_bench_webhook_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="flowbot-bench-webhook-"))
    trips = tmp / "redis-trips"
    trips.mkdir()
    env = {"REDIS_URL": REDIS_TEST_URL, "FLOWBOT_REDIS_NAMESPACE": namespace}
    env |= _redis_trips.environment(trips)  # the processes started below count their trips
    with bench_database(
        "flowbot_bench_webhook", FLOWBOT_DATA_DIR=str(tmp), FLOWBOT_SECRET_KEY="bench-key", **env
    ):
        token, port = admin_token(), free_port()
        try:
            with processes() as spawn:
                web = spawn(
                    "web", "-m", "granian", "--interface", "asgi", "--factory", "--no-log",
                    "--host", "127.0.0.1", "--port", str(port), "engine.api.app:create_api",
                )  # fmt: skip
                worker = spawn("worker", "-m", "flowbot.cli", "worker", "--processes", str(workers))
                await wait_port(port, "the web server")
                url = await webhook_url(f"http://127.0.0.1:{port}", token)
                parts = {"web": web.pid, "workers": worker.pid}
                yield Target(f"flowbot scaled x{workers}", url, body, check, parts, trips)
        finally:
            _drop_redis_keys(REDIS_TEST_URL, namespace)


@asynccontextmanager
async def running_flowbot(base: str, token: str, pid: int | None) -> AsyncIterator[Target]:
    url = await webhook_url(base.rstrip("/"), token)
    yield Target("flowbot " + base, url, body, check, {"web": pid} if pid else {})


async def warm_up(target: Target) -> None:
    """Print the server's idle memory, then make the first calls, which pay for imports,
    caches and connections (not measured)."""
    if target.processes:
        idle = memory(*target.processes.values())
        print(
            f"{target.name}: idle, {idle.processes} processes, RSS {idle.rss_mib:.0f} MiB, "
            f"PSS {idle.pss_mib:.0f} MiB",
            flush=True,
        )
    warm = await run_round(target, 4, WARMUP_SECONDS)
    if not warm.answered:
        raise SystemExit(f"{target.name} answered no call correctly: {warm.first_error}")
    if target.redis_trips is not None:
        before = await redis_trips(target)
        cpu_before = {part: cpu_seconds(pid) for part, pid in target.processes.items()}
        await asyncio.sleep(IDLE_SECONDS)
        idle = {
            part: (n - before[part]) / IDLE_SECONDS
            for part, n in (await redis_trips(target)).items()
        }
        rates = ", ".join(f"{part} {rate:.1f}" for part, rate in idle.items())
        print(f"idle Redis round trips/s by part (polling): {rates}", flush=True)
        cpu = ", ".join(
            f"{part} {(cpu_seconds(pid) - cpu_before[part]) * 1000 / IDLE_SECONDS:.1f}"
            for part, pid in target.processes.items()
        )
        print(f"idle CPU ms/s by part: {cpu}", flush=True)


async def main_async(args: argparse.Namespace) -> list[Round]:
    if args.url:
        started = running_flowbot(args.url, args.token, args.pid)
    else:
        started = scaled_flowbot(args.scaled) if args.scaled else embedded_flowbot()
    async with started as target:
        await warm_up(target)
        print(header(), flush=True)
        rounds = []
        for concurrency in args.concurrency:
            rounds.append(await run_round(target, concurrency, args.seconds))
            print(row(rounds[-1]), flush=True)
        return rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_round_options(parser, seconds=10.0)
    parser.add_argument(
        "--scaled",
        type=int,
        metavar="N",
        help="start Flowbot scaled instead: PostgreSQL, Redis, a web process and N workers",
    )
    parser.add_argument("--url", help="a running Flowbot (default: start one embedded)")
    parser.add_argument("--token", help="an editor's API token for --url")
    parser.add_argument("--pid", type=int, help="the --url server's process, for CPU and memory")
    args = parser.parse_args(argv)
    if args.url and not args.token:
        parser.error("--url needs --token (an editor's API token)")
    asyncio.run(main_async(args))
    print(
        "\ncpu ms/req: the server's process tree (user+system, /proc) per answered request; "
        "gen ms/req: this load generator's own CPU (it shares the machine)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

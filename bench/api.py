"""REST API benchmark: latency and throughput of the two big lists on PostgreSQL.

    python -m bench.api                 # 1,000 flows and 100,000 executions
    python -m bench.api -n 1000         # requests per measurement

A fresh PostgreSQL database is seeded with bulk inserts (1,000 flows; 100,000 executions
spread over them and over 30 days), then granian serves create_api() (one process, as
`flowbot web` does) and an httpx client asks for the first page of each list (the default
50 items), one request at a time (latency) and with BURST in flight (throughput). A third
row pages deep: every request follows a cursor 40 pages in. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench._services import bench_database
from bench.engine import BURST, TIMEOUT, measure, print_figures
from tests.live_api import served_in_process

FLOWS = 1_000
EXECUTIONS = 100_000
CHUNK = 10_000
WARMUP = 20


def seed() -> str:
    """Fill the database; the plaintext of an admin's API token."""
    import sqlalchemy as sa

    from engine.db import get_engine, session_scope
    from engine.models import FlowDefinition, FlowExecution, Role, utcnow
    from engine.services import auth
    from tests.flow_helpers import five_node_graph

    with session_scope() as session:
        admin = auth.create_user(session, "bench", "a-long-password", Role.admin, actor=None)
        token = auth.create_api_token(session, admin, "bench", Role.admin).plaintext
    graph, now = five_node_graph(), utcnow()
    rng = random.Random(7)
    started = time.perf_counter()
    with get_engine().begin() as conn:
        conn.execute(
            sa.insert(FlowDefinition.__table__),
            [
                {
                    "name": f"flow {i:04d}",
                    "description": "",
                    "status": rng.choice(["draft", "active", "paused"]),
                    "graph": graph,
                    "revision": 1,
                    "trigger_type": "tg_command",
                    "created_by": "bench",
                    "created_at": now - timedelta(minutes=FLOWS - i),
                    "updated_at": now - timedelta(minutes=FLOWS - i),
                }
                for i in range(FLOWS)
            ],
        )
        flow_ids = conn.execute(sa.select(FlowDefinition.id)).scalars().all()
        for start in range(0, EXECUTIONS, CHUNK):
            rows = []
            for i in range(start, min(start + CHUNK, EXECUTIONS)):
                at = now - timedelta(seconds=(EXECUTIONS - i) * 26)  # ~30 days
                status = "failed" if rng.random() < 0.05 else "succeeded"
                rows.append(
                    {
                        "flow_id": rng.choice(flow_ids),
                        "status": status,
                        "idempotency_key": f"bench:{i}",
                        "trigger_type": "tg_command",
                        "trigger_data": {"text": "/start", "user": {"id": str(i % 500)}},
                        "context": {},
                        "result": None,
                        "error": "boom" if status == "failed" else None,
                        "depth": 0,
                        "step_count": 5,
                        "started_at": at,
                        "finished_at": at + timedelta(milliseconds=40),
                    }
                )
            conn.execute(sa.insert(FlowExecution.__table__), rows)
        conn.execute(sa.text("ANALYZE"))
    print(
        f"seeded {FLOWS:,} flows and {EXECUTIONS:,} executions "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return token


async def bench(base: str, token: str, n: int) -> list[tuple[str, dict[str, float]]]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=BURST)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=TIMEOUT, limits=limits
    ) as client:

        async def cursor_after(path: str, pages: int) -> str:
            cursor = None
            for _ in range(pages):
                page = (await client.get(path, params={"cursor": cursor} if cursor else {})).json()
                cursor = page["next_cursor"]
            assert cursor is not None
            return cursor

        def getter(
            path: str, params: dict[str, Any] | None = None
        ) -> Callable[[int], Awaitable[None]]:
            async def run_one(_: int) -> None:
                answer = await client.get(path, params=params)
                if answer.status_code != 200:
                    raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text}")

            return run_one

        deep = await cursor_after("/api/v1/executions", 40)
        cases = [
            (f"GET /api/v1/flows ({FLOWS:,})", getter("/api/v1/flows")),
            (f"GET /api/v1/executions ({EXECUTIONS:,})", getter("/api/v1/executions")),
            ("  ... 40 pages in (cursor)", getter("/api/v1/executions", {"cursor": deep})),
        ]
        rows = []
        for title, run_one in cases:
            for i in range(WARMUP):
                await run_one(i)
            rows.append((title, await measure(run_one, n)))
        return rows


async def main_async(n: int) -> list[tuple[str, dict[str, float]]]:
    tmp = Path(tempfile.mkdtemp(prefix="flowbot-bench-api-"))
    env = {
        "FLOWBOT_DATA_DIR": str(tmp),
        "FLOWBOT_SECRET_KEY": "bench-secret-key",
        "FLOWBOT_API_REQUESTS_PER_MINUTE": "1000000000",  # measure the lists, not the limit
    }
    with bench_database("flowbot_bench_api", **env):  # DATABASE_URL: in os.environ now
        token = seed()
        with (tmp / "web.log").open("wb") as log, served_in_process(env, log) as base:
            return await bench(base, token, n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="requests per measurement")
    args = parser.parse_args(argv)
    rows = asyncio.run(main_async(args.n))
    print_figures("request", "n", rows)
    print(f"\nFirst page of 50 items; seq/s: one request at a time; burst/s: {BURST} in flight.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

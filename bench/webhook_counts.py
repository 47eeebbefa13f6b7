"""What one webhook call costs in work, counted rather than timed: SQL statements, commits
and bus events per request of bench/webhook_load.py's 5-node flow, embedded (SQLite, the
in-process worker), calls made one after another in this process.

    python -m bench.webhook_counts [--calls 200]

Counts do not move with the machine's load, unlike CPU figures on a shared machine, so
they show what a change saved. Also printed: this process's CPU per call (server and the
in-process client together). ``--python-calls`` also counts the Python and C function
calls made per webhook call in every thread (a profile hook, so the CPU figure is then
meaningless): a stand-in for CPU that a loaded machine does not blur. Figures only, no
assertions; needs only the default install.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench._load import Answer
from bench.engine import configure
from bench.webhook_load import admin_token, body, check, webhook_url

WARMUP_CALLS = 20


def _kind(statement: str) -> str:
    """``INSERT INTO flow_execution``, ``SELECT flow_execution.status``...: enough to tell
    the statements apart."""
    return " ".join(statement.split()[:3])[:70]


class CallCounter:
    """Function calls (Python and C) made in every thread started after :meth:`install`,
    counted by a profile hook while ``on``."""

    def __init__(self) -> None:
        self.calls = 0
        self.on = False

    def _hook(self, _frame: Any, event: str, _arg: Any) -> None:
        if self.on and (event == "call" or event == "c_call"):
            self.calls += 1  # under the GIL; a lost increment or two is noise

    def install(self) -> None:
        threading.setprofile(self._hook)
        sys.setprofile(self._hook)


async def count(calls: int, counter: CallCounter | None = None) -> None:
    from engine import events
    from engine.api.app import create_api
    from engine.db import get_engine
    from engine.worker import embedded_worker

    token = admin_token()
    statements: Counter[str] = Counter()
    published: Counter[str] = Counter()
    commits = 0

    def on_statement(*args: Any) -> None:
        statements[_kind(args[2])] += 1

    def on_commit(_connection: Any) -> None:
        nonlocal commits
        commits += 1

    async with embedded_worker():
        transport = httpx.ASGITransport(app=create_api())
        url = await webhook_url("http://bench", token, transport)
        async with httpx.AsyncClient(transport=transport, timeout=60) as client:

            async def call(i: int) -> None:
                answer = await client.post(url, json=body(i))
                problem = check(i, Answer(answer.status_code, answer.content))
                if problem:
                    raise SystemExit(problem)

            for i in range(WARMUP_CALLS):
                await call(i)
            bus = events.get_bus()
            publish = bus.publish

            def counting_publish(topic: str, payload: dict[str, Any], *more: str) -> None:
                for name in (topic, *more):
                    published[name.split(".")[0]] += 1
                publish(topic, payload, *more)

            bus.publish = counting_publish  # type: ignore[method-assign]
            sa.event.listen(get_engine(), "before_cursor_execute", on_statement)
            sa.event.listen(get_engine(), "commit", on_commit)
            if counter is not None:
                counter.on = True
            cpu, wall = time.process_time(), time.perf_counter()
            for i in range(calls):
                await call(i)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if counter is not None:
                counter.on = False
    print(
        f"per call: {statements.total() / calls:.1f} SQL statements, {commits / calls:.1f} "
        f"commits (reads included), {published.total() / calls:.1f} bus events; "
        f"{cpu * 1000 / calls:.2f} ms CPU and {wall * 1000 / calls:.2f} ms wall (server and "
        "client in this process)"
    )
    for kind, n in statements.most_common():
        print(f"  {n / calls:5.2f}  {kind}")
    for topic, n in published.most_common():
        print(f"  {n / calls:5.2f}  bus: {topic}.*")
    if counter is not None:
        print(f"function calls (Python and C, every thread) per call: {counter.calls / calls:,.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls counted (after warm-up)")
    parser.add_argument(
        "--python-calls", action="store_true", help="also count function calls per call"
    )
    args = parser.parse_args(argv)
    counter = CallCounter() if args.python_calls else None
    if counter is not None:
        counter.install()  # before the worker's threads start, so they inherit it
    tmp = Path(tempfile.mkdtemp(prefix="flowbot-bench-counts-"))
    configure(
        DATABASE_URL=f"sqlite:///{tmp / 'flowbot.db'}",
        FLOWBOT_DATA_DIR=str(tmp),
        FLOWBOT_SECRET_KEY="bench-secret-key",
    )
    asyncio.run(count(args.calls, counter))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

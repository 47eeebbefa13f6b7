"""Broadcast benchmark: 10,000 chats on the fake Telegram, which enforces Telegram's flood
limits (30 messages/s per bot, 20/min per chat) and answers 429 with retry_after.

    python -m bench.broadcast                    # 10,000 targets, one bot
    python -m bench.broadcast --bots 4           # the same spread over 4 bots
    python -m bench.broadcast --targets 2000     # fewer targets
    python -m bench.broadcast --tracemalloc      # Python's allocation peak (slower)

Embedded, as a single-machine install runs it: SQLite, the in-process broker and worker
threads (deliver_broadcast as the worker runs it), the real pool API and aiogram
connectors under a supervisor, the fake Bot API over HTTP, all in this process. Prints
the wall time from the worker taking the job the service queued to the broadcast's end,
the theoretical minimum the limits allow (targets / 30 per s per bot), their ratio (the
goal is at most 1.1), the 429s the fake answered, and memory: how far the RSS rose above
its start during the run (sampled every 0.1 s) and, with ``--tracemalloc``, the peak of
Python allocations (tracing costs CPU, so time a run without it). Figures only, no
assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.engine import configure, sqlite_env

TELEGRAM_LIMITS = {"per_second": 30, "per_chat_per_minute": 20}


def _token(bot: int) -> str:
    return f"{700_000_000 + bot}:AAF4keT0kenForFlowbotBench-{bot:010d}"


def _rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmRSS in /proc/self/status")


class _ProcessEnvironment:
    """The bench is its own process: the engine is pointed at the pool in its environment."""

    def setenv(self, name: str, value: str) -> None:
        os.environ[name] = value


async def _run(targets: int, bots: int, trace: bool) -> dict[str, Any]:
    from engine.models import BroadcastStatus
    from engine.models.connections import ConnectorKind
    from engine.pacing import minimum_seconds
    from engine.worker import start_embedded_worker, stop_embedded_worker
    from tests.broadcast_world import broadcast, status_of
    from tests.fakes import FakeTelegramBotAPI
    from tests.integration.supervised import supervised_instances

    async with FakeTelegramBotAPI(_token(0)) as fake:
        fake.tokens.update(_token(bot) for bot in range(bots))
        settings = {"api_base_url": fake.base_url, "poll_timeout": 1}
        specs = [(ConnectorKind.telegram_bot, _token(bot), settings) for bot in range(bots)]
        async with supervised_instances(_ProcessEnvironment(), specs) as (_, ids):
            for token in map(_token, range(bots)):
                await fake.log.wait_for(
                    lambda c, t=token: c.method == "getUpdates" and c.token == t, timeout=30
                )
            chats = [
                ("telegram_bot", ids[i % bots], str(-1_000_000_000_000 - i)) for i in range(targets)
            ]
            # Sent through the service, which queues the job: it waits for the worker.
            broadcast_id = await asyncio.to_thread(broadcast, chats)
            fake.enforce_limits(**TELEGRAM_LIMITS)
            # Telegram is not in our process: keep the fake's world and the setup out of
            # the collector's walks, or its pauses stall every sender here at once and
            # the bunched sends that follow are answered 429.
            gc.collect()
            gc.freeze()
            rss_before = rss_peak = _rss_mb()
            if trace:
                tracemalloc.start()
            started = time.perf_counter()
            worker = start_embedded_worker()
            while await asyncio.to_thread(status_of, broadcast_id) == BroadcastStatus.sending:
                rss_peak = max(rss_peak, _rss_mb())
                await asyncio.sleep(0.1)
            wall = time.perf_counter() - started
            traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
            tracemalloc.stop()
            await asyncio.to_thread(stop_embedded_worker, worker)
            status = await asyncio.to_thread(status_of, broadcast_id)
    per_bot = {("telegram_bot", i): targets // bots + (i < targets % bots) for i in range(bots)}
    minimum = minimum_seconds(per_bot)
    return {
        "status": str(status),
        "sent": len(fake.calls_to("sendMessage")) - fake.rate_limited,
        "wall_s": wall,
        "minimum_s": minimum,
        "ratio": wall / minimum if minimum else float("nan"),
        "rate_limited": fake.rate_limited,
        "rss_growth_mb": rss_peak - rss_before,
        "traced_peak_mb": traced_peak,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--bots", type=int, default=1)
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also trace Python allocations (slows Python down: the ratio then means little)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flowbot-bench-broadcast-") as tmp:
        configure(**sqlite_env(Path(tmp), 0))
        from engine.db import get_engine
        from engine.migrations import upgrade

        upgrade(str(get_engine().url))
        figures = asyncio.run(_run(args.targets, args.bots, args.tracemalloc))
    traced = figures["traced_peak_mb"]
    print(
        f"\nbroadcast to {args.targets:,} Telegram chats over {args.bots} bot(s), "
        f"limits enforced by the fake ({TELEGRAM_LIMITS['per_second']}/s per bot)\n"
        f"  status            {figures['status']} ({figures['sent']:,} messages accepted)\n"
        f"  wall time         {figures['wall_s']:.1f} s\n"
        f"  theoretical min   {figures['minimum_s']:.1f} s\n"
        f"  ratio             {figures['ratio']:.3f}x (goal <= 1.1x)\n"
        f"  429s from fake    {figures['rate_limited']}\n"
        f"  RSS rise         {figures['rss_growth_mb']:.1f} MB\n"
        f"  tracemalloc peak  {'-' if traced is None else f'{traced:.1f} MB'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

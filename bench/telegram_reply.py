"""Platform event to reply: how long a member waits for a flow's answer to ``/ping``.

    python -m bench.telegram_reply                 # 300 pings
    python -m bench.telegram_reply --rounds 1000

Embedded, as `flowbot run` runs it: SQLite, the in-process broker and worker threads, the
aiogram connector under a supervisor, the pool API over HTTP, the fake Bot API over HTTP,
all in this process (bench/bot_config.py's set-up). The flow is published like any other:
a Telegram command trigger (``/ping``) and a reply in the same chat. One update at a time,
once the connector and the engine are done with the last, it injects ``/ping`` at the fake
Telegram and times until the reply's ``sendMessage`` arrives there: long polling, aiogram,
the mapper, route_event, the trigger index, the execution and its steps in SQLite, the
pool call, aiogram again. Prints p50/p99/max (the goal is a p99 of at most 50 ms), the
process's CPU per reply and the machine's load. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bot_config import GOAL_MS, WARMUP, ProcessEnvironment, answered, percentile
from bench.engine import configure, sqlite_env

TOKEN = "710000001:AAF4keT0kenForFlowbotBench-telegramreply"
USER_ID = 434_343


def _publish_ping_flow() -> None:
    from tests.flow_helpers import chain, make_flow

    make_flow(
        chain(
            ("ping", "tg_command", {"command": "ping"}),
            ("pong", "reply_in_place", {"text": "pong {{trigger.user.first_name}}"}),
        ),
        name="ping",
    )


async def _run(rounds: int) -> dict[str, Any]:
    from engine.models.connections import ConnectorKind
    from engine.worker import start_embedded_worker, stop_embedded_worker
    from tests.fakes import FakeTelegramBotAPI
    from tests.integration.supervised import supervised_instances

    timings: list[float] = []
    async with FakeTelegramBotAPI(TOKEN) as fake:
        fake.add_user(USER_ID, first_name="Ada")
        settings = {"api_base_url": fake.base_url, "poll_timeout": 25}
        spec = [(ConnectorKind.telegram_bot, TOKEN, settings)]
        worker = start_embedded_worker()
        try:
            async with supervised_instances(ProcessEnvironment(), spec):
                await fake.wait_for_call("getUpdates", timeout=30)
                await asyncio.to_thread(_publish_ping_flow)

                def ping() -> None:
                    fake.push_command("ping", user_id=USER_ID)

                for i in range(WARMUP + rounds):
                    if i == WARMUP:
                        cpu_started = time.process_time()
                    elapsed = await answered(fake, ping, "sendMessage")
                    reply = fake.calls_to("sendMessage")[-1].params.get("text")
                    if reply != "pong Ada":
                        raise SystemExit(f"unexpected reply to /ping: {reply!r}")
                    if i >= WARMUP:
                        timings.append(elapsed)
                cpu_ms = (time.process_time() - cpu_started) * 1000 / rounds
        finally:
            await asyncio.to_thread(stop_embedded_worker, worker)
    return {"timings": timings, "cpu_ms": cpu_ms}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300, help="pings timed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flowbot-bench-telegram-reply-") as tmp:
        configure(**sqlite_env(Path(tmp), 0))
        from engine.db import get_engine
        from engine.migrations import upgrade

        upgrade(str(get_engine().url))
        figures = asyncio.run(_run(args.rounds))
    values = figures["timings"]
    print(
        f"\n/ping -> flow -> reply at the fake Telegram, embedded (SQLite), {args.rounds} "
        f"pings one at a time; goal p99 <= {GOAL_MS:.0f} ms\n"
        f"  reply            p50 {statistics.median(values):6.1f} ms   "
        f"p99 {percentile(values, 0.99):6.1f} ms   max {max(values):6.1f} ms\n"
        f"  CPU per reply    {figures['cpu_ms']:6.1f} ms (this process: connector, engine "
        f"worker, pool API and fake Telegram)\n"
        f"  load average     {os.getloadavg()[0]:6.2f} on {os.cpu_count()} CPUs "
        "(other work slows the tail)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

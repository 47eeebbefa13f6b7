"""Bot configuration benchmark: how long a member waits for the bot's own answer.

    python -m bench.bot_config                 # 300 commands and 300 menu presses
    python -m bench.bot_config --rounds 1000
    python -m bench.bot_config --overlap       # the engine still ingesting the last update

Embedded, as a single-machine install runs it: SQLite, the in-process broker and worker
threads (every update is still forwarded to route_event), the aiogram connector under a
supervisor, the fake Bot API over HTTP, all in this process. One update at a time (once
the connector and, unless ``--overlap``, the engine's worker are done with the last), it
injects ``/help`` (answered with a response in the member's language, quoting the message)
or a menu button press (answered by editing the menu message into its submenu, then Back),
and times from the injection to the answer arriving at the fake Telegram: long polling,
aiogram, the facts lookup, the decision and rendering, the send. Prints p50/p99/max per
kind (the goal is a p99 of at most 50 ms), the process's CPU per answer and the machine's
load, which stretches the tail on a shared machine. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.engine import configure, sqlite_env

TOKEN = "710000000:AAF4keT0kenForFlowbotBench-botconfig"
USER_ID = 424_242
GOAL_MS = 50.0
WARMUP = 20

DOCUMENT: dict[str, Any] = {
    "default_language": "en",
    "languages": ["en", "de"],
    "commands": [
        {"name": "help", "description": {"en": "Get help", "de": "Hilfe"},
         "action": {"kind": "response", "target": "help"}},
        {"name": "menu", "description": {"en": "Open the menu", "de": "Menü"},
         "action": {"kind": "menu", "target": "main"}},
    ],
    "responses": [
        {"key": "help", "text": {"en": "**Help** for {{ member.name }} in {{ chat.title }}",
                                 "de": "**Hilfe** für {{ member.name }} in {{ chat.title }}"}},
        {"key": "price", "triggers": [{"kind": "keyword", "value": "price"}],
         "text": {"en": "It is free."}},
    ],
    "menus": [
        {"key": "main", "title": {"en": "Main menu", "de": "Hauptmenü"},
         "rows": [[{"label": {"en": "FAQ"}, "action": {"kind": "menu", "target": "faq"}}],
                  [{"label": {"en": "Help"}, "action": {"kind": "response", "target": "help"}}]]},
        {"key": "faq", "title": {"en": "Questions, {{ member.name }}?"},
         "rows": [[{"label": {"en": "Docs"},
                    "action": {"kind": "url", "target": "https://example.org/docs"}}]]},
    ],
}  # fmt: skip


class ProcessEnvironment:
    """The bench is its own process: the engine is pointed at the pool in its environment."""

    def setenv(self, name: str, value: str) -> None:
        os.environ[name] = value


def _publish(instance_id: int) -> None:
    from engine.db import session_scope
    from engine.models.botconfig import BotConfigVersion

    with session_scope() as session:
        session.add(BotConfigVersion(bot_instance_id=instance_id, version=1, document=DOCUMENT))


async def _run(rounds: int, overlap: bool) -> dict[str, Any]:
    from engine.models.connections import ConnectorKind
    from engine.worker import start_embedded_worker, stop_embedded_worker
    from tests.fakes import FakeTelegramBotAPI
    from tests.integration.supervised import supervised_instances

    timings: dict[str, list[float]] = {"command": [], "menu": []}
    async with FakeTelegramBotAPI(TOKEN) as fake:
        fake.add_user(USER_ID, first_name="Grete", language_code="de")
        settings = {"api_base_url": fake.base_url, "poll_timeout": 25}
        spec = [(ConnectorKind.telegram_bot, TOKEN, settings)]
        worker = start_embedded_worker()
        try:
            async with supervised_instances(ProcessEnvironment(), spec) as (supervisor, ids):
                await fake.wait_for_call("getUpdates", timeout=30)
                await asyncio.to_thread(_publish, ids[0])
                supervisor.reload_bot_config(ids[0])  # what the bus relay does on publish
                await fake.wait_for_call("setMyCommands", timeout=10)
                await answered(fake, lambda: fake.push_command("menu"), "sendMessage")
                menu_message = fake.messages[max(fake.messages)]

                def help_command() -> None:
                    fake.push_command("help", user_id=USER_ID)

                for i in range(WARMUP + rounds):
                    if i == WARMUP:
                        cpu_started = time.process_time()
                    command_ms = await answered(fake, help_command, "sendMessage", overlap=overlap)
                    data = "fb:m:main/faq" if i % 2 == 0 else "fb:m:main"
                    menu_ms = await answered(
                        fake,
                        lambda d=data: fake.push_callback_query(d, message=menu_message),
                        "editMessageText",
                        overlap=overlap,
                    )
                    if i >= WARMUP:
                        timings["command"].append(command_ms)
                        timings["menu"].append(menu_ms)
                cpu_ms = (time.process_time() - cpu_started) * 1000 / (2 * rounds)
        finally:
            await asyncio.to_thread(stop_embedded_worker, worker)
    return {"timings": timings, "cpu_ms": cpu_ms}


async def answered(
    fake: Any, inject: Callable[[], object], method: str, *, overlap: bool = False
) -> float:
    """Milliseconds from injecting an update to the bot's ``method`` call arriving."""
    await _idle(fake, engine_too=not overlap)
    fake.log.calls.clear()  # the fake's waits scan its log: keep it short
    started = time.perf_counter()
    inject()
    await fake.wait_for_call(method, timeout=10)
    return (time.perf_counter() - started) * 1000


async def _idle(fake: Any, engine_too: bool) -> None:
    """Wait until the connector has finished the last update (acknowledged it, forwarded
    it to the engine) and asked for the next, and with ``engine_too`` until the engine's
    worker has handled the forwarded events (member ingest): each update then arrives at a
    quiet process, as members' messages to one bot mostly do."""
    while fake.pending_update_count():  # confirmed by the next getUpdates' offset
        await asyncio.sleep(0.001)
    if engine_too:
        from engine.actors import broker
        from engine.broker import QUEUE

        await asyncio.to_thread(broker.join, QUEUE, fail_fast=False)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300, help="answers timed per kind")
    parser.add_argument(
        "--overlap",
        action="store_true",
        help="inject the next update while the engine still ingests the last one",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flowbot-bench-botconfig-") as tmp:
        configure(**sqlite_env(Path(tmp), 0))
        from engine.db import get_engine
        from engine.migrations import upgrade

        upgrade(str(get_engine().url))
        figures = asyncio.run(_run(args.rounds, args.overlap))
    load = os.getloadavg()[0]
    print(
        f"\nbot configuration answers on the fake Telegram, embedded (SQLite), "
        f"{args.rounds} of each, one at a time"
        f"{' (the engine still busy with the last)' if args.overlap else ''}; "
        f"goal p99 <= {GOAL_MS:.0f} ms"
    )
    labels = {"command": "/help response", "menu": "menu navigation"}
    for kind, values in figures["timings"].items():
        print(
            f"  {labels[kind]:<16} p50 {statistics.median(values):6.1f} ms   "
            f"p99 {percentile(values, 0.99):6.1f} ms   max {max(values):6.1f} ms"
        )
    print(
        f"  CPU per answer   {figures['cpu_ms']:6.1f} ms (this process: connector, engine "
        f"worker and fake Telegram)\n"
        f"  load average     {load:6.2f} on {os.cpu_count()} CPUs (other work slows the tail)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

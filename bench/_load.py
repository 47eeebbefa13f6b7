"""The HTTP load generator the webhook benches share, and what a server process tree costs.

One round keeps ``concurrency`` requests in flight for a fixed time, checks every answer
with the caller's check, and reads the server's CPU time and memory from /proc before and
after: CPU per request is the server tree's user+system time divided by the answers.

The generator shares the machine with the server, so each request must cost it little:
one keep-alive HTTP/1.1 connection per client on asyncio streams (about a tenth of an
httpx request's CPU), and its own CPU per request is printed next to the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.processes import children

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
TIMEOUT = 60.0


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, read whole."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


Body = Callable[[int], dict[str, Any]]
Check = Callable[[int, Answer], str | None]  # the problem with an answer, or None


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON, reconnecting when closed."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.head = (
            f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, payload: dict[str, Any]) -> Answer:
        body = json.dumps(payload).encode()
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        try:
            writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
            status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
            headers = dict(
                (name.strip().lower(), value.strip())
                for name, _, value in (line.partition(b":") for line in lines if line)
            )
            if headers.get(b"transfer-encoding") == b"chunked":
                content = await _chunks(reader)
            elif b"content-length" in headers:
                content = await reader.readexactly(int(headers[b"content-length"]))
            else:  # the body ends with the connection
                content = await reader.read()
                headers[b"connection"] = b"close"
            if headers.get(b"connection") == b"close":
                self.close()
            return Answer(int(status_line.split()[1]), content)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        parts.append((await reader.readexactly(size + 2))[:-2])
    await reader.readuntil(b"\r\n")  # no trailers are sent to this client
    return b"".join(parts)


@dataclass(frozen=True)
class Target:
    """A server under load: where to POST, what to send, how to check the answer, and the
    processes whose trees pay for it, by part (none: not on this machine, no CPU or memory
    figures; several, e.g. web and workers: each part's CPU per request is shown too)."""

    name: str
    url: str
    body: Body
    check: Check
    processes: dict[str, int]
    redis_trips: Path | None = None  # where its processes count them (bench/_redis_trips.py)


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (Linux), so forked workers count too."""
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += children(found[-1])
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process tree under ``pid`` so far."""
    total = 0
    for member in tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


@dataclass(frozen=True)
class Memory:
    """Resident memory of a process tree: RSS summed (counts shared pages once per process)
    and PSS summed (shares them out: the tree's real footprint)."""

    processes: int
    rss_mib: float
    pss_mib: float


def memory(*pids: int) -> Memory:
    rss = pss = 0
    members = [member for pid in pids for member in tree(pid)]
    for member in members:
        try:
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
        except (FileNotFoundError, PermissionError):
            continue
        for line in rollup.splitlines():
            name, _, rest = line.partition(":")
            if name == "Rss":
                rss += int(rest.split()[0]) * 1024
            elif name == "Pss":
                pss += int(rest.split()[0]) * 1024
    return Memory(len(members), rss / MIB, pss / MIB)


@dataclass
class Round:
    """What one round measured."""

    target: str
    concurrency: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    cpu_s: dict[str, float] = field(default_factory=dict)  # by part of the server
    redis_trips: dict[str, int] = field(default_factory=dict)  # by part, when counted
    client_cpu_s: float = 0.0
    memory: Memory | None = None

    @property
    def answered(self) -> int:
        return len(self.latencies_ms)

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        if not self.cpu_s or not self.answered:
            return None
        return sum(self.cpu_s.values()) * 1000 / self.answered


async def run_round(target: Target, concurrency: int, seconds: float) -> Round:
    """``concurrency`` clients POST to the target back to back for ``seconds``."""
    measured = Round(target.name, concurrency)
    counter = iter(range(1 << 62))

    async def client_loop(deadline: float) -> None:
        connection = Connection(target.url)
        while time.perf_counter() < deadline:
            i = next(counter)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(TIMEOUT):
                    problem = target.check(i, await connection.post(target.body(i)))
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem is None:
                measured.latencies_ms.append((time.perf_counter() - started) * 1000)
            else:
                measured.errors += 1
                measured.first_error = measured.first_error or problem
        connection.close()

    trips_before = await redis_trips(target)
    cpu_before = {part: cpu_seconds(pid) for part, pid in target.processes.items()}
    own_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client_loop(started + seconds) for _ in range(concurrency)))
    measured.seconds = time.perf_counter() - started
    measured.client_cpu_s = time.process_time() - own_before
    for part, pid in target.processes.items():
        measured.cpu_s[part] = cpu_seconds(pid) - cpu_before[part]
    for part, trips in (await redis_trips(target)).items():
        measured.redis_trips[part] = trips - trips_before[part]
    if target.processes:
        measured.memory = memory(*target.processes.values())
    return measured


async def redis_trips(target: Target) -> dict[str, int]:
    """Each part's Redis round trips so far (none when the target does not count them)."""
    if target.redis_trips is None:
        return {}
    from bench import _redis_trips

    await asyncio.sleep(_redis_trips.WRITE_EVERY * 2)  # every process has written its figure
    found = target.redis_trips
    return {part: _redis_trips.total(found, tree(pid)) for part, pid in target.processes.items()}


def add_round_options(parser: argparse.ArgumentParser, seconds: float) -> None:
    parser.add_argument("--seconds", type=float, default=seconds, help="length of each round")
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(part) for part in text.split(",") if part.strip()],
        default=[1, 16, 64],
        help="requests in flight, comma-separated (default 1,16,64)",
    )


def header() -> str:
    return (
        f"{'target':24} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'cpu ms/req':>10} {'gen ms/req':>10} {'RSS MiB':>8} {'PSS MiB':>8}"
    )


def row(measured: Round) -> str:
    cpu = measured.server_cpu_ms_per_request
    gen = measured.client_cpu_s * 1000 / measured.answered if measured.answered else float("nan")
    mem = measured.memory
    line = (
        f"{measured.target:24} {measured.concurrency:>4} {measured.per_second:>8.1f} "
        f"{measured.percentile(0.5):>8.1f} {measured.percentile(0.99):>8.1f} "
        f"{measured.errors:>6} {_or_na(cpu, 10, 3)} {gen:>10.3f} "
        f"{_or_na(mem and mem.rss_mib, 8, 0)} {_or_na(mem and mem.pss_mib, 8, 0)}"
    )
    if len(measured.cpu_s) > 1 and measured.answered:
        per_part = measured.cpu_s.items()
        parts = (f"{part} {cpu * 1000 / measured.answered:.3f}" for part, cpu in per_part)
        line += f"\n    cpu ms/req by part: {', '.join(parts)}"
        rates = (f"{part} {measured.answered / cpu:.0f}" for part, cpu in per_part if cpu > 0)
        line += f"\n    requests per CPU-second by part: {', '.join(rates)}"
    if measured.redis_trips and measured.answered:
        trips = measured.redis_trips.items()
        parts = (f"{part} {count / measured.answered:.1f}" for part, count in trips)
        line += f"\n    Redis round trips/req by part: {', '.join(parts)}"
    if measured.first_error:
        line += f"\n    first error: {measured.first_error[:300]}"
    return line


def _or_na(value: float | None, width: int, digits: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def median_of(rounds: list[Round], read: Callable[[Round], float | None]) -> float | None:
    values = [v for v in map(read, rounds) if v is not None]
    return statistics.median(values) if values else None

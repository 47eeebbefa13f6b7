"""A recording fake of the connector pool API (``POST /execute``), for executor tests.

It answers like real connectors do, including their idempotency contract: a request
whose ``idempotency_key`` was already executed successfully returns the first result
and is not executed again. ``requests`` holds every request, ``executions`` only the
ones that ran, so a test can tell a retried request from a repeated action.

In process::

    async with FakePool(token="t") as pool:
        pool.results["send_message"] = {"message_id": "9"}
        pool.fail("ban_member", "rate_limited", "slow down", retry_after=3)

As a separate process (the worker-kill integration test reads what it saw)::

    python -m tests.fakes.pool --port 3999 --token t --record-file calls.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes._server import CallLog, FakeServer

Result = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class PoolCall:
    instance_id: int | None
    kind: str
    action: str
    params: dict[str, Any]
    idempotency_key: str

    @property
    def summary(self) -> str:
        return f"{self.kind}.{self.action} [{self.idempotency_key}]"


@dataclass
class Failure:
    """A scripted error answer; ``times`` None means every call until cleared."""

    kind: str
    message: str
    retry_after: float | None = None
    times: int | None = 1
    details: dict[str, Any] = field(default_factory=dict)


class FakePool(FakeServer):
    def __init__(
        self, token: str = "pool-token", port: int = 0, record_file: Path | None = None
    ) -> None:
        super().__init__()
        self.port = port
        self.token = token
        self.record_file = record_file
        self.requests: CallLog[PoolCall] = CallLog()
        self.executions: CallLog[PoolCall] = CallLog()
        self.results: dict[str, Result] = {}
        self.delays: dict[str, float] = {}  # action → seconds it takes
        self.failures: dict[str, list[Failure]] = {}
        self._done: dict[str, dict[str, Any]] = {}  # idempotency key → first result
        self._key_locks: dict[str, asyncio.Lock] = {}
        self.active = 0  # actions running right now
        self.max_active = 0  # most actions seen running at once

    @property
    def url(self) -> str:
        return self.origin

    def fail(
        self,
        action: str,
        kind: str,
        message: str = "refused",
        *,
        retry_after: float | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``action`` with this error (None: always)."""
        self.failures.setdefault(action, []).append(Failure(kind, message, retry_after, times))

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/execute", self._execute)
        return app

    async def _execute(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "validation", "bad or missing pool token")
        try:
            body = await request.json()
            call = PoolCall(
                instance_id=body.get("instance_id"),
                kind=str(body["kind"]),
                action=str(body["action"]),
                params=dict(body.get("params") or {}),
                idempotency_key=str(body["idempotency_key"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, "validation", f"malformed request: {exc}")
        self._record("request", call, self.requests)
        lock = self._key_locks.setdefault(call.idempotency_key, asyncio.Lock())
        async with lock:  # a concurrent duplicate waits for the first, then gets its result
            if call.idempotency_key in self._done:
                return web.json_response({"ok": True, "result": self._done[call.idempotency_key]})
            failure = self._next_failure(call.action)
            if failure is not None:
                body = {"kind": failure.kind, "message": failure.message}
                if failure.retry_after is not None:
                    body["retry_after"] = failure.retry_after
                return web.json_response({"ok": False, "error": body})
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            try:
                await asyncio.sleep(self.delays.get(call.action, 0))
            finally:
                self.active -= 1
            self._record("execution", call, self.executions)
            result = self._result(call)
            self._done[call.idempotency_key] = result
            return web.json_response({"ok": True, "result": result})

    def _next_failure(self, action: str) -> Failure | None:
        queue = self.failures.get(action) or []
        if not queue:
            return None
        failure = queue[0]
        if failure.times is not None:
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
        return failure

    def _result(self, call: PoolCall) -> dict[str, Any]:
        answer = self.results.get(call.action)
        if answer is None:
            return {"message_id": str(len(self.executions.calls))}
        return answer(call.params) if callable(answer) else dict(answer)

    def _record(self, event: str, call: PoolCall, log: CallLog[PoolCall]) -> None:
        log.record(call)
        if self.record_file is not None:
            with self.record_file.open("a") as fh:
                fh.write(json.dumps({"event": event, **asdict(call)}) + "\n")
                fh.flush()


def _error(status: int, kind: str, message: str) -> web.Response:
    body = {"ok": False, "error": {"kind": kind, "message": message}}
    return web.json_response(body, status=status)


def read_records(path: Path) -> tuple[list[PoolCall], list[PoolCall]]:
    """(requests, executions) a separate-process fake wrote to its record file."""
    requests: list[PoolCall] = []
    executions: list[PoolCall] = []
    if not path.exists():
        return requests, executions
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            event = row.pop("event")
            (requests if event == "request" else executions).append(PoolCall(**row))
    return requests, executions


async def _serve(args: argparse.Namespace) -> None:
    pool = FakePool(token=args.token, port=args.port, record_file=args.record_file)
    for spec in args.delay:
        action, _, seconds = spec.partition("=")
        pool.delays[action] = float(seconds)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with pool:
        print(f"fake pool listening on {pool.url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Recording fake of the connector pool API")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="pool-token")
    parser.add_argument("--record-file", type=Path, default=None)
    parser.add_argument(
        "--delay", action="append", default=[], metavar="ACTION=SECONDS", help="slow action"
    )
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()

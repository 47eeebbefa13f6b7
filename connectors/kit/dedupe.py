"""Idempotency cache: a redelivered step never repeats a platform action.

The engine sends each step's action with an ``idempotency_key``. The pool keeps the
outcome of recent keys (bounded in time and size); a repeated key gets the stored
outcome, and a repeat that arrives while the first call is still running waits for
it instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from engine.action_errors import RETRYABLE, ActionError, ErrorKind

Outcome = dict[str, Any]  # the /execute answer: {"ok": True, "result": ...} or {"ok": False, ...}


class IdempotencyCache:
    def __init__(
        self,
        ttl: float = 600.0,
        max_size: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._clock = clock
        self._done: OrderedDict[str, tuple[float, Outcome]] = OrderedDict()
        self._running: dict[str, asyncio.Future[Outcome]] = {}

    def __len__(self) -> int:
        return len(self._done)

    def get(self, key: str) -> Outcome | None:
        self._expire()
        entry = self._done.get(key)
        return entry[1] if entry else None

    async def run(self, key: str | None, call: Callable[[], Awaitable[Any]]) -> Outcome:
        """The outcome of ``call()`` for ``key``: stored, awaited from a running twin, or new."""
        if not key:
            return await _outcome(call)
        if (stored := self.get(key)) is not None:
            return stored
        if (running := self._running.get(key)) is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            outcome = await _outcome(call)
        except BaseException:  # cancelled or a bug: twins must not wait forever
            interrupted = ActionError(
                ErrorKind.unavailable, "the first call with this idempotency key was interrupted"
            )
            future.set_result({"ok": False, "error": interrupted.to_dict()})
            raise
        finally:
            self._running.pop(key, None)
        future.set_result(outcome)
        if outcome["ok"] or ErrorKind(outcome["error"]["kind"]) not in RETRYABLE:
            self._store(key, outcome)
        return outcome

    def _store(self, key: str, outcome: Outcome) -> None:
        self._done[key] = (self._clock() + self.ttl, outcome)
        self._done.move_to_end(key)
        while len(self._done) > self.max_size:
            self._done.popitem(last=False)

    def _expire(self) -> None:
        now = self._clock()
        while self._done:
            key, (expires, _) = next(iter(self._done.items()))
            if expires > now:
                break
            del self._done[key]


async def _outcome(call: Callable[[], Awaitable[Any]]) -> Outcome:
    try:
        return {"ok": True, "result": await call()}
    except ActionError as exc:
        return {"ok": False, "error": exc.to_dict()}

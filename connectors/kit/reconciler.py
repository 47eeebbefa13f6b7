"""Reconciler: make the running set of instances match the desired set.

Generic over what an instance is and how it starts: the supervisor gives it
``start(instance)`` and ``stop(key)`` coroutines, a key and a fingerprint. An
instance whose fingerprint changed (new credential, new settings) is restarted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


@dataclass
class ReconcileResult(Generic[K]):
    started: list[K] = field(default_factory=list)
    stopped: list[K] = field(default_factory=list)
    restarted: list[K] = field(default_factory=list)
    failed: list[K] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.started or self.stopped or self.restarted)


class Reconciler(Generic[T, K]):
    def __init__(
        self,
        start: Callable[[T], Awaitable[None]],
        stop: Callable[[K], Awaitable[None]],
        key: Callable[[T], K],
        fingerprint: Callable[[T], Hashable],
    ) -> None:
        self._start, self._stop = start, stop
        self._key, self._fingerprint = key, fingerprint
        self._running: dict[K, Hashable] = {}

    @property
    def running(self) -> set[K]:
        return set(self._running)

    def forget(self, key: K) -> None:
        """The instance was stopped from elsewhere (lease lost): no stop call needed."""
        self._running.pop(key, None)

    async def reconcile(self, desired: Iterable[T]) -> ReconcileResult[K]:
        wanted = {self._key(item): item for item in desired}
        result: ReconcileResult[K] = ReconcileResult()
        for key in [k for k in self._running if k not in wanted]:
            await self._stop(key)
            del self._running[key]
            result.stopped.append(key)
        for key, item in wanted.items():
            fingerprint = self._fingerprint(item)
            if key in self._running:
                if self._running[key] == fingerprint:
                    continue
                await self._stop(key)
                del self._running[key]
                bucket = result.restarted
            else:
                bucket = result.started
            try:
                await self._start(item)
            except Exception:
                log.exception("could not start instance %s", key)
                result.failed.append(key)
                continue
            self._running[key] = fingerprint
            bucket.append(key)
        return result

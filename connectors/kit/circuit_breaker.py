"""CircuitBreaker: stop calling a platform that keeps failing, then probe it again.

closed → (``failure_threshold`` consecutive failures) → open → (``reset_timeout``
seconds) → half-open: one probe call is let through; its success closes the
breaker, its failure opens it again for another cool-down. While open, callers get
a ``breaker_open`` ActionError at once instead of piling onto a dead platform.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from engine.action_errors import ActionError, ErrorKind


class BreakerState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


class CircuitBreaker:
    """One breaker per instance; not thread-safe (it lives in one event loop)."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        # When the half-open probe was let through; a probe that never reports back
        # (cancelled) frees the slot after another cool-down.
        self._probe_started: float | None = None
        self.last_error: str | None = None

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.closed
        if self._clock() - self._opened_at >= self.reset_timeout:
            return BreakerState.half_open
        return BreakerState.open

    @property
    def retry_after(self) -> float:
        """Seconds until the next probe is allowed (0 when calls may go through)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset_timeout - (self._clock() - self._opened_at))

    def before_call(self) -> None:
        """Raise ``breaker_open`` unless a call may go through now (claims the probe)."""
        state = self.state
        if state is BreakerState.closed:
            return
        if state is BreakerState.half_open and not self._probe_pending():
            self._probe_started = self._clock()
            return
        wait = round(self.retry_after, 1)
        raise ActionError(
            ErrorKind.breaker_open,
            f"too many recent failures ({self.last_error or 'unknown error'}); "
            f"next attempt in {wait} s",
            retry_after=wait or None,
        )

    def _probe_pending(self) -> bool:
        started = self._probe_started
        return started is not None and self._clock() - started < self.reset_timeout

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_started = None

    def record_failure(self, error: str | None = None) -> None:
        self.last_error = error or self.last_error
        self._failures += 1
        if self._probe_started is not None or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
        self._probe_started = None

    def snapshot(self) -> dict[str, Any]:
        """What the pool API shows."""
        return {
            "state": str(self.state),
            "consecutive_failures": self._failures,
            "retry_after": round(self.retry_after, 1),
            "last_error": self.last_error,
        }

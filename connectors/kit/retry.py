"""Bounded retries that honour the platform's rate limits.

A platform that answers "too many requests, retry after N s" did not perform the
call, so waiting N seconds and calling again is safe. Each connector plugs in how
its library reports that (aiogram's ``TelegramRetryAfter.retry_after``, hikari's
``RateLimitTooLongError.retry_after``, pyrogram's ``FloodWait.value``) with a
:data:`RetryAfterOf` hook. Other errors are never retried here: a network error
after sending may mean the message went out already.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from engine.action_errors import ActionError, ErrorKind

T = TypeVar("T")
# Seconds the platform asks to wait if ``exc`` is a rate limit, else None.
RetryAfterOf = Callable[[BaseException], float | None]
Sleep = Callable[[float], Awaitable[None]]


def retry_after_attribute(
    *exc_types: type[BaseException], attr: str = "retry_after"
) -> RetryAfterOf:
    """A hook reading the wait from an attribute of the library's rate-limit exception."""

    def hook(exc: BaseException) -> float | None:
        if isinstance(exc, exc_types):
            value = getattr(exc, attr, None)
            return float(value) if value is not None else None
        return None

    return hook


@dataclass(frozen=True)
class RetryPolicy:
    retry_after_of: RetryAfterOf
    attempts: int = 3  # calls in all, the first included
    max_wait: float = 30.0  # a longer requested wait is not slept: the caller gets the error


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    what: str = "the platform",
    sleep: Sleep = asyncio.sleep,
) -> T:
    """Await ``call()``, sleeping and trying again while it is rate-limited (bounded)."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return await call()
        except ActionError:
            raise
        except Exception as exc:
            wait = policy.retry_after_of(exc)
            if wait is None:
                raise
            if attempt == policy.attempts or wait > policy.max_wait:
                shown = math.ceil(wait)
                raise ActionError(
                    ErrorKind.rate_limited,
                    f"{what} is rate-limiting this bot; retry after {shown} s",
                    retry_after=float(shown),
                ) from exc
            await sleep(wait)
    raise AssertionError("unreachable: attempts >= 1")

"""Bounded retries honouring rate limits, with aiogram's TelegramRetryAfter."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import SendMessage

from connectors.kit.retry import RetryPolicy, call_with_retries, retry_after_attribute
from engine.action_errors import ActionError, ErrorKind

POLICY = RetryPolicy(retry_after_of=retry_after_attribute(TelegramRetryAfter), attempts=3)
METHOD = SendMessage(chat_id=1, text="hi")


class Flaky:
    """Raises the given errors in turn, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> dict[str, str]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"message_id": "1"}


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _flood(seconds: int) -> TelegramRetryAfter:
    return TelegramRetryAfter(METHOD, "Too Many Requests", retry_after=seconds)


async def test_retry_after_is_honoured_then_success() -> None:
    call, sleep = Flaky(_flood(2), _flood(3)), Sleeps()
    assert await call_with_retries(call, POLICY, sleep=sleep) == {"message_id": "1"}
    assert call.calls == 3 and sleep.waits == [2, 3]


async def test_exhausted_retries_give_a_rate_limited_error() -> None:
    call, sleep = Flaky(_flood(1), _flood(1), _flood(4)), Sleeps()
    with pytest.raises(ActionError) as exc:
        await call_with_retries(call, POLICY, what="Telegram", sleep=sleep)
    assert exc.value.kind is ErrorKind.rate_limited
    assert exc.value.retry_after == 4
    assert "retry after 4 s" in exc.value.message
    assert call.calls == 3 and sleep.waits == [1, 1]


async def test_a_wait_longer_than_allowed_is_not_slept() -> None:
    call, sleep = Flaky(_flood(120)), Sleeps()
    with pytest.raises(ActionError) as exc:
        await call_with_retries(call, POLICY, sleep=sleep)
    assert exc.value.retry_after == 120 and sleep.waits == [] and call.calls == 1


async def test_other_errors_are_not_retried() -> None:
    call, sleep = Flaky(TelegramBadRequest(METHOD, "chat not found")), Sleeps()
    with pytest.raises(TelegramBadRequest):
        await call_with_retries(call, POLICY, sleep=sleep)
    assert call.calls == 1


class RateLimitTooLong(Exception):
    """Shaped like hikari's: the wait in ``retry_after``."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after


async def test_hook_plugs_in_other_libraries() -> None:
    policy = RetryPolicy(retry_after_of=retry_after_attribute(RateLimitTooLong), attempts=2)
    call, sleep = Flaky(RateLimitTooLong(0.5)), Sleeps()
    assert await call_with_retries(call, policy, sleep=sleep)
    assert sleep.waits == [0.5]

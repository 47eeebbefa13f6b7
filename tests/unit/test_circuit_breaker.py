"""CircuitBreaker: closed → open → half-open probe → closed (or open again)."""

from __future__ import annotations

import pytest

from connectors.kit.circuit_breaker import BreakerState, CircuitBreaker
from engine.action_errors import ActionError, ErrorKind


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, reset_timeout=10, clock=clock)


def _fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.before_call()
        breaker.record_failure("connection refused")


def test_opens_after_consecutive_failures_only(breaker: CircuitBreaker) -> None:
    _fail(breaker, 2)
    breaker.record_success()
    _fail(breaker, 2)
    assert breaker.state is BreakerState.closed
    _fail(breaker, 1)
    assert breaker.state is BreakerState.open


def test_open_breaker_refuses_with_retry_after(breaker: CircuitBreaker, clock: Clock) -> None:
    _fail(breaker, 3)
    clock.now += 4
    with pytest.raises(ActionError) as refused:
        breaker.before_call()
    assert refused.value.kind is ErrorKind.breaker_open
    assert refused.value.retry_after == 6
    assert "connection refused" in refused.value.message


def test_half_open_lets_one_probe_through_and_success_closes(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    _fail(breaker, 3)
    clock.now += 10
    assert breaker.state is BreakerState.half_open
    breaker.before_call()  # the probe
    with pytest.raises(ActionError):
        breaker.before_call()  # a second caller while the probe runs
    breaker.record_success()
    assert breaker.state is BreakerState.closed
    breaker.before_call()


def test_failed_probe_opens_again_for_a_full_cool_down(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    _fail(breaker, 3)
    clock.now += 10
    breaker.before_call()
    breaker.record_failure("still down")
    assert breaker.state is BreakerState.open
    assert breaker.retry_after == 10
    assert breaker.snapshot() == {
        "state": "open",
        "consecutive_failures": 4,
        "retry_after": 10.0,
        "last_error": "still down",
    }


def test_a_probe_that_never_reports_frees_the_slot(breaker: CircuitBreaker, clock: Clock) -> None:
    _fail(breaker, 3)
    clock.now += 10
    breaker.before_call()  # the probe, cancelled: it never records
    clock.now += 9.9
    with pytest.raises(ActionError) as refused:
        breaker.before_call()  # the slot is still taken
    assert refused.value.kind is ErrorKind.breaker_open
    clock.now += 0.1
    breaker.before_call()  # a new probe is let through once the slot has waited a cool-down
    with pytest.raises(ActionError):
        breaker.before_call()  # and it holds the slot in turn
    breaker.record_success()
    assert breaker.state is BreakerState.closed

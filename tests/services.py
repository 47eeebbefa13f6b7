"""Reaching the PostgreSQL and Redis servers the integration tests need.

Locally a missing server skips those tests with the reason; with CI=true it fails
them, so a broken CI machine can never pass by skipping. The servers' addresses and the
scratch databases are bench/_services.py's, which the benches use without pytest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from bench._services import (
    PG_ADMIN_URL,
    REDIS_TEST_URL,
    PostgresUnreachable,
    scratch_postgres_database,
)


def unavailable(what: str, exc: BaseException | None) -> None:
    """Fail under CI, skip elsewhere."""
    required_under_ci(f"{what} is unreachable: {exc}", "integration services are required")


def required_under_ci(message: str, why_required: str) -> None:
    """Skip with ``message`` locally; with CI=true fail with it: CI never passes by skipping."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: {why_required})")
    pytest.skip(message)


# Test databases are dropped one after another in this thread while the tests go on
# (it finishes its queue before the process exits).
_drops = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-test-database")


@contextmanager
def fresh_postgres_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database, empty or a copy of ``template``; dropped afterwards."""
    try:
        with scratch_postgres_database("flowbot_t", template, dropper=_drops.submit) as url:
            yield url
    except PostgresUnreachable as exc:
        unavailable("PostgreSQL at " + PG_ADMIN_URL, exc.__cause__)


def redis_url_or_skip() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        unavailable("Redis at " + REDIS_TEST_URL, exc)
    finally:
        client.close()
    return REDIS_TEST_URL

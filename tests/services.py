"""Reaching the PostgreSQL and Redis servers the integration tests need.

Locally a missing server skips those tests with the reason; with CI=true it fails
them, so a broken CI machine can never pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get(
    "FLOWBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("FLOWBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def unavailable(what: str, exc: Exception) -> None:
    """Fail under CI, skip elsewhere."""
    message = f"{what} is unreachable: {exc}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: integration services are required)")
    pytest.skip(message)


class PostgresUnreachable(Exception):
    """The PostgreSQL server at PG_ADMIN_URL could not be reached."""


@contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty database ``<prefix>_<random>``, yielded as its URL; dropped on exit.

    Raises PostgresUnreachable when the server does not answer.
    """
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise PostgresUnreachable(f"PostgreSQL unavailable at {PG_ADMIN_URL}: {exc}") from exc
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test module; dropped afterwards."""
    try:
        with scratch_postgres_database("flowbot_t") as url:
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

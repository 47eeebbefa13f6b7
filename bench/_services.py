"""The PostgreSQL and Redis servers the benches (and the integration tests) use, reachable
from the default install: nothing here needs the test extras."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get(
    "FLOWBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("FLOWBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class PostgresUnreachable(Exception):
    """The PostgreSQL server at PG_ADMIN_URL could not be reached."""


def _drop_now(drop: Callable[[], None]) -> None:
    drop()


@contextmanager
def scratch_postgres_database(
    prefix: str,
    template: str | None = None,
    *,
    dropper: Callable[[Callable[[], None]], object] = _drop_now,
) -> Iterator[str]:
    """A new database ``<prefix>_<random>``, yielded as its URL; dropped on exit. It is
    empty, or a copy of the database named ``template`` (which nobody may be connected to).
    ``dropper`` runs the drop (the tests hand it to a background thread: a drop waits for
    a checkpoint, seconds on a loaded machine).

    Raises PostgresUnreachable when the server does not answer.
    """
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    copy_of = f' TEMPLATE "{template}"' if template else ""
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{copy_of}'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise PostgresUnreachable(f"PostgreSQL unavailable at {PG_ADMIN_URL}: {exc}") from exc
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(False)
    admin.dispose()

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    try:
        yield url
    finally:
        dropper(drop)


@contextmanager
def bench_database(prefix: str, **env: str) -> Iterator[str]:
    """A migrated scratch database as this process's database (with ``env`` on top of the
    environment), yielded as its URL; the bench exits with the reason when PostgreSQL is
    unreachable."""
    from bench.engine import configure

    try:
        with scratch_postgres_database(prefix) as url:
            configure(DATABASE_URL=url, **env)
            from engine.db import get_engine
            from engine.migrations import upgrade

            try:
                upgrade(url)
                yield url
            finally:
                get_engine().dispose()
    except PostgresUnreachable as exc:
        raise SystemExit(str(exc)) from None

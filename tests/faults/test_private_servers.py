"""scripts/test.sh runs the suite through tests.private_servers: shared servers that do
not answer are replaced by private ones, which are gone afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import bench._services
from tests.private_servers import postgres_answers, redis_answers, servers_for_tests
from tests.services import unavailable

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_unreachable_servers_are_replaced_by_private_ones_and_stopped_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nowhere_pg = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    nowhere_redis = "redis://127.0.0.1:1/15"
    monkeypatch.setattr(bench._services, "PG_ADMIN_URL", nowhere_pg)
    monkeypatch.setattr(bench._services, "REDIS_TEST_URL", nowhere_redis)

    with servers_for_tests() as env:
        pg_url, redis_url = env["FLOWBOT_TEST_PG_URL"], env["FLOWBOT_TEST_REDIS_URL"]
        assert (pg_url, redis_url) != (nowhere_pg, nowhere_redis)
        assert postgres_answers(pg_url) and pg_url.endswith("/test")
        assert redis_answers(redis_url) and redis_url.endswith("/15")
        data_dir = Path(_data_directory(pg_url))
        assert data_dir.is_dir()

    assert not postgres_answers(pg_url)
    assert not redis_answers(redis_url)
    assert not data_dir.parent.exists()


def _data_directory(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SHOW data_directory")).scalar_one())
    finally:
        engine.dispose()


def test_answering_servers_are_used_as_they_are() -> None:
    shared_pg, shared_redis = bench._services.PG_ADMIN_URL, bench._services.REDIS_TEST_URL
    if not (postgres_answers(shared_pg) and redis_answers(shared_redis)):
        unavailable("The test servers", ConnectionError(f"{shared_pg}, {shared_redis}"))
    with servers_for_tests() as env:
        assert env == {"FLOWBOT_TEST_PG_URL": shared_pg, "FLOWBOT_TEST_REDIS_URL": shared_redis}

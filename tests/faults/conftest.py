"""Private servers for the fault tests (tests/private_servers.py): a PostgreSQL and a Redis
of their own, which the tests stop and restart (the shared servers are never touched).

Missing binaries skip the tests locally and fail them under CI=true (tests/services.py).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.private_servers import PrivatePostgres, PrivateRedis, postgres_bin
from tests.services import unavailable

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        unavailable("PostgreSQL server binaries", FileNotFoundError("/usr/lib/postgresql/*/bin"))
    assert bin_dir is not None
    server = PrivatePostgres(bin_dir)
    try:
        server.start()
    except (OSError, subprocess.SubprocessError) as exc:
        server.stop()
        unavailable("A private PostgreSQL (initdb/pg_ctl)", exc)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server", FileNotFoundError("redis-server is not on PATH"))
    server = PrivateRedis(tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()

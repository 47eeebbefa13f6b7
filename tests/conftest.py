"""Shared fixtures: isolated settings and migrated databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from engine import broadcast_delivery, db, pool_client
from engine.api.v1.caller import _windows as api_request_counts
from engine.broker import _claims as broker_claims
from engine.migrations import upgrade
from engine.settings import get_settings
from tests.fakes.pool import FakePool
from tests.services import fresh_postgres_database

# Tests that check the node catalogue's declarations (one case per node type: documented,
# examples valid, every param read), counted apart from the tests of behaviour.
NODE_METADATA_TESTS = (
    "tests/unit/test_node_catalogue.py",
    "tests/unit/test_node_params_are_read.py",
)
_test_counts = pytest.StashKey[tuple[int, int]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    metadata = sum(item.nodeid.startswith(NODE_METADATA_TESTS) for item in session.items)
    session.config.stash[_test_counts] = (len(session.items) - metadata, metadata)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    behaviour, metadata = terminalreporter.config.stash.get(_test_counts, (0, 0))
    if behaviour or metadata:
        terminalreporter.write_line(
            f"{behaviour} behaviour tests and {metadata} node-catalogue metadata tests collected"
        )


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets its own data directory and secret key; no state leaks between tests."""
    monkeypatch.setenv("FLOWBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("FLOWBOT_SECRET_KEY", raising=False)
    _clear_caches()
    yield
    _clear_caches()


def _clear_caches() -> None:
    get_settings.cache_clear()
    broker_claims.clear()  # "done once" claims name rows of the previous test's database
    api_request_counts.clear()  # per-token request budgets likewise
    actors = sys.modules.get("engine.actors")
    if actors is not None:  # the trigger index re-reads the (new) database on next use
        actors.trigger_index.invalidate()
    if db.get_engine.cache_info().currsize:
        db.get_engine().dispose()
    db.get_engine.cache_clear()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'flowbot.db'}"


@pytest.fixture
def postgresql_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new PostgreSQL database: a copy of the migrated template when the test migrates
    it anyway (``migrated_db``), else empty."""
    template = None
    if "migrated_db" in request.fixturenames:
        template = request.getfixturevalue("migrated_postgres_template")
    with fresh_postgres_database(template) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_postgres_template() -> Iterator[str]:
    """The name of one PostgreSQL database at the head revision, which tests' databases
    are created from (CREATE DATABASE ... TEMPLATE): running every migration per test cost
    1-2 s, and 5-8 s on a loaded machine. Nothing connects to it after the migration."""
    with fresh_postgres_database() as url:
        upgrade(url)
        yield sa.engine.make_url(url).database or ""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on each supported database."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database at the head revision, copied for each test that needs one:
    running every migration again per test cost a quarter of a second to a second."""
    path = tmp_path_factory.mktemp("migrated") / "flowbot.db"
    upgrade(f"sqlite:///{path}")
    return path


def migrate(url: str, migrated_sqlite: Path) -> None:
    """Bring the database at ``url`` to the head revision: a new SQLite file is a copy of
    the migrated one (SQLite's backup API, which reads through its write-ahead log)."""
    target = Path(url.removeprefix("sqlite:///"))
    if not url.startswith("sqlite:///") or target.exists():
        upgrade(url)
        return
    source, copy = sqlite3.connect(migrated_sqlite), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    target.chmod(0o600)


@pytest.fixture
def migrated_db(database_url: str, migrated_sqlite: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database at the head revision, installed as Flowbot's own database."""
    migrate(database_url, migrated_sqlite)
    monkeypatch.setenv("DATABASE_URL", database_url)
    _clear_caches()
    return database_url


@pytest.fixture
def session(migrated_db: str) -> Iterator[Session]:
    with Session(db.get_engine(), expire_on_commit=False) as s:
        yield s


@pytest.fixture
def sqlite_session(
    sqlite_url: str, migrated_sqlite: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Session]:
    """A migrated SQLite database only, for unit tests that need a real database quickly."""
    migrate(sqlite_url, migrated_sqlite)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    _clear_caches()
    with Session(db.get_engine(), expire_on_commit=False) as s:
        yield s
    sa.orm.close_all_sessions()


@pytest.fixture
async def fake_pool(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakePool]:
    """The recording pool API fake (tests/fakes/pool.py), which engine.pool_client calls."""
    async with FakePool(token="fake-pool-token") as fake:
        monkeypatch.setenv("FLOWBOT_POOL_URL", fake.url)
        monkeypatch.setenv("FLOWBOT_POOL_TOKEN", "fake-pool-token")
        get_settings.cache_clear()
        yield fake
        await pool_client.aclose()


@pytest.fixture
def delivery_started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Broadcasts handed to the delivery job (engine.broadcast_delivery.start), recorded
    instead of queued: the tests of what starts delivery, not of delivery itself."""
    calls: list[int] = []
    monkeypatch.setattr(broadcast_delivery, "start", calls.append)
    return calls

"""Integration fixtures shared by the engine, webhook and end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from engine import actors
from engine.db import session_scope
from engine.trigger_index import TriggerIndex
from engine.worker import start_embedded_worker, stop_embedded_worker


@pytest.fixture
def worker(sqlite_session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Embedded Dramatiq worker threads on an empty in-process broker, and a trigger index
    that reads the database on every event (no refresh delay to wait out)."""
    yield from embedded_worker(monkeypatch)


@pytest.fixture
def pg_worker(session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The same on PostgreSQL (``session`` is parametrised: request ``database_url``
    indirectly to pick PostgreSQL only)."""
    yield from embedded_worker(monkeypatch)


def embedded_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(actors, "trigger_index", TriggerIndex(session_scope, ttl=0))
    actors.broker.flush_all()
    running = start_embedded_worker()
    yield
    stop_embedded_worker(running)
    actors.broker.flush_all()

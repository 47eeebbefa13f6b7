"""The connector supervisor as a service (connectors/service.py): ``python -m connectors``
until SIGTERM, and the embedded supervisor of the web process, on a migrated SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from pathlib import Path

import httpx
import pytest

from connectors import service
from engine.settings import get_settings
from tests.processes import free_port, listening, spawn, wait_until

TOKEN = "service-test-token"
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _pool_settings(monkeypatch: pytest.MonkeyPatch, port: int, **extra: str) -> None:
    """The pool API on ``port`` of the loopback with a known token, no Redis."""
    monkeypatch.setenv("FLOWBOT_POOL_HOST", "127.0.0.1")
    monkeypatch.setenv("FLOWBOT_POOL_PORT", str(port))
    monkeypatch.setenv("FLOWBOT_POOL_TOKEN", TOKEN)
    for name in ("REDIS_URL", "FLOWBOT_REDIS_URL", "FLOWBOT_EMBEDDED_CONNECTORS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def _health(port: int) -> dict[str, object] | None:
    """The pool's detailed health (with the token), or None while it does not answer."""
    try:
        answer = httpx.get(
            f"http://127.0.0.1:{port}/health",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=2,
        )
    except httpx.TransportError:
        return None
    found: dict[str, object] = answer.json()
    return found


@SQLITE_ONLY
def test_the_connector_process_serves_the_pool_until_sigterm(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = free_port()
    _pool_settings(monkeypatch, port)
    log = tmp_path / "connectors.log"
    process = spawn(["-m", "connectors"], os.environ, log)
    try:
        health = wait_until(lambda: _health(port), "the pool API of python -m connectors")
        assert health["status"] == "ok" and health["instances"] == 0
        assert health["owner"], "the token unlocks the details: who supervises"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert not listening(port), "the pool API is closed with the process"
    assert f"pool API on 127.0.0.1:{port}" in log.read_text()


@SQLITE_ONLY
async def test_the_embedded_supervisor_serves_until_cancelled(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    _pool_settings(monkeypatch, port, FLOWBOT_EMBEDDED_CONNECTORS="true")
    task = asyncio.create_task(service.run_embedded())
    try:
        health = await asyncio.to_thread(wait_until, lambda: _health(port), "the embedded pool")
        assert health["status"] == "ok"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
    assert not listening(port)


async def test_the_embedded_supervisor_stays_out_when_the_pool_port_is_taken(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        _pool_settings(monkeypatch, taken.getsockname()[1], FLOWBOT_EMBEDDED_CONNECTORS="true")
        with caplog.at_level(logging.ERROR, logger="connectors.service"):
            await asyncio.wait_for(service.run_embedded(), 30)
    assert "pool port unavailable" in caplog.text


async def test_the_embedded_supervisor_is_off_when_configured_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    _pool_settings(monkeypatch, port, FLOWBOT_EMBEDDED_CONNECTORS="false")
    await asyncio.wait_for(service.run_embedded(), 5)
    assert not listening(port)


@pytest.mark.parametrize(
    ("environment", "embedded"),
    [
        ({}, True),  # no Redis: one process runs everything
        ({"FLOWBOT_REDIS_URL": "redis://127.0.0.1:1/0"}, False),  # scaled: its own process
        ({"FLOWBOT_REDIS_URL": "redis://127.0.0.1:1/0", "FLOWBOT_EMBEDDED_CONNECTORS": "1"}, True),
        ({"FLOWBOT_EMBEDDED_CONNECTORS": "false"}, False),
    ],
)
def test_where_the_supervisor_runs_follows_the_broker_unless_configured(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], embedded: bool
) -> None:
    _pool_settings(monkeypatch, free_port(), **environment)
    assert service.embedded_enabled() is embedded

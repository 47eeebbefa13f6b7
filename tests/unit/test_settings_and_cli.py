"""Settings defaults, the generated secret key, and headless account creation."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from engine.api.app import create_api
from engine.db import get_engine
from engine.migrations import upgrade
from engine.models import AdminUser, Role
from engine.settings import get_settings
from flowbot import cli


def test_embedded_defaults(tmp_path: Path) -> None:
    settings = get_settings()
    assert settings.is_embedded_broker
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("data/flowbot.db")


def test_secret_key_generated_once_and_kept(tmp_path: Path) -> None:
    settings = get_settings()
    key = settings.effective_secret_key
    key_file = settings.data_dir / "secret.key"
    assert key_file.read_text() == key
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    get_settings.cache_clear()
    assert get_settings().effective_secret_key == key
    assert get_settings().effective_pool_token != key  # derived, never the key itself


def test_explicit_secret_key_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBOT_SECRET_KEY", "from-the-environment")
    get_settings.cache_clear()
    assert get_settings().effective_secret_key == "from-the-environment"
    assert not (get_settings().data_dir / "secret.key").exists()


def test_web_backend_processes_follow_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reflex alone would start 2 × CPUs + 1 backend processes once Redis is set."""
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert cli._reflex_env()["GRANIAN_WORKERS"] == "1"  # embedded: broker and bus in-process
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    get_settings.cache_clear()
    assert cli._reflex_env()["GRANIAN_WORKERS"] == "2"  # the default: CPUs, at most 2
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    get_settings.cache_clear()
    assert cli._reflex_env()["GRANIAN_WORKERS"] == "1"
    monkeypatch.setenv("FLOWBOT_WEB_WORKERS", "3")
    get_settings.cache_clear()
    assert cli._reflex_env()["GRANIAN_WORKERS"] == "3"


def test_cli_creates_first_admin_then_more_users(monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade()
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password 1\n"))
    assert cli.main(["user", "create", "root", "--password-stdin", "--role", "viewer"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["user", "create", "eve", "--password-stdin"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("another password 1\n"))
    assert cli.main(["user", "create", "eddie", "--password-stdin", "--role", "editor"]) == 0
    with Session(get_engine()) as session:
        roles = {u.username: u.role for u in session.exec(select(AdminUser))}
    assert roles == {"root": Role.admin, "eddie": Role.editor}  # the first account is an admin


def test_health_reports_database() -> None:
    upgrade()
    response = TestClient(create_api()).get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "mode": "embedded"}

"""While Redis is down the sweep cannot claim the health check nor send it, so each worker
checks in its own process, paced to the period: the outage itself gets recorded."""

from __future__ import annotations

import pytest
import redis
from sqlmodel import Session, func, select

from engine import worker
from engine.models.health import HealthCheck


def _redis_down(key: str, ttl_ms: int) -> bool:
    raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def _checks(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(HealthCheck)).one()


def test_a_worker_checks_itself_once_per_period_while_redis_is_down(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "claim_once", _redis_down)
    timer = worker.SweepTimer()
    timer._check_health()
    assert _checks(sqlite_session) == 1
    timer._check_health()  # the next tick, within the period: no second check
    assert _checks(sqlite_session) == 1


def test_with_redis_back_the_check_is_sent_again_not_run_here(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    monkeypatch.setattr(worker, "claim_once", _redis_down)
    timer = worker.SweepTimer()
    timer._check_health()
    monkeypatch.setattr(worker, "claim_once", lambda key, ttl_ms: True)
    monkeypatch.setattr(worker.check_health, "send", lambda: sent.append("check_health"))
    timer._check_health()
    assert sent == ["check_health"]
    assert _checks(sqlite_session) == 1
    monkeypatch.setattr(worker, "claim_once", _redis_down)
    timer._check_health()  # down again: a new outage is checked at once
    assert _checks(sqlite_session) == 2

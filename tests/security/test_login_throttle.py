"""Failed sign-ins slow the attacker down without locking anyone out."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, select

from engine.api.app import create_api
from engine.client_address import client_address
from engine.models import AuditLog, Role, utcnow
from engine.services import auth
from engine.settings import get_settings

PASSWORD = "correct horse battery"
ATTACKER, ADMIN_DESK = "198.51.100.66", "192.0.2.10"


@pytest.fixture
def admin(sqlite_session: Session) -> auth.AdminUser:
    user = auth.create_user(sqlite_session, "alice", PASSWORD, Role.admin, actor=None)
    sqlite_session.commit()
    return user


def _fail(session: Session, username: str, ip: str, times: int) -> None:
    for _ in range(times):
        _age_failures(session, seconds=3600)  # as if the wait had passed: count, don't wait
        with pytest.raises(auth.LoginFailed):
            auth.authenticate(session, username, "wrong password!", ip=ip)


def _age_failures(session: Session, seconds: float) -> None:
    """Move recorded failures into the past (within the window) instead of sleeping."""
    window = timedelta(minutes=get_settings().login_window_minutes)
    for row in session.exec(select(AuditLog).where(AuditLog.action == "login_failed")):
        row.created_at = max(row.created_at - timedelta(seconds=seconds), utcnow() - window / 2)
        session.add(row)
    session.commit()


def test_failures_for_one_pair_buy_a_doubling_wait(
    sqlite_session: Session, admin: auth.AdminUser
) -> None:
    _fail(sqlite_session, "alice", ATTACKER, 4)  # the free tries, and one more
    with pytest.raises(auth.LoginRateLimited) as first:  # 4 failures: wait 2 s
        auth.authenticate(sqlite_session, "alice", PASSWORD, ip=ATTACKER)
    assert first.value.retry_after == 2
    _age_failures(sqlite_session, seconds=3600)
    with pytest.raises(auth.LoginFailed):
        auth.authenticate(sqlite_session, "alice", "wrong password!", ip=ATTACKER)
    with pytest.raises(auth.LoginRateLimited) as second:
        auth.authenticate(sqlite_session, "alice", PASSWORD, ip=ATTACKER)
    assert second.value.retry_after == 4


def test_the_admin_signs_in_from_elsewhere_while_an_attacker_hammers(
    sqlite_session: Session, admin: auth.AdminUser
) -> None:
    _fail(sqlite_session, "alice", ATTACKER, 12)
    with pytest.raises(auth.LoginRateLimited):
        auth.authenticate(sqlite_session, "alice", PASSWORD, ip=ATTACKER)
    assert auth.authenticate(sqlite_session, "alice", PASSWORD, ip=ADMIN_DESK).id == admin.id


def test_a_spraying_address_does_not_lock_out_known_users_behind_it(
    sqlite_session: Session, admin: auth.AdminUser
) -> None:
    office = "203.0.113.1"  # everyone behind one NAT
    auth.authenticate(sqlite_session, "alice", PASSWORD, ip=office)  # alice works from here
    sqlite_session.commit()
    for n in range(get_settings().login_address_failures + 1):
        _fail(sqlite_session, f"guess{n}", office, 1)
    with pytest.raises(auth.LoginRateLimited):  # the spraying address is slowed down...
        auth.authenticate(sqlite_session, "bob", "whatever password", ip=office)
    # ...but not for an account that has signed in from it before.
    assert auth.authenticate(sqlite_session, "alice", PASSWORD, ip=office).id == admin.id


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert client_address("203.0.113.9", "10.1.1.1") == "203.0.113.9"
    monkeypatch.setenv("FLOWBOT_TRUSTED_PROXIES", '["10.0.0.0/8"]')
    get_settings.cache_clear()
    # The proxy appends the real peer; anything further left was written by the client.
    assert client_address("10.0.0.2", "6.6.6.6, 198.51.100.4") == "198.51.100.4"
    assert client_address("10.0.0.2", "198.51.100.4, 10.0.0.3") == "198.51.100.4"
    assert client_address("203.0.113.9", "198.51.100.4") == "203.0.113.9"


async def test_sign_in_route_counts_the_real_client_behind_the_proxy(
    sqlite_session: Session, admin: auth.AdminUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWBOT_TRUSTED_PROXIES", '["127.0.0.1"]')
    get_settings.cache_clear()
    transport = httpx.ASGITransport(app=create_api(), client=("127.0.0.1", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:3000") as client:
        response = await client.post(
            "/auth/login",
            data={"username": "alice", "password": "wrong password!"},
            headers={"x-forwarded-for": ATTACKER},
        )
    assert response.headers["location"] == "/login?error=invalid"
    failure = sqlite_session.exec(select(AuditLog).where(AuditLog.action == "login_failed")).one()
    assert failure.ip == ATTACKER

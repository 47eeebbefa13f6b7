"""Browser sessions: issued at sign-in, revocable one by one, HttpOnly, never world-readable."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from engine.api.app import create_api
from engine.db import make_engine, session_scope
from engine.models import AdminUser, Role, utcnow
from engine.services import auth, sessions
from engine.settings import get_settings

PASSWORD = "correct horse battery"


def _admin(session: Session) -> AdminUser:
    user = auth.create_user(session, "alice", PASSWORD, Role.admin, actor=None)
    session.commit()
    return user


def test_token_round_trip_expiry_and_forgery(sqlite_session: Session) -> None:
    user = _admin(sqlite_session)
    token = sessions.issue(sqlite_session, user)
    sqlite_session.commit()
    assert sessions.user_for_token(sqlite_session, token).id == user.id
    assert sessions.user_for_token(sqlite_session, token[:-4] + "AAAA") is None
    assert sessions.user_for_token(sqlite_session, "") is None
    later = utcnow() + timedelta(hours=13)  # default lifetime is 12 hours
    assert sessions.user_for_token(sqlite_session, token, now=later) is None


def test_logout_revokes_only_that_session(sqlite_session: Session) -> None:
    user = _admin(sqlite_session)
    laptop, phone = sessions.issue(sqlite_session, user), sessions.issue(sqlite_session, user)
    sqlite_session.commit()
    sessions.revoke(sqlite_session, laptop)
    sqlite_session.commit()
    assert sessions.user_for_token(sqlite_session, laptop) is None
    assert sessions.user_for_token(sqlite_session, phone).id == user.id


def test_password_change_ends_the_other_sessions(sqlite_session: Session) -> None:
    user = _admin(sqlite_session)
    here, elsewhere = sessions.issue(sqlite_session, user), sessions.issue(sqlite_session, user)
    sqlite_session.commit()
    auth.change_password(sqlite_session, user, PASSWORD, "a new long password", keep_session=here)
    sqlite_session.commit()
    assert sessions.user_for_token(sqlite_session, here).id == user.id
    assert sessions.user_for_token(sqlite_session, elsewhere) is None


def test_deactivated_account_has_no_session(sqlite_session: Session) -> None:
    user = _admin(sqlite_session)
    token = sessions.issue(sqlite_session, user)
    user.is_active = False
    sqlite_session.commit()
    assert sessions.user_for_token(sqlite_session, token) is None


def test_token_signed_with_another_key_is_refused(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _admin(sqlite_session)
    token = sessions.issue(sqlite_session, user)
    sqlite_session.commit()
    monkeypatch.setenv("FLOWBOT_SECRET_KEY", "a-different-key")
    get_settings.cache_clear()
    assert sessions.user_for_token(sqlite_session, token) is None


def _client(**headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_api(), client=("203.0.113.7", 5555))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:3000", headers=headers)


async def test_sign_in_sets_an_httponly_lax_cookie_and_logout_revokes_it(
    sqlite_session: Session,
) -> None:
    _admin(sqlite_session)
    async with _client() as client:
        signed_in = await client.post(
            "/auth/login", data={"username": "alice", "password": PASSWORD}
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
        cookie = signed_in.headers["set-cookie"]
        assert cookie.startswith(f"{sessions.COOKIE_NAME}=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        token = signed_in.cookies[sessions.COOKIE_NAME]
        with session_scope() as session:
            assert sessions.user_for_token(session, token) is not None

        client.cookies.set(sessions.COOKIE_NAME, token)
        out = await client.post("/auth/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
    with session_scope() as session:  # the copied token is dead too, not just the cookie
        assert sessions.user_for_token(session, token) is None


async def test_cookie_is_secure_behind_an_https_public_url(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _admin(sqlite_session)
    monkeypatch.setenv("FLOWBOT_PUBLIC_URL", "https://flowbot.example.org")
    get_settings.cache_clear()
    async with _client() as client:
        response = await client.post(
            "/auth/login", data={"username": "alice", "password": PASSWORD}
        )
    assert "Secure" in response.headers["set-cookie"]


async def test_wrong_password_comes_back_as_a_code_not_a_cookie(sqlite_session: Session) -> None:
    _admin(sqlite_session)
    async with _client() as client:
        response = await client.post(
            "/auth/login", data={"username": "alice", "password": "wrong password!"}
        )
    assert response.headers["location"] == "/login?error=invalid"
    assert "set-cookie" not in response.headers


async def test_a_foreign_site_cannot_sign_anyone_in_or_out(sqlite_session: Session) -> None:
    _admin(sqlite_session)
    async with _client(origin="https://evil.example") as client:
        response = await client.post(
            "/auth/login", data={"username": "alice", "password": PASSWORD}
        )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_the_data_directory_and_database_are_private(tmp_path: Path) -> None:
    from engine.db import get_engine

    get_engine()  # creates the SQLite file under the (isolated) data directory
    data_dir = get_settings().data_dir
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    database = data_dir / "flowbot.db"
    assert stat.S_IMODE(os.stat(database).st_mode) == 0o600


def test_a_database_in_a_shared_directory_leaves_the_directory_as_it_was(
    tmp_path: Path,
) -> None:
    shared, own = tmp_path / "shared", tmp_path / "own"
    shared.mkdir(mode=0o1777)
    shared.chmod(0o1777)  # like /tmp (mkdir's mode is cut by the umask)
    own.mkdir()
    own.chmod(0o755)
    for directory in (shared, own):
        make_engine(f"sqlite:///{directory / 'flowbot.db'}").dispose()
        assert stat.S_IMODE(os.stat(directory / "flowbot.db").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(own).st_mode) == 0o700


def test_flowbot_processes_write_private_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reflex's per-browser state pickles and everything else a process writes: 0600."""
    from flowbot import cli

    monkeypatch.delenv("REFLEX_STATES_WORKDIR", raising=False)
    previous = os.umask(0o022)
    try:
        assert cli.main(["db", "upgrade"]) == 0
        assert os.umask(0o022) == 0o077
    finally:
        os.umask(previous)
    states = Path(cli._reflex_env()["REFLEX_STATES_WORKDIR"])
    assert states.parent == get_settings().data_dir.resolve()

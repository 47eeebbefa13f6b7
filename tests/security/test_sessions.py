"""Browser sessions: issued at sign-in, revocable one by one, HttpOnly, never world-readable."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from engine.api.app import create_api
from engine.db import make_engine, session_scope
from engine.models import AdminUser, Role, UserSession, utcnow
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


# -- sessions at their edges (the mutation guard) ---------------------------------------------

TTL = 12 * 3600  # the default lifetime, in seconds


def _row(session: Session, token: str) -> UserSession:
    key = json.loads(sessions._fernet(get_settings().effective_secret_key).decrypt(token))["sid"]
    row = session.exec(select(UserSession).where(UserSession.key == key)).one()
    session.refresh(row)
    return row


def _cookie(claims: object, *, age_seconds: int = 0) -> str:
    """A cookie as the server would make one, with chosen contents and age."""
    fernet = sessions._fernet(get_settings().effective_secret_key)
    return fernet.encrypt_at_time(
        json.dumps(claims).encode(), int(time.time()) - age_seconds
    ).decode()


def test_a_session_row_holds_its_owner_client_and_expiry(sqlite_session: Session) -> None:
    user = _admin(sqlite_session)
    before = utcnow()
    token = sessions.issue(sqlite_session, user, ip="203.0.113." + "9" * 70, user_agent="UA" * 200)
    plain = sessions.issue(sqlite_session, user)
    after = utcnow()
    sqlite_session.flush()
    row = _row(sqlite_session, token)
    assert json.loads(sessions._fernet(get_settings().effective_secret_key).decrypt(token)) == {
        "sid": row.key, "uid": user.id,
    }  # fmt: skip
    assert len(row.key) == 43 and row.admin_id == user.id
    assert (len(row.ip), len(row.user_agent)) == (64, 256)
    assert before + timedelta(seconds=TTL) <= row.expires_at <= after + timedelta(seconds=TTL)
    assert (_row(sqlite_session, plain).ip, _row(sqlite_session, plain).user_agent) == ("", "")


def test_a_cookie_is_good_until_its_own_age_or_its_row_runs_out(sqlite_session: Session) -> None:
    """Two clocks: the cookie's age (Fernet's timestamp, against the lifetime) and the
    row's expiry; either ends the session, at ``now`` when given, else at the real time."""
    user = _admin(sqlite_session)
    issued = utcnow()
    token = sessions.issue(sqlite_session, user)
    sqlite_session.flush()
    row = _row(sqlite_session, token)
    late = issued + timedelta(seconds=TTL - 60)
    assert sessions.user_for_token(sqlite_session, token, now=late) is user
    assert (
        sessions.user_for_token(sqlite_session, token, now=utcnow() + timedelta(seconds=TTL + 2))
        is None
    )
    assert sessions.user_for_token(sqlite_session, token, now=row.expires_at) is None  # its end

    claims = {"sid": row.key, "uid": user.id}
    old = _cookie(claims, age_seconds=TTL - 3600)  # 11 hours old, its row fresh
    assert sessions.user_for_token(sqlite_session, old) is user
    assert sessions.user_for_token(sqlite_session, old, now=utcnow() + timedelta(hours=2)) is None
    assert sessions.user_for_token(sqlite_session, _cookie(claims, age_seconds=TTL + 60)) is None


def test_a_cookie_naming_another_accounts_session_or_no_object_is_refused(
    sqlite_session: Session,
) -> None:
    alice = _admin(sqlite_session)
    bob = auth.create_user(sqlite_session, "bob", PASSWORD, Role.viewer, actor=alice)
    bobs = _row(sqlite_session, sessions.issue(sqlite_session, bob))
    sqlite_session.flush()
    assert sessions.user_for_token(sqlite_session, _cookie({"sid": bobs.key, "uid": bob.id})) is bob
    assert (
        sessions.user_for_token(sqlite_session, _cookie({"sid": bobs.key, "uid": alice.id})) is None
    )
    assert sessions.user_for_token(sqlite_session, _cookie([bobs.key, bob.id])) is None
    fernet = sessions._fernet(get_settings().effective_secret_key)
    assert sessions.user_for_token(sqlite_session, fernet.encrypt(b"not json").decode()) is None


def test_ending_all_sessions_counts_live_ones_of_that_account_and_keeps_one(
    sqlite_session: Session,
) -> None:
    alice = _admin(sqlite_session)
    bob = auth.create_user(sqlite_session, "bob", PASSWORD, Role.viewer, actor=alice)
    mine = [sessions.issue(sqlite_session, alice) for _ in range(3)]
    theirs = sessions.issue(sqlite_session, bob)
    sessions.revoke(sqlite_session, mine[0])
    sqlite_session.flush()
    ended_before = _row(sqlite_session, mine[0]).revoked_at
    assert sessions.revoke_all(sqlite_session, alice, keep_token=mine[1]) == 1
    sqlite_session.flush()
    assert sessions.user_for_token(sqlite_session, mine[1]) is alice
    assert sessions.user_for_token(sqlite_session, mine[2]) is None
    assert sessions.user_for_token(sqlite_session, theirs) is bob
    assert _row(sqlite_session, mine[0]).revoked_at == ended_before  # not ended again
    assert sessions.revoke_all(sqlite_session, alice) == 1
    assert sessions.revoke_all(sqlite_session, alice, keep_token="not a cookie") == 0


def test_pruning_forgets_sessions_ended_more_than_a_day_ago(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _admin(sqlite_session)
    now = utcnow()
    monkeypatch.setattr(sessions, "utcnow", lambda: now)
    day = timedelta(days=1)
    rows = {
        name: UserSession(key=name, admin_id=user.id, expires_at=expires, revoked_at=revoked)
        for name, expires, revoked in [
            ("expired two days ago", now - 2 * day, None),
            ("expired a day ago to the microsecond", now - day, None),
            ("expired an hour ago", now - timedelta(hours=1), None),
            ("revoked two days ago", now + day, now - 2 * day),
            ("revoked a day ago to the microsecond", now + day, now - day),
            ("live", now + day, None),
        ]
    }
    sqlite_session.add_all(rows.values())
    sqlite_session.flush()
    assert sessions.prune(sqlite_session) == 2
    left = sqlite_session.exec(select(UserSession.key).where(col(UserSession.admin_id) == user.id))
    assert sorted(left) == sorted(set(rows) - {"expired two days ago", "revoked two days ago"})

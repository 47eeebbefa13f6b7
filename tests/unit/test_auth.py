"""Passwords, roles and API tokens, on a real SQLite database (sessions: tests/security)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from engine.models import Role, utcnow
from engine.services import auth


def _admin(session: Session) -> auth.AdminUser:
    user = auth.create_user(session, "alice", "correct horse battery", Role.admin, actor=None)
    session.commit()
    return user


def test_first_user_is_admin_and_only_once(sqlite_session: Session) -> None:
    first = auth.create_user(
        sqlite_session, "alice", "correct horse battery", Role.viewer, actor=None
    )
    assert first.role == Role.admin
    assert first.password_hash != "correct horse battery"
    assert first.password_hash.startswith("$argon2id$")
    with pytest.raises(auth.PermissionDenied):
        auth.create_user(sqlite_session, "mallory", "another long password", Role.admin, actor=None)


def test_account_rules(sqlite_session: Session) -> None:
    with pytest.raises(auth.InvalidAccount, match="at least 10"):
        auth.create_user(sqlite_session, "alice", "short", Role.admin, actor=None)
    with pytest.raises(auth.InvalidAccount, match="User name"):
        auth.create_user(sqlite_session, "a b", "correct horse battery", Role.admin, actor=None)


def test_wrong_password_and_unknown_user_fail_alike(sqlite_session: Session) -> None:
    _admin(sqlite_session)
    for name, password in [("alice", "wrong password!"), ("nobody", "whatever12345")]:
        with pytest.raises(auth.LoginFailed, match="Wrong user name or password"):
            auth.authenticate(sqlite_session, name, password, ip="10.0.0.1")
    assert auth.authenticate(sqlite_session, "alice", "correct horse battery").username == "alice"


def test_deactivated_account_loses_every_right(sqlite_session: Session) -> None:
    admin = _admin(sqlite_session)
    admin.is_active = False
    with pytest.raises(auth.PermissionDenied):
        auth.require_role(admin, Role.viewer)


def test_viewer_cannot_change_anything(sqlite_session: Session) -> None:
    admin = _admin(sqlite_session)
    viewer = auth.create_user(
        sqlite_session, "victor", "viewer password 1", Role.viewer, actor=admin
    )
    editor = auth.create_user(
        sqlite_session, "eddie", "editor password 1", Role.editor, actor=admin
    )
    with pytest.raises(auth.PermissionDenied, match="editor role"):
        auth.require_role(viewer, Role.editor)
    with pytest.raises(auth.PermissionDenied):
        auth.create_api_token(sqlite_session, viewer, "ci")
    with pytest.raises(auth.PermissionDenied):
        auth.create_user(sqlite_session, "zed", "some password 1", Role.viewer, actor=editor)
    with pytest.raises(auth.PermissionDenied):
        auth.set_role(sqlite_session, editor, viewer, Role.admin)
    auth.require_role(editor, Role.editor)


def test_api_token_hashed_and_revocable(sqlite_session: Session) -> None:
    admin = _admin(sqlite_session)
    new = auth.create_api_token(sqlite_session, admin, "ci", Role.editor)
    sqlite_session.commit()
    assert new.plaintext.startswith("fbt_")
    assert new.plaintext not in new.record.token_hash
    owner, token = auth.user_for_api_token(sqlite_session, new.plaintext)
    assert owner.id == admin.id and token.role == Role.editor
    assert auth.user_for_api_token(sqlite_session, new.plaintext + "x") is None
    auth.revoke_api_token(sqlite_session, admin, new.record)
    assert auth.user_for_api_token(sqlite_session, new.plaintext) is None


def test_expired_api_token_refused(sqlite_session: Session) -> None:
    admin = _admin(sqlite_session)
    new = auth.create_api_token(sqlite_session, admin, "old", expires_in_days=1)
    new.record.expires_at = utcnow() - timedelta(seconds=1)
    sqlite_session.commit()
    assert auth.user_for_api_token(sqlite_session, new.plaintext) is None

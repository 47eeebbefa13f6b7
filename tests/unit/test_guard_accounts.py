"""Account and key guards at their edges, on a real SQLite database: a deactivated account is
refused by every way in, a role change ends the account's sessions, and the key for stored
secrets is its own (the pool token, public to every pool, cannot decrypt them)."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
import sqlalchemy.dialects.sqlite
from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import Session

from engine import crypto
from engine.models import AdminUser, Role
from engine.services import auth, sessions
from engine.settings import derive_key, get_settings

PASSWORD = "correct horse battery"


def people(session: Session) -> tuple[AdminUser, AdminUser]:
    admin = auth.create_user(session, "alice", PASSWORD, Role.admin, actor=None)
    editor = auth.create_user(session, "eddie", PASSWORD, Role.editor, actor=admin)
    session.commit()
    return admin, editor


# -- deactivated accounts -----------------------------------------------------------------


@pytest.mark.parametrize("needed", list(Role))
@pytest.mark.parametrize("role", list(Role))
def test_require_role_refuses_an_inactive_account_whatever_its_role(
    role: Role, needed: Role
) -> None:
    inactive = AdminUser(username="gone", password_hash="x", role=role, is_active=False)
    with pytest.raises(auth.PermissionDenied):
        auth.require_role(inactive, needed)
    active = AdminUser(username="here", password_hash="x", role=role, is_active=True)
    if role.allows(needed):
        auth.require_role(active, needed)
    else:
        with pytest.raises(auth.PermissionDenied, match=f"needs the {needed.value} role"):
            auth.require_role(active, needed)


def test_a_deactivated_account_is_refused_by_every_way_in(sqlite_session: Session) -> None:
    """Password, browser session, API token and the role check every service makes."""
    admin, editor = people(sqlite_session)
    cookie = sessions.issue(sqlite_session, editor)
    token = auth.create_api_token(sqlite_session, editor, "ci", Role.editor).plaintext
    sqlite_session.commit()
    assert auth.user_for_api_token(sqlite_session, token) is not None

    auth.set_active(sqlite_session, admin, editor, False)
    sqlite_session.commit()

    with pytest.raises(auth.LoginFailed):
        auth.authenticate(sqlite_session, "eddie", PASSWORD)
    assert sessions.user_for_token(sqlite_session, cookie) is None
    assert auth.user_for_api_token(sqlite_session, token) is None
    with pytest.raises(auth.PermissionDenied):
        auth.require_role(editor, Role.viewer)

    auth.set_active(sqlite_session, admin, editor, True)  # back: a new sign-in works,
    sqlite_session.commit()  # the old session and token stay ended
    assert auth.authenticate(sqlite_session, "eddie", PASSWORD).id == editor.id
    assert sessions.user_for_token(sqlite_session, cookie) is None
    assert auth.user_for_api_token(sqlite_session, token) is None


# -- role changes ---------------------------------------------------------------------------


def test_a_role_change_ends_the_accounts_sessions(sqlite_session: Session) -> None:
    admin, editor = people(sqlite_session)
    laptop, phone = sessions.issue(sqlite_session, editor), sessions.issue(sqlite_session, editor)
    own = sessions.issue(sqlite_session, admin)
    sqlite_session.commit()

    auth.set_role(sqlite_session, admin, editor, Role.viewer)
    sqlite_session.commit()

    assert sessions.user_for_token(sqlite_session, laptop) is None
    assert sessions.user_for_token(sqlite_session, phone) is None
    assert sessions.user_for_token(sqlite_session, own) is not None  # the admin's stays
    fresh = sessions.issue(sqlite_session, editor)
    sqlite_session.commit()
    signed_in = sessions.user_for_token(sqlite_session, fresh)
    assert signed_in is not None and signed_in.role == Role.viewer


def test_setting_the_same_role_keeps_the_sessions(sqlite_session: Session) -> None:
    admin, editor = people(sqlite_session)
    cookie = sessions.issue(sqlite_session, editor)
    own = sessions.issue(sqlite_session, admin)
    sqlite_session.commit()
    auth.set_role(sqlite_session, admin, editor, Role.editor)
    auth.set_role(sqlite_session, admin, admin, Role.admin)
    sqlite_session.commit()
    assert sessions.user_for_token(sqlite_session, cookie) is not None
    assert sessions.user_for_token(sqlite_session, own) is not None


# -- the key of stored secrets ------------------------------------------------------------------


def fernet(key: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(key))


def test_stored_secrets_are_not_decryptable_with_the_pool_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWBOT_SECRET_KEY", "guard-test-secret-key")
    monkeypatch.delenv("FLOWBOT_POOL_TOKEN", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    stored = crypto.encrypt("123456:bot-token")

    with pytest.raises(InvalidToken):
        fernet(bytes.fromhex(settings.effective_pool_token)).decrypt(stored.encode())
    session_key = derive_key(settings.effective_secret_key, "session-tokens")
    with pytest.raises(InvalidToken):
        fernet(session_key).decrypt(stored.encode())
    # The purpose is part of the stored format: another one would orphan every secret.
    at_rest = derive_key("guard-test-secret-key", "secrets-at-rest")
    assert fernet(at_rest).decrypt(stored.encode()) == b"123456:bot-token"
    assert crypto.decrypt(stored) == "123456:bot-token"

    monkeypatch.setenv("FLOWBOT_SECRET_KEY", "another-secret-key")
    get_settings.cache_clear()
    with pytest.raises(crypto.SecretDecryptionError, match="FLOWBOT_SECRET_KEY differs"):
        crypto.decrypt(stored)
    get_settings.cache_clear()


def test_the_wrong_key_error_says_what_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBOT_SECRET_KEY", "guard-test-secret-key")
    get_settings.cache_clear()
    stored = crypto.encrypt("x")
    monkeypatch.setenv("FLOWBOT_SECRET_KEY", "another-secret-key")
    get_settings.cache_clear()
    with pytest.raises(crypto.SecretDecryptionError) as raised:
        crypto.decrypt(stored)
    assert str(raised.value) == (
        "a stored secret cannot be decrypted: FLOWBOT_SECRET_KEY differs from the one "
        "it was saved with"
    )
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, ""), ("", ""), ("12345678", "•" * 8), ("123456789", "•" * 8 + "6789")],
)
def test_mask_shows_the_last_four_characters_of_long_secrets_only(
    value: str | None, shown: str
) -> None:
    assert crypto.mask(value) == shown


def test_an_empty_encrypted_column_stays_empty() -> None:
    column = crypto.EncryptedText()
    dialect = sa.dialects.sqlite.dialect()
    assert column.process_bind_param(None, dialect) is None
    assert column.process_result_value(None, dialect) is None

"""Account and key guards at their edges, on a real SQLite database: a deactivated account is
refused by every way in, a role change ends the account's sessions, and the key for stored
secrets is its own (the pool token, public to every pool, cannot decrypt them)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.dialects.sqlite
from argon2 import PasswordHasher
from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import Session, col, select

from engine import crypto
from engine.models import AdminUser, ApiToken, AuditLog, Role, UserSession, utcnow
from engine.services import auth, login_throttle, sessions
from engine.services.errors import Conflict, NotFound
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


# -- every rule of engine/services/auth.py at its edges (the mutation guard) ----------------

Entry = tuple[str, str, str | None, str | None, str | None, dict[str, Any]]


def audit_since(session: Session, after: int = 0) -> list[Entry]:
    """The audit entries written after entry ``after``: actor, action, target, ip, details."""
    session.flush()
    rows = session.exec(select(AuditLog).where(col(AuditLog.id) > after).order_by(AuditLog.id))
    return [(r.actor, r.action, r.target_type, r.target_id, r.ip, r.details) for r in rows]


def last_audit_id(session: Session) -> int:
    session.flush()
    return session.exec(select(sa.func.coalesce(sa.func.max(AuditLog.id), 0))).one()


def live_sessions(session: Session, user: AdminUser) -> int:
    session.flush()
    query = select(sa.func.count()).where(
        UserSession.admin_id == user.id, col(UserSession.revoked_at).is_(None)
    )
    return session.exec(query).one()


def test_the_refusals_carry_what_the_forms_show() -> None:
    limited = auth.LoginRateLimited("wait", retry_after=3)
    assert (str(limited), limited.retry_after) == ("wait", 3)
    named = auth.InvalidAccount("bad name")
    assert (str(named), named.field) == ("bad name", "username")
    assert auth.InvalidAccount("short", field="password").field == "password"


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("abc", "x" * 10, None),
        ("a" * 64, "x" * 10, None),
        ("a.b_c@d-e", "x" * 10, None),
        ("ab", "x" * 10, "username"),
        ("a" * 65, "x" * 10, "username"),
        ("a b", "x" * 10, "username"),
        ("abc", "x" * 9, "password"),
    ],
    ids=["3-chars", "64-chars", "specials", "2-chars", "65-chars", "space", "9-char-password"],
)
def test_new_account_rules_at_their_edges(username: str, password: str, field: str | None) -> None:
    if field is None:
        auth.validate_new_account(username, password)
        return
    with pytest.raises(auth.InvalidAccount) as refused:
        auth.validate_new_account(username, password)
    assert refused.value.field == field
    assert (
        str(refused.value)
        == {
            "username": "User name: 3 to 64 letters, digits or . _ @ - (no spaces).",
            "password": "Password: at least 10 characters.",
        }[field]
    )


def test_accounts_are_created_by_the_first_comer_then_by_admins_only(
    sqlite_session: Session,
) -> None:
    assert auth.has_any_admin(sqlite_session) is False
    first = auth.create_user(sqlite_session, "  alice  ", PASSWORD, Role.viewer, actor=None)
    assert (first.username, first.display_name, first.role) == ("alice", "alice", Role.admin)
    assert auth._verify(first.password_hash, PASSWORD) and auth.has_any_admin(sqlite_session)
    assert audit_since(sqlite_session) == [
        ("alice", "user_created", "admin_user", str(first.id), None, {"role": "admin"})
    ]
    mark = last_audit_id(sqlite_session)
    with pytest.raises(auth.PermissionDenied) as again:
        auth.create_user(sqlite_session, "mallory", PASSWORD, Role.admin, actor=None)
    assert str(again.value) == "The first admin already exists: sign in to add people."

    bob = auth.create_user(
        sqlite_session, "bob", PASSWORD, Role.editor, actor=first, display_name="Bob B."
    )
    assert (bob.display_name, bob.role) == ("Bob B.", Role.editor)
    assert audit_since(sqlite_session, mark) == [
        ("alice", "user_created", "admin_user", str(bob.id), None, {"role": "editor"})
    ]
    with pytest.raises(auth.PermissionDenied):
        auth.create_user(sqlite_session, "carol", PASSWORD, Role.viewer, actor=bob)
    with pytest.raises(auth.InvalidAccount) as taken:
        auth.create_user(sqlite_session, " bob ", PASSWORD, Role.viewer, actor=first)
    assert str(taken.value) == "The user name 'bob' is taken."
    with pytest.raises(auth.InvalidAccount) as short:
        auth.create_user(sqlite_session, "carol", "x" * 9, Role.viewer, actor=first)
    assert short.value.field == "password"


def test_role_changes_by_admins_audited_with_the_sessions_they_ended(
    sqlite_session: Session,
) -> None:
    admin, editor = people(sqlite_session)
    for _ in range(2):
        sessions.issue(sqlite_session, editor)
    mark = last_audit_id(sqlite_session)
    with pytest.raises(auth.PermissionDenied) as own:
        auth.set_role(sqlite_session, admin, admin, Role.editor)
    assert str(own.value) == "You cannot lower your own role; ask another admin."
    with pytest.raises(auth.PermissionDenied):
        auth.set_role(sqlite_session, editor, admin, Role.viewer)
    auth.set_role(sqlite_session, admin, admin, Role.admin)
    auth.set_role(sqlite_session, admin, editor, Role.viewer)
    sqlite_session.refresh(editor)
    assert editor.role == Role.viewer and live_sessions(sqlite_session, editor) == 0
    sessions.issue(sqlite_session, editor)
    auth.set_role(sqlite_session, admin, editor, Role.viewer)  # unchanged: session kept
    assert live_sessions(sqlite_session, editor) == 1
    target = ("admin_user", str(editor.id), None)
    assert audit_since(sqlite_session, mark) == [
        ("alice", "role_changed", "admin_user", str(admin.id), None,
         {"role": "admin", "sessions_ended": 0}),
        ("alice", "role_changed", *target, {"role": "viewer", "sessions_ended": 2}),
        ("alice", "role_changed", *target, {"role": "viewer", "sessions_ended": 0}),
    ]  # fmt: skip


def test_admins_read_people_and_reset_passwords(sqlite_session: Session) -> None:
    admin, editor = people(sqlite_session)
    token = auth.create_api_token(sqlite_session, editor, "ci").plaintext
    for _ in range(2):
        sessions.issue(sqlite_session, editor)
    for refused in (
        lambda: auth.people_query(editor),
        lambda: auth.get_person(sqlite_session, editor, admin.id),  # type: ignore[arg-type]
        lambda: auth.reset_password(sqlite_session, editor, admin, "a new long password"),
    ):
        with pytest.raises(auth.PermissionDenied):
            refused()
    listed = sqlite_session.exec(auth.people_query(admin).order_by(AdminUser.id)).all()
    assert [p.username for p in listed] == ["alice", "eddie"]
    assert auth.get_person(sqlite_session, admin, editor.id) is editor  # type: ignore[arg-type]
    with pytest.raises(NotFound) as missing:
        auth.get_person(sqlite_session, admin, 999)
    assert str(missing.value) == "Account 999 does not exist."
    with pytest.raises(auth.InvalidAccount):
        auth.reset_password(sqlite_session, admin, editor, "x" * 9)

    mark = last_audit_id(sqlite_session)
    auth.reset_password(sqlite_session, admin, editor, "a new long password")
    sqlite_session.refresh(editor)
    assert auth._verify(editor.password_hash, "a new long password")
    assert not auth._verify(editor.password_hash, PASSWORD)
    assert live_sessions(sqlite_session, editor) == 0
    assert auth.user_for_api_token(sqlite_session, token) is not None  # tokens stay
    assert audit_since(sqlite_session, mark) == [
        ("alice", "password_reset", "admin_user", str(editor.id), None, {"sessions_ended": 2})
    ]


def test_deactivation_ends_sessions_and_the_accounts_own_tokens_only(
    sqlite_session: Session,
) -> None:
    admin, editor = people(sqlite_session)
    sessions.issue(sqlite_session, editor)
    own = auth.create_api_token(sqlite_session, editor, "own").record
    old = auth.create_api_token(sqlite_session, editor, "old").record
    other = auth.create_api_token(sqlite_session, admin, "admin's").record
    revoked_before = utcnow() - timedelta(days=3)
    old.revoked_at = revoked_before
    sqlite_session.add(old)
    mark = last_audit_id(sqlite_session)

    with pytest.raises(auth.PermissionDenied):
        auth.set_active(sqlite_session, editor, admin, False)
    with pytest.raises(auth.PermissionDenied) as yourself:
        auth.set_active(sqlite_session, admin, admin, False)
    assert str(yourself.value) == "You cannot deactivate yourself; ask another admin."
    auth.set_active(sqlite_session, admin, editor, True)  # already active: nothing to do
    assert audit_since(sqlite_session, mark) == []

    auth.set_active(sqlite_session, admin, editor, False)
    sqlite_session.flush()
    for row in (editor, own, old, other):
        sqlite_session.refresh(row)
    assert editor.is_active is False and live_sessions(sqlite_session, editor) == 0
    assert own.revoked_at is not None and other.revoked_at is None
    assert old.revoked_at is not None
    assert old.revoked_at.replace(tzinfo=None) == revoked_before.replace(tzinfo=None)
    auth.set_active(sqlite_session, admin, editor, True)
    sqlite_session.flush()
    sqlite_session.refresh(editor)
    assert editor.is_active is True
    target = ("admin_user", str(editor.id), None, {})
    assert audit_since(sqlite_session, mark) == [
        ("alice", "user_deactivated", *target),
        ("alice", "user_reactivated", *target),
    ]


def test_the_last_active_admin_counts_only_other_active_admins(sqlite_session: Session) -> None:
    """The acting admin is a stale copy (see tests/api/test_people.py), so that the one
    in question can be the last: an inactive admin and an active editor do not count."""
    last = auth.create_user(sqlite_session, "alice", PASSWORD, Role.admin, actor=None)
    idle = auth.create_user(sqlite_session, "ida", PASSWORD, Role.admin, actor=last)
    auth.create_user(sqlite_session, "eddie", PASSWORD, Role.editor, actor=last)
    idle.is_active = False
    sqlite_session.add(idle)
    stale = AdminUser(id=0, username="stale", role=Role.admin, password_hash="")
    with pytest.raises(Conflict) as refused:
        auth.set_active(sqlite_session, stale, last, False)
    assert str(refused.value) == "This is the last active admin: make someone else admin first."
    auth.set_active(sqlite_session, stale, idle, True)
    auth.set_active(sqlite_session, stale, last, False)  # ida is an active admin again
    sqlite_session.flush()
    sqlite_session.refresh(last)
    assert last.is_active is False


def test_a_token_caps_the_acting_role_never_raises_it() -> None:
    admin = AdminUser(username="a", password_hash="x", role=Role.admin)
    viewer = AdminUser(username="v", password_hash="x", role=Role.viewer)
    assert auth.acting_role(admin) is Role.admin
    with auth.capped_by_token(Role.editor):
        assert auth.acting_role(admin) is Role.editor
        assert auth.acting_role(viewer) is Role.viewer
    assert auth.acting_role(admin) is Role.admin


def _fail(session: Session, username: str, ip: str) -> None:
    with pytest.raises(auth.LoginFailed) as failed:
        auth.authenticate(session, username, "a wrong password", ip=ip)
    assert str(failed.value) == "Wrong user name or password."


def test_sign_in_checks_name_password_and_activity_and_audits_each_try(
    sqlite_session: Session,
) -> None:
    admin, editor = people(sqlite_session)
    mark = last_audit_id(sqlite_session)
    assert auth.authenticate(sqlite_session, " alice ", PASSWORD, ip="10.0.0.1") is admin
    assert auth.authenticate(sqlite_session, "eddie", PASSWORD) is editor
    _fail(sqlite_session, "alice", "10.0.0.2")
    _fail(sqlite_session, "nobody", "")
    sqlite_session.rollback()  # a failure is committed before it is raised: the throttle
    editor.is_active = False  # counts it whatever the caller does next
    sqlite_session.add(editor)
    with pytest.raises(auth.LoginFailed):
        auth.authenticate(sqlite_session, "eddie", PASSWORD)
    assert audit_since(sqlite_session, mark) == [
        ("alice", "login", None, None, "10.0.0.1", {}),
        ("eddie", "login", None, None, None, {}),
        ("alice", "login_failed", None, None, "10.0.0.2", {}),
        ("nobody", "login_failed", None, None, None, {}),
        ("eddie", "login_failed", None, None, None, {}),
    ]


def test_a_sign_in_upgrades_an_old_password_hash(sqlite_session: Session) -> None:
    admin, _ = people(sqlite_session)
    admin.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    sqlite_session.add(admin)
    assert auth.authenticate(sqlite_session, "alice", PASSWORD) is admin
    assert not auth._hasher.check_needs_rehash(admin.password_hash)
    assert auth._verify(admin.password_hash, PASSWORD)


def test_failed_sign_ins_slow_that_name_at_that_address_only(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three free failures, then 1 s after the last; the clock of the throttle is set to
    half a second and to exactly one second after it."""
    people(sqlite_session)
    for _ in range(3):
        _fail(sqlite_session, "alice", "10.0.0.9")
    last = sqlite_session.exec(select(sa.func.max(AuditLog.created_at))).one()
    assert isinstance(last, datetime)

    monkeypatch.setattr(login_throttle, "utcnow", lambda: last + timedelta(seconds=0.5))
    with pytest.raises(auth.LoginRateLimited) as limited:
        auth.authenticate(sqlite_session, "alice", PASSWORD, ip="10.0.0.9")
    assert limited.value.retry_after == 1
    assert str(limited.value) == "Too many failed sign-ins. Try again in 1 seconds."
    assert auth.authenticate(sqlite_session, "alice", PASSWORD, ip="10.0.0.8").username == "alice"
    assert auth.authenticate(sqlite_session, "eddie", PASSWORD, ip="10.0.0.9").username == "eddie"
    monkeypatch.setattr(login_throttle, "utcnow", lambda: last + timedelta(seconds=1))
    assert auth.authenticate(sqlite_session, "alice", PASSWORD, ip="10.0.0.9").username == "alice"


def test_a_password_change_needs_the_current_one_and_ends_the_other_sessions(
    sqlite_session: Session,
) -> None:
    admin, _ = people(sqlite_session)
    here, _elsewhere = sessions.issue(sqlite_session, admin), sessions.issue(sqlite_session, admin)
    mark = last_audit_id(sqlite_session)
    with pytest.raises(auth.LoginFailed) as wrong:
        auth.change_password(sqlite_session, admin, "not it at all", "a new long password")
    assert str(wrong.value) == "The current password is wrong."
    with pytest.raises(auth.InvalidAccount):
        auth.change_password(sqlite_session, admin, PASSWORD, "x" * 9)
    assert auth._verify(admin.password_hash, PASSWORD) and live_sessions(sqlite_session, admin) == 2

    auth.change_password(sqlite_session, admin, PASSWORD, "a new long password", keep_session=here)
    assert auth._verify(admin.password_hash, "a new long password")
    assert live_sessions(sqlite_session, admin) == 1
    assert sessions.user_for_token(sqlite_session, here) is admin
    auth.change_password(sqlite_session, admin, "a new long password", "a third long password")
    assert live_sessions(sqlite_session, admin) == 0
    entry = ("alice", "password_changed", "admin_user", str(admin.id), None, {})
    assert audit_since(sqlite_session, mark) == [entry, entry]


def test_api_tokens_are_made_with_no_more_rights_than_their_maker(
    sqlite_session: Session,
) -> None:
    admin, editor = people(sqlite_session)
    viewer = auth.create_user(sqlite_session, "vic", PASSWORD, Role.viewer, actor=admin)
    with pytest.raises(auth.PermissionDenied):
        auth.create_api_token(sqlite_session, viewer, "ci", Role.viewer)
    for maker, role in ((editor, Role.admin), (admin, Role.admin)):
        with pytest.raises(auth.PermissionDenied) as above, auth.capped_by_token(Role.editor):
            auth.create_api_token(sqlite_session, maker, "ci", role)
        assert str(above.value) == "A token cannot have more rights than its owner."
    mark = last_audit_id(sqlite_session)

    before = utcnow()
    made = auth.create_api_token(sqlite_session, editor, "  ci  ", Role.editor, expires_in_days=2)
    after = utcnow()
    record, plaintext = made.record, made.plaintext
    assert plaintext.startswith("fbt_") and len(plaintext) == 4 + 43
    assert (record.admin_id, record.name, record.role) == (editor.id, "ci", Role.editor)
    assert record.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert record.prefix == plaintext[:10]
    assert record.expires_at is not None
    assert before + timedelta(days=2) <= record.expires_at <= after + timedelta(days=2)
    unnamed = auth.create_api_token(sqlite_session, editor, "  ", Role.viewer).record
    assert (unnamed.name, unnamed.role, unnamed.expires_at) == ("API token", Role.viewer, None)
    assert audit_since(sqlite_session, mark) == [
        ("eddie", "api_token_created", "api_token", str(record.id), None, {}),
        ("eddie", "api_token_created", "api_token", str(unnamed.id), None, {}),
    ]


def test_a_token_is_revoked_by_its_owner_or_an_admin(sqlite_session: Session) -> None:
    admin, editor = people(sqlite_session)
    viewer = auth.create_user(sqlite_session, "vic", PASSWORD, Role.viewer, actor=admin)
    admins = auth.create_api_token(sqlite_session, admin, "a").record
    first = auth.create_api_token(sqlite_session, editor, "e1").record
    second = auth.create_api_token(sqlite_session, editor, "e2").record
    mark = last_audit_id(sqlite_session)
    with pytest.raises(auth.PermissionDenied):
        auth.revoke_api_token(sqlite_session, viewer, first)
    with pytest.raises(auth.PermissionDenied):
        auth.revoke_api_token(sqlite_session, editor, admins)
    auth.revoke_api_token(sqlite_session, editor, first)
    auth.revoke_api_token(sqlite_session, admin, second)
    sqlite_session.flush()
    for row in (admins, first, second):
        sqlite_session.refresh(row)
    assert admins.revoked_at is None and first.revoked_at and second.revoked_at
    assert audit_since(sqlite_session, mark) == [
        ("eddie", "api_token_revoked", "api_token", str(first.id), None, {}),
        ("alice", "api_token_revoked", "api_token", str(second.id), None, {}),
    ]


def test_a_token_is_good_while_unrevoked_unexpired_and_its_owner_active(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, editor = people(sqlite_session)
    made = auth.create_api_token(sqlite_session, editor, "ci", Role.viewer)
    other = auth.create_api_token(sqlite_session, admin, "other", Role.admin)
    assert made.record.last_used_at is None
    found = auth.user_for_api_token(sqlite_session, made.plaintext)
    assert found == (editor, made.record) and made.record.last_used_at is not None
    assert auth.user_for_api_token(sqlite_session, "fbt_unknown") is None
    assert auth.user_for_api_token(sqlite_session, other.plaintext) == (admin, other.record)

    at = datetime(2026, 12, 2, 9, 0, tzinfo=utcnow().tzinfo)
    monkeypatch.setattr(auth, "utcnow", lambda: at)
    made.record.expires_at = at + timedelta(microseconds=1)
    sqlite_session.add(made.record)
    assert auth.user_for_api_token(sqlite_session, made.plaintext) is not None
    made.record.expires_at = at  # expires at this very instant
    sqlite_session.add(made.record)
    assert auth.user_for_api_token(sqlite_session, made.plaintext) is None
    assert auth.api_token_role(sqlite_session, made.record.id) is None  # type: ignore[arg-type]


def test_a_tokens_rights_are_the_lesser_of_token_and_owner(sqlite_session: Session) -> None:
    admin, editor = people(sqlite_session)

    owners = {"alice": admin, "eddie": editor}

    def token(owner_name: str, role: Role) -> int:
        owner = owners[owner_name]
        row = ApiToken(admin_id=owner.id, name="t", token_hash=f"{owner.id}-{role}", prefix="p",
                       role=role)  # fmt: skip
        sqlite_session.add(row)
        sqlite_session.flush()
        assert row.id is not None
        return row.id

    cases = {
        ("alice", Role.editor): Role.editor,
        ("alice", Role.admin): Role.admin,
        ("eddie", Role.admin): Role.editor,  # stored directly: the service never makes one
        ("eddie", Role.viewer): Role.viewer,
    }
    ids = {case: token(*case) for case in cases}
    for case, expected in cases.items():
        assert auth.api_token_role(sqlite_session, ids[case]) is expected, case
    assert auth.api_token_role(sqlite_session, 999) is None
    revoked = sqlite_session.get(ApiToken, ids[("alice", Role.admin)])
    assert revoked is not None
    revoked.revoked_at = utcnow()
    editor.is_active = False
    sqlite_session.add_all([revoked, editor])
    assert auth.api_token_role(sqlite_session, ids[("alice", Role.admin)]) is None
    assert auth.api_token_role(sqlite_session, ids[("eddie", Role.viewer)]) is None
    assert auth.api_token_role(sqlite_session, ids[("alice", Role.editor)]) is Role.editor

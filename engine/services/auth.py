"""Admin accounts, passwords, sign-in, roles and API tokens.

Passwords are hashed with argon2id. Browser sessions live in :mod:`engine.services.sessions`;
how long a failed sign-in must wait, in :mod:`engine.services.login_throttle`.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from engine.db import saved_id
from engine.models import AdminUser, ApiToken, Role, utcnow
from engine.services import audit, login_throttle, sessions
from engine.services.errors import Conflict, NotFound

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
MIN_PASSWORD_LENGTH = 10
API_TOKEN_PREFIX = "fbt_"

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so timing does not reveal which exist.
_DUMMY_HASH = _hasher.hash("flowbot-dummy-password")


class AuthError(Exception):
    """A login or permission problem, with a message fit to show the user."""


class LoginFailed(AuthError):
    pass


class LoginRateLimited(AuthError):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDenied(AuthError):
    pass


class InvalidAccount(AuthError, ValueError):
    def __init__(self, message: str, *, field: str = "username") -> None:
        super().__init__(message)
        self.field = field  # which form field is wrong: "username" or "password"


# --- passwords and accounts ------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def validate_new_account(username: str, password: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise InvalidAccount("User name: 3 to 64 letters, digits or . _ @ - (no spaces).")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccount(
            f"Password: at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )


def has_any_admin(session: Session) -> bool:
    return session.exec(select(AdminUser.id).limit(1)).first() is not None


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    *,
    actor: AdminUser | None,
    display_name: str = "",
) -> AdminUser:
    """Create an account; only an admin may, except for the very first one."""
    username = username.strip()
    if actor is None:
        if has_any_admin(session):
            raise PermissionDenied("The first admin already exists: sign in to add people.")
        role = Role.admin
    else:
        require_role(actor, Role.admin)
    validate_new_account(username, password)
    if session.exec(select(AdminUser).where(AdminUser.username == username)).first():
        raise InvalidAccount(f"The user name {username!r} is taken.")
    user = AdminUser(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor.username if actor else username,
        "user_created",
        target_type="admin_user",
        target_id=user.id,
        role=str(role),
    )
    return user


def set_role(session: Session, actor: AdminUser, user: AdminUser, role: Role) -> None:
    """A new role ends the account's sessions: a browser signed in with the old rights signs
    in again instead of keeping pages and state loaded under them."""
    require_role(actor, Role.admin)
    if user.id == actor.id and role is not Role.admin:
        raise PermissionDenied("You cannot lower your own role; ask another admin.")
    changed = Role(user.role) is not role
    user.role = role
    session.add(user)
    ended = sessions.revoke_all(session, user) if changed else 0
    audit.record(
        session,
        actor.username,
        "role_changed",
        target_type="admin_user",
        target_id=user.id,
        role=str(role),
        sessions_ended=ended,
    )


# --- people: what an admin does to other accounts (Settings page, /api/v1/people) ---------


def people_query(actor: AdminUser) -> SelectOfScalar[AdminUser]:
    """Every account, for an admin to page through (the caller adds order and paging)."""
    require_role(actor, Role.admin)
    return select(AdminUser)


def get_person(session: Session, actor: AdminUser, user_id: int) -> AdminUser:
    require_role(actor, Role.admin)
    user = session.get(AdminUser, user_id)
    if user is None:
        raise NotFound(f"Account {user_id} does not exist.")
    return user


def reset_password(session: Session, actor: AdminUser, user: AdminUser, new: str) -> None:
    """An admin sets a new password (a forgotten one); every session of the account ends,
    so whoever knew the old one is signed out. API tokens stay: they are not passwords."""
    require_role(actor, Role.admin)
    validate_new_account(user.username, new)
    user.password_hash = hash_password(new)
    session.add(user)
    ended = sessions.revoke_all(session, user)
    audit.record(
        session,
        actor.username,
        "password_reset",
        target_type="admin_user",
        target_id=user.id,
        sessions_ended=ended,
    )


def set_active(session: Session, actor: AdminUser, user: AdminUser, active: bool) -> None:
    """Deactivate (sessions end and API tokens are revoked, for good) or reactivate an
    account; never yourself, never the last active admin, so someone can always sign in."""
    require_role(actor, Role.admin)
    if bool(user.is_active) == active:
        return
    if not active:
        if user.id == actor.id:
            raise PermissionDenied("You cannot deactivate yourself; ask another admin.")
        if Role(user.role) is Role.admin and not _other_active_admins(session, user):
            raise Conflict("This is the last active admin: make someone else admin first.")
        sessions.revoke_all(session, user)
        session.execute(
            sa.update(ApiToken)
            .where(col(ApiToken.admin_id) == user.id, col(ApiToken.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        )
    user.is_active = active
    session.add(user)
    action = "user_reactivated" if active else "user_deactivated"
    audit.record(session, actor.username, action, target_type="admin_user", target_id=user.id)


def _other_active_admins(session: Session, user: AdminUser) -> bool:
    query = select(AdminUser.id).where(
        AdminUser.role == Role.admin,
        col(AdminUser.is_active).is_(True),
        AdminUser.id != user.id,
    )
    return session.exec(query.limit(1)).first() is not None


# While an API call runs, the rights of the token it came with (never above its owner's).
_token_cap: ContextVar[Role | None] = ContextVar("api_token_role_cap", default=None)


@contextmanager
def capped_by_token(role: Role) -> Iterator[None]:
    """Within this block the acting user has at most ``role``: an API token's rights."""
    reset = _token_cap.set(role)
    try:
        yield
    finally:
        _token_cap.reset(reset)


def acting_role(user: AdminUser) -> Role:
    role, cap = Role(user.role), _token_cap.get()
    return cap if cap is not None and cap.rank < role.rank else role


def require_role(user: AdminUser, needed: Role) -> None:
    """The one check for every state change: raise unless ``user`` may do it."""
    role = acting_role(user)
    if not user.is_active or not role.allows(needed):
        raise PermissionDenied(f"This needs the {needed.value} role; {user.username} is {role}.")


# --- login --------------------------------------------------------------------------------


def authenticate(session: Session, username: str, password: str, ip: str = "") -> AdminUser:
    """Check a sign-in; failures are recorded and slow further tries down (never lock)."""
    username = username.strip()
    wait = login_throttle.wait_seconds(session, username, ip)
    if wait > 0:
        raise LoginRateLimited(
            f"Too many failed sign-ins. Try again in {math.ceil(wait)} seconds.",
            retry_after=math.ceil(wait),
        )
    user = session.exec(select(AdminUser).where(AdminUser.username == username)).first()
    ok = _verify(user.password_hash if user else _DUMMY_HASH, password)
    if not (user and ok and user.is_active):
        audit.record(session, username, "login_failed", ip=ip or None)
        session.commit()
        raise LoginFailed("Wrong user name or password.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.add(user)
    audit.record(session, username, "login", ip=ip or None)
    return user


def change_password(
    session: Session, user: AdminUser, current: str, new: str, *, keep_session: str = ""
) -> None:
    """New password; every other session of the account ends (``keep_session`` stays)."""
    if not _verify(user.password_hash, current):
        raise LoginFailed("The current password is wrong.")
    validate_new_account(user.username, new)
    user.password_hash = hash_password(new)
    sessions.revoke_all(session, user, keep_token=keep_session)
    session.add(user)
    audit.record(
        session, user.username, "password_changed", target_type="admin_user", target_id=user.id
    )


# --- API tokens -------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    # Tokens are 256-bit random: a fast hash is safe and lets us look them up.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewApiToken:
    record: ApiToken
    plaintext: str  # shown once, never stored


def create_api_token(
    session: Session,
    actor: AdminUser,
    name: str,
    role: Role = Role.editor,
    expires_in_days: int | None = None,
) -> NewApiToken:
    require_role(actor, Role.editor)
    if not acting_role(actor).allows(role):
        raise PermissionDenied("A token cannot have more rights than its owner.")
    plaintext = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        admin_id=saved_id(actor),
        name=name.strip() or "API token",
        token_hash=_token_hash(plaintext),
        prefix=plaintext[: len(API_TOKEN_PREFIX) + 6],
        role=role,
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    audit.record(
        session, actor.username, "api_token_created", target_type="api_token", target_id=token.id
    )
    return NewApiToken(token, plaintext)


def revoke_api_token(session: Session, actor: AdminUser, token: ApiToken) -> None:
    if token.admin_id != actor.id:
        require_role(actor, Role.admin)
    token.revoked_at = utcnow()
    session.add(token)
    audit.record(
        session, actor.username, "api_token_revoked", target_type="api_token", target_id=token.id
    )


def user_for_api_token(session: Session, plaintext: str) -> tuple[AdminUser, ApiToken] | None:
    """The owner of a valid token; its rights are the lesser of token and owner."""
    token = session.exec(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(plaintext))
    ).first()
    user = _owner_if_usable(session, token)
    if token is None or user is None:
        return None
    token.last_used_at = utcnow()
    session.add(token)
    return user, token


def api_token_role(session: Session, token_id: int) -> Role | None:
    """What a token may do now (the lesser of token and owner), None once it is revoked,
    expired or its owner deactivated: long requests (the event stream) check again."""
    token = session.get(ApiToken, token_id)
    user = _owner_if_usable(session, token)
    if token is None or user is None:
        return None
    return min(Role(user.role), Role(token.role), key=lambda r: r.rank)


def _owner_if_usable(session: Session, token: ApiToken | None) -> AdminUser | None:
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= utcnow():
        return None
    user = session.get(AdminUser, token.admin_id)
    return user if user is not None and user.is_active else None

"""Browser sign-in sessions: issued at login, checked on every call, revoked at logout.

The cookie holds a Fernet token (authenticated encryption with a timestamp, under a key
derived from FLOWBOT_SECRET_KEY) naming a ``user_session`` row. The token cannot be
forged or read; the row makes a session revocable on its own (logout), or with all of an
account's others (password change, "sign out everywhere"), before the token expires.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import Session, col, select

from engine.db import affected_rows, saved_id
from engine.models import AdminUser, UserSession, utcnow
from engine.settings import derive_key, get_settings

COOKIE_NAME = "flowbot_session"


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, "session-tokens")))


def _ttl_seconds() -> int:
    return get_settings().session_ttl_hours * 3600


def issue(session: Session, user: AdminUser, *, ip: str = "", user_agent: str = "") -> str:
    """Open a session for ``user``; returns the cookie value."""
    key = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            key=key,
            admin_id=saved_id(user),
            ip=ip[:64],
            user_agent=user_agent[:256],
            expires_at=utcnow() + timedelta(seconds=_ttl_seconds()),
        )
    )
    payload = json.dumps({"sid": key, "uid": user.id}).encode()
    return _fernet(get_settings().effective_secret_key).encrypt(payload).decode()


def _claims(token: str, now: datetime | None) -> dict[str, object] | None:
    fernet = _fernet(get_settings().effective_secret_key)
    try:
        if now is None:
            raw = fernet.decrypt(token.encode(), ttl=_ttl_seconds())
        else:
            raw = fernet.decrypt_at_time(
                token.encode(), ttl=_ttl_seconds(), current_time=int(now.timestamp())
            )
        claims = json.loads(raw)
    except (InvalidToken, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _live_row(session: Session, token: str, now: datetime | None) -> UserSession | None:
    if not token:
        return None
    claims = _claims(token, now)
    if claims is None:
        return None
    row = session.exec(select(UserSession).where(UserSession.key == str(claims.get("sid")))).first()
    if row is None or row.admin_id != claims.get("uid") or row.revoked_at is not None:
        return None
    if row.expires_at <= (now or utcnow()):
        return None
    return row


def user_for_token(
    session: Session, token: str, *, now: datetime | None = None
) -> AdminUser | None:
    """The signed-in account, or None when the token is forged, expired or revoked."""
    row = _live_row(session, token, now)
    if row is None:
        return None
    user = session.get(AdminUser, row.admin_id)
    if user is None or not user.is_active:
        return None
    return user


def revoke(session: Session, token: str) -> None:
    """Logout: this session stops working at once, whatever its expiry."""
    row = _live_row(session, token, None)
    if row is not None:
        row.revoked_at = utcnow()
        session.add(row)


def revoke_all(session: Session, user: AdminUser, *, keep_token: str = "") -> int:
    """End every session of ``user`` (but the one ``keep_token`` names); how many ended."""
    kept = _live_row(session, keep_token, None) if keep_token else None
    query = (
        sa.update(UserSession)
        .where(
            col(UserSession.admin_id) == user.id,
            col(UserSession.revoked_at).is_(None),
        )
        .values(revoked_at=utcnow())
    )
    if kept is not None:
        query = query.where(col(UserSession.id) != kept.id)
    return affected_rows(session.execute(query))


def prune(session: Session, *, older_than: timedelta = timedelta(days=1)) -> int:
    """Forget sessions that expired or were revoked a while ago (nightly maintenance)."""
    cutoff = utcnow() - older_than
    query = sa.delete(UserSession).where(
        sa.or_(col(UserSession.expires_at) < cutoff, col(UserSession.revoked_at) < cutoff)
    )
    return affected_rows(session.execute(query))

"""How long a sign-in attempt must wait, from the failures recorded in the audit log.

A lockout would be a denial of service: five wrong passwords typed by anyone would lock
the admin out. Instead, failures for one (user name, address) pair buy a delay that
doubles with each one after a few free tries, capped; the account stays open from other
addresses. An address that fails for many names (password spraying) is slowed down as a
whole, except for accounts that have signed in from it before, so one noisy client
behind a shared proxy does not lock its neighbours out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.models import AuditLog, utcnow
from engine.settings import get_settings

KNOWN_ADDRESS_DAYS = 30


def _failures(
    session: Session, since: datetime, *conditions: sa.ColumnElement[bool]
) -> tuple[int, datetime | None]:
    """How many failed sign-ins match, and when the last one was."""
    query = select(sa.func.count(), sa.func.max(AuditLog.created_at)).where(
        AuditLog.action == "login_failed", AuditLog.created_at >= since, *conditions
    )
    count, last = session.exec(query).one()
    return int(count), last


def _delay(failures: int, free: int) -> float:
    """0 for the free tries, then 1 s, 2 s, 4 s... capped."""
    if failures < free or failures == 0:
        return 0.0
    return float(min(2 ** (failures - max(free, 1)), get_settings().login_max_delay_seconds))


def _signed_in_from(session: Session, username: str, ip: str) -> bool:
    since = utcnow() - timedelta(days=KNOWN_ADDRESS_DAYS)
    query = select(AuditLog.id).where(
        AuditLog.action == "login",
        AuditLog.actor == username,
        AuditLog.ip == ip,
        AuditLog.created_at >= since,
    )
    return session.exec(query.limit(1)).first() is not None


def _remaining(last: datetime | None, delay: float, now: datetime) -> float:
    if last is None or delay <= 0:
        return 0.0
    return max(0.0, (last + timedelta(seconds=delay) - now).total_seconds())


def wait_seconds(session: Session, username: str, ip: str) -> float:
    """Seconds before ``username`` may try again from ``ip`` (0: now)."""
    settings = get_settings()
    now = utcnow()
    since = now - timedelta(minutes=settings.login_window_minutes)
    pair_conditions = [col(AuditLog.actor) == username] + ([col(AuditLog.ip) == ip] if ip else [])
    pair, pair_last = _failures(session, since, *pair_conditions)
    wait = _remaining(pair_last, _delay(pair, settings.login_free_failures), now)
    if not ip:
        return wait
    spread, spread_last = _failures(session, since, col(AuditLog.ip) == ip)
    address_delay = _delay(spread, settings.login_address_failures)
    if address_delay and not _signed_in_from(session, username, ip):
        wait = max(wait, _remaining(spread_last, address_delay, now))
    return wait

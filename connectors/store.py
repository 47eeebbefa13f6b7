"""The supervisor's database work: leases on connections, instance configs, status.

A lease is three columns of ``platform_connection``: ``lease_owner`` (the supervisor's
unique id), ``lease_expires_at`` and ``heartbeat_at``. :func:`claim` takes and renews
leases with ONE conditional UPDATE: a row is taken only if it is active and free, ours,
or expired. On PostgreSQL the row lock makes a concurrent claimer re-check that
condition after the first commits, so two supervisors never hold the same row.
Times come from the supervisors' clocks; keep them in sync (NTP) well within a lease.

Everything here is synchronous; the supervisor runs it in a thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors.kit.connector import InstanceConfig
from engine.crypto import SecretDecryptionError
from engine.db import get_engine, primary_key, session_scope
from engine.models.base import utcnow
from engine.models.connections import (
    BotInstance,
    ConnectionStatus,
    PlatformConnection,
    PlatformConnectionLog,
)

log = logging.getLogger(__name__)
PC = PlatformConnection


@dataclass(frozen=True, order=True)
class Claimed:
    connection_id: int
    instance_id: int


@dataclass(frozen=True)
class HeldInstance:
    """A connection this supervisor holds, with what its connector needs to start."""

    connection_id: int
    config: InstanceConfig
    error: str | None = None  # the instance cannot start (credential undecryptable…)

    @property
    def instance_id(self) -> int:
        return self.config.instance_id

    @property
    def fingerprint(self) -> str:
        """Changes when anything the connector was built from changes (restart it)."""
        c = self.config
        blob = json.dumps(
            [self.connection_id, c.kind, c.credential, c.settings, c.api_base_url,
             c.webhook_secret, self.error],
            sort_keys=True, default=str,
        )  # fmt: skip
        return hashlib.sha256(blob.encode()).hexdigest()


def claim(owner: str, lease_seconds: float) -> list[Claimed]:
    """Take every active connection that is free, ours or expired; renew ours."""
    now = utcnow()
    stmt = (
        sa.update(PC)
        .where(
            col(PC.is_active),
            sa.or_(
                col(PC.lease_owner).is_(None),
                col(PC.lease_owner) == owner,
                col(PC.lease_expires_at).is_(None),
                col(PC.lease_expires_at) < now,
            ),
        )
        .values(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            heartbeat_at=now,
        )
        .returning(primary_key(PC), col(PC.bot_instance_id))
    )
    with get_engine().begin() as conn:
        rows = conn.execute(stmt).all()
    return sorted(Claimed(row[0], row[1]) for row in rows)


def release(owner: str, connection_ids: list[int] | None = None) -> None:
    """Give leases back (all of ours when ``connection_ids`` is None)."""
    stmt = sa.update(PC).where(col(PC.lease_owner) == owner)
    if connection_ids is not None:
        stmt = stmt.where(col(PC.id).in_(connection_ids))
    with get_engine().begin() as conn:
        conn.execute(stmt.values(lease_owner=None, lease_expires_at=None))


def load_held(claimed: list[Claimed]) -> list[HeldInstance]:
    """The configs of claimed connections, one query each so one bad secret spoils one."""
    held: list[HeldInstance] = []
    seen: set[int] = set()
    for item in claimed:
        if item.instance_id in seen:  # one client per instance, whatever the duplicates
            log.warning("instance %s has several active connections", item.instance_id)
            continue
        seen.add(item.instance_id)
        try:
            held.append(_load_one(item))
        except SecretDecryptionError as exc:
            config = InstanceConfig(instance_id=item.instance_id, kind="", credential=None)
            held.append(HeldInstance(item.connection_id, config, error=str(exc)))
    return held


def _load_one(item: Claimed) -> HeldInstance:
    with session_scope() as session:
        instance = session.get(BotInstance, item.instance_id)
        if instance is None:
            raise LookupError(f"bot instance {item.instance_id} is gone")
        settings = dict(instance.settings or {})
        if settings.get("mode") == "webhook" and not instance.webhook_secret:
            instance.webhook_secret = secrets.token_urlsafe(32)
            session.add(instance)
        config = InstanceConfig(
            instance_id=item.instance_id,
            kind=str(instance.kind),
            credential=instance.credential,
            settings=settings,
            api_base_url=settings.get("api_base_url"),
            webhook_secret=instance.webhook_secret,
        )
    return HeldInstance(item.connection_id, config)


def record_status(
    connection_id: int,
    owner: str,
    status: str,
    message: str = "",
    details: dict[str, Any] | None = None,
    *,
    restart_count: int | None = None,
) -> bool:
    """Store a status change and its log row, unless the lease moved to someone else."""
    details = details or {}
    with session_scope() as session:
        connection = session.get(PC, connection_id)
        if connection is None or connection.lease_owner != owner:
            return False
        now = utcnow()
        connection.status = ConnectionStatus(status)
        connection.updated_at = now
        if status == ConnectionStatus.connected:
            connection.connected_at = now
            connection.last_error = None
            _remember_identity(session, connection.bot_instance_id, details)
        elif status in (ConnectionStatus.error, ConnectionStatus.auth_required):
            connection.last_error = message
        if restart_count is not None:
            connection.restart_count = restart_count
        connection.details = {**(connection.details or {}), **details}
        session.add(connection)
        level = "error" if status in ("error", "auth_required") else "info"
        session.add(
            PlatformConnectionLog(
                connection_id=connection_id,
                level=level,
                event=f"status.{status}",
                message=message,
                details=details,
            )
        )
    return True


def _remember_identity(session: Session, instance_id: int, details: dict[str, Any]) -> None:
    """The platform's name for the bot (the webhook route strips @botname with it)."""
    instance = session.get(BotInstance, instance_id)
    if instance is None:
        return
    if details.get("username"):
        instance.platform_username = str(details["username"])
    if details.get("platform_id"):
        instance.platform_id = str(details["platform_id"])
    session.add(instance)


@dataclass(frozen=True)
class Holder:
    kind: str
    is_active: bool
    owner: str | None
    pool_url: str | None


def holder_of(instance_id: int) -> Holder | None:
    """Who runs an instance, for a helpful ``not_held`` answer."""
    with Session(get_engine()) as session:
        row = session.exec(
            select(BotInstance.kind, col(PC.is_active), col(PC.lease_owner), PC.details)
            .join(PC, col(PC.bot_instance_id) == col(BotInstance.id), isouter=True)
            .where(BotInstance.id == instance_id)
            .order_by(col(PC.is_active).desc())
        ).first()
    if row is None:
        return None
    kind, active, owner, details = row
    return Holder(str(kind), bool(active), owner, (details or {}).get("pool_url"))

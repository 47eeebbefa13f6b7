"""Connections: the bots and accounts admins connect, and the supervisor's view of them.

The Connections page, the pool API's login routes and the tests change connections only
through these functions, so the rules hold everywhere: editors change, viewers look;
credentials are validated before they are stored (encrypted, by the column type) and are
never returned, only masked; every change is audited; and once it commits,
``connections.changed`` on the bus tells the supervisor to reconcile at once instead of at
its next poll.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine import events
from engine.crypto import mask
from engine.models import (
    AdminUser,
    BotInstance,
    ConnectionStatus,
    ConnectorKind,
    PlatformConnection,
    PlatformConnectionLog,
    Role,
    utcnow,
)
from engine.services import audit
from engine.services.auth import require_role

CHANGED_TOPIC = "connections.changed"  # what connectors/supervisor.py listens on
LOG_LIMIT = 50

TELEGRAM_BOT_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
DISCORD_BOT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")
TELEGRAM_API_ID = re.compile(r"^\d{1,12}$")
TELEGRAM_API_HASH = re.compile(r"^[0-9a-fA-F]{32}$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,22}$")


class InvalidConnection(ValueError):
    """A connection change refused, with a message fit to show the admin."""


@dataclass(frozen=True)
class KindInfo:
    label: str
    credential_label: str  # "" when the admin never types a credential (login instead)
    token_pattern: re.Pattern[str] | None
    token_hint: str


KINDS: dict[ConnectorKind, KindInfo] = {
    ConnectorKind.telegram_bot: KindInfo(
        "Telegram bot",
        "Bot token",
        TELEGRAM_BOT_TOKEN,
        "A Telegram bot token looks like 123456789:AAE… (from @BotFather).",
    ),
    ConnectorKind.telegram_user: KindInfo("Telegram account", "", None, ""),
    ConnectorKind.discord_bot: KindInfo(
        "Discord bot",
        "Bot token",
        DISCORD_BOT_TOKEN,
        "A Discord bot token has three parts separated by dots "
        "(Developer Portal → Bot → Reset Token).",
    ),
    ConnectorKind.whatsapp_user: KindInfo("WhatsApp", "", None, ""),
}


@dataclass(frozen=True)
class ConnectionView:
    """What the UI may show of a connection: the credential only masked."""

    connection_id: int
    instance_id: int
    kind: str
    kind_label: str
    name: str
    credential_masked: str
    platform_username: str
    is_active: bool
    status: str
    last_error: str
    restart_count: int
    lease_owner: str
    connected_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class LogView:
    created_at: datetime
    level: str
    event: str
    message: str


# --- reading ----------------------------------------------------------------------------------


def list_connections(session: Session) -> list[ConnectionView]:
    rows = session.exec(
        select(PlatformConnection, BotInstance)
        .join(BotInstance, col(BotInstance.id) == PlatformConnection.bot_instance_id)
        .order_by(col(BotInstance.name), col(PlatformConnection.id))
    ).all()
    return [_view(connection, instance) for connection, instance in rows]


def _view(connection: PlatformConnection, instance: BotInstance) -> ConnectionView:
    kind = ConnectorKind(instance.kind)
    return ConnectionView(
        connection_id=connection.id or 0,
        instance_id=instance.id or 0,
        kind=kind.value,
        kind_label=KINDS[kind].label,
        name=instance.name,
        credential_masked=mask(instance.credential),
        platform_username=instance.platform_username or "",
        is_active=connection.is_active,
        status=ConnectionStatus(connection.status).value,
        last_error=connection.last_error or "",
        restart_count=connection.restart_count,
        lease_owner=connection.lease_owner or "",
        connected_at=connection.connected_at,
        updated_at=connection.updated_at,
    )


def recent_log(session: Session, connection_id: int, limit: int = LOG_LIMIT) -> list[LogView]:
    rows = session.exec(
        select(PlatformConnectionLog)
        .where(PlatformConnectionLog.connection_id == connection_id)
        .order_by(
            col(PlatformConnectionLog.created_at).desc(), col(PlatformConnectionLog.id).desc()
        )
        .limit(limit)
    ).all()
    return [LogView(r.created_at, r.level, r.event, r.message) for r in rows]


# --- validation -------------------------------------------------------------------------------


def parse_kind(kind: str) -> ConnectorKind:
    try:
        return ConnectorKind(kind)
    except ValueError:
        raise InvalidConnection(f"Unknown kind of connection: {kind!r}.") from None


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidConnection("Give the connection a name, e.g. 'Support bot'.")
    if len(name) > 128:
        raise InvalidConnection("The name is too long (128 characters at most).")
    return name


def validate_token(kind: ConnectorKind, token: str) -> str:
    info = KINDS[kind]
    token = token.strip()
    if info.token_pattern is None:
        raise InvalidConnection(f"A {info.label} has no token: it is linked by logging in.")
    if not info.token_pattern.match(token):
        raise InvalidConnection(info.token_hint)
    return token


def _telegram_api_settings(settings: dict[str, Any]) -> dict[str, Any]:
    api_id = str(settings.get("api_id", "")).strip()
    api_hash = str(settings.get("api_hash", "")).strip()
    if not TELEGRAM_API_ID.match(api_id):
        raise InvalidConnection("api_id is a number (my.telegram.org → API development tools).")
    if not TELEGRAM_API_HASH.match(api_hash):
        raise InvalidConnection("api_hash is 32 hexadecimal characters (my.telegram.org).")
    return {"api_id": int(api_id), "api_hash": api_hash.lower()}


def validate_phone(phone: str) -> str:
    """An international phone number, as Telegram and WhatsApp want it (+ and digits)."""
    phone = phone.strip()
    if not PHONE.match(phone):
        raise InvalidConnection("Enter the phone number with its country code, e.g. +49 151 …")
    return "+" + "".join(ch for ch in phone if ch.isdigit())


# --- changes ----------------------------------------------------------------------------------


def add_connection(
    session: Session,
    actor: AdminUser,
    kind: str,
    name: str,
    *,
    credential: str = "",
    settings: dict[str, Any] | None = None,
) -> PlatformConnection:
    """Bots start at once (their token is all they need); accounts start when logged in."""
    require_role(actor, Role.editor)
    connector = parse_kind(kind)
    instance = BotInstance(name=_clean_name(name), kind=connector)
    if KINDS[connector].token_pattern is not None:
        instance.credential = validate_token(connector, credential)
    elif connector is ConnectorKind.telegram_user:
        instance.settings = _telegram_api_settings(settings or {})
    session.add(instance)
    session.flush()
    connection = PlatformConnection(
        bot_instance_id=instance.id, is_active=instance.credential is not None
    )
    session.add(connection)
    session.flush()
    _log(session, connection, "created", f"{KINDS[connector].label} added by {actor.username}")
    _audit(session, actor, "connection_created", connection, kind=connector.value)
    return connection


def set_active(session: Session, actor: AdminUser, connection_id: int, active: bool) -> None:
    require_role(actor, Role.editor)
    connection, instance = _get(session, connection_id)
    if active and instance.kind == ConnectorKind.telegram_user and not instance.credential:
        raise InvalidConnection("Log in to the Telegram account before activating it.")
    connection.is_active = active
    connection.updated_at = utcnow()
    session.add(connection)
    verb = "activated" if active else "paused"
    _log(session, connection, verb, f"{verb} by {actor.username}")
    _audit(session, actor, f"connection_{verb}", connection)


def replace_credential(
    session: Session, actor: AdminUser, connection_id: int, credential: str
) -> None:
    """A new bot token; the supervisor restarts the client with it (its fingerprint changed)."""
    require_role(actor, Role.editor)
    connection, instance = _get(session, connection_id)
    instance.credential = validate_token(ConnectorKind(instance.kind), credential)
    instance.updated_at = utcnow()
    session.add(instance)
    connection.last_error = None
    session.add(connection)
    _log(session, connection, "credential_replaced", f"token replaced by {actor.username}")
    _audit(session, actor, "connection_credential_replaced", connection)


def delete_connection(session: Session, actor: AdminUser, connection_id: int) -> None:
    """The instance, its connections and their logs (flows that used it keep their steps)."""
    require_role(actor, Role.editor)
    connection, instance = _get(session, connection_id)
    _audit(session, actor, "connection_deleted", connection, name=instance.name)
    connection_ids = select(PlatformConnection.id).where(
        PlatformConnection.bot_instance_id == instance.id
    )
    session.exec(
        sa.delete(PlatformConnectionLog).where(
            col(PlatformConnectionLog.connection_id).in_(connection_ids)
        )
    )
    session.exec(
        sa.delete(PlatformConnection).where(PlatformConnection.bot_instance_id == instance.id)
    )
    session.delete(instance)
    session.flush()


def authorize_pool_call(
    session: Session, actor: AdminUser, connection_id: int, what: str
) -> BotInstance:
    """Role check and audit before the UI asks the supervisor to restart or log in."""
    require_role(actor, Role.editor)
    connection, instance = _get(session, connection_id)
    _audit(session, actor, f"connection_{what}", connection)
    return instance


def store_login_session(
    session: Session, instance_id: int, session_string: str, account: dict[str, Any]
) -> None:
    """A finished Telegram login (from the pool API): keep the session and go live."""
    instance = session.get(BotInstance, instance_id)
    if instance is None or instance.kind != ConnectorKind.telegram_user:
        raise InvalidConnection(f"There is no Telegram account connection {instance_id}.")
    instance.credential = session_string  # EncryptedText: encrypted on the way in
    instance.platform_username = account.get("username") or instance.platform_username
    instance.platform_id = str(account.get("id") or "") or instance.platform_id
    instance.updated_at = utcnow()
    session.add(instance)
    for connection in session.exec(
        select(PlatformConnection).where(PlatformConnection.bot_instance_id == instance_id)
    ):
        connection.is_active = True
        connection.last_error = None
        connection.updated_at = utcnow()
        session.add(connection)
        who = account.get("username") or account.get("first_name") or "the account"
        _log(session, connection, "login.succeeded", f"logged in as {who}")


def get_instance(session: Session, instance_id: int) -> BotInstance:
    instance = session.get(BotInstance, instance_id)
    if instance is None:
        raise InvalidConnection(f"There is no connection with instance {instance_id}.")
    return instance


# --- internals --------------------------------------------------------------------------------


def _get(session: Session, connection_id: int) -> tuple[PlatformConnection, BotInstance]:
    connection = session.get(PlatformConnection, connection_id)
    instance = connection and session.get(BotInstance, connection.bot_instance_id)
    if connection is None or instance is None:
        raise InvalidConnection(f"Connection {connection_id} does not exist (any more).")
    return connection, instance


def _log(session: Session, connection: PlatformConnection, event: str, message: str) -> None:
    session.add(PlatformConnectionLog(connection_id=connection.id, event=event, message=message))
    announce_after_commit(session)


def _audit(
    session: Session, actor: AdminUser, action: str, connection: PlatformConnection, **details: Any
) -> None:
    audit.record(
        session, actor.username, action, target_type="connection", target_id=connection.id,
        **details,
    )  # fmt: skip
    announce_after_commit(session)


def announce_after_commit(session: Session) -> None:
    """Publish ``connections.changed`` once the transaction commits (not before: the
    supervisor would reload the old rows), once per transaction."""
    if session.info.get("announce_connections"):
        return
    session.info["announce_connections"] = True

    def publish(_: Session) -> None:
        session.info.pop("announce_connections", None)
        events.publish(CHANGED_TOPIC, {})

    def forget(_: Session) -> None:
        session.info.pop("announce_connections", None)

    sa.event.listen(session, "after_commit", publish, once=True)
    sa.event.listen(session, "after_rollback", forget, once=True)

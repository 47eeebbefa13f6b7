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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine import events
from engine.crypto import mask
from engine.db import saved_id
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
from engine.services.errors import Conflict, NotFound

CHANGED_TOPIC = "connections.changed"  # what connectors/supervisor.py listens on
LOG_LIMIT = 50

TELEGRAM_BOT_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
DISCORD_BOT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")
TELEGRAM_API_ID = re.compile(r"^\d{1,12}$")
TELEGRAM_API_HASH = re.compile(r"^[0-9a-fA-F]{32}$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,22}$")
URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
MAX_POLL_TIMEOUT = 50  # Telegram holds a getUpdates call at most this long


class InvalidConnection(ValueError):
    """A connection change refused, with a message fit to show the admin."""


class ConnectionNotFound(InvalidConnection, NotFound):
    """The connection (or its instance) does not exist (any more)."""


class ConnectionNotReady(InvalidConnection, Conflict):
    """The connection exists but its state does not allow this now (paused, not logged in,
    no QR code waiting to be scanned)."""


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
    settings: dict[str, Any]  # secret settings (api_hash) masked like the credential
    next_retry_at: datetime | None = None  # after an error: when the supervisor tries again

    @property
    def shown_status(self) -> str:
        """What the admin sees: a paused connection is "paused", whatever was last reported."""
        return self.status if self.is_active else "paused"

    @property
    def shown_error(self) -> str:
        """The last error only while it matters (a paused connection is not failing)."""
        return self.last_error if self.is_active else ""

    @property
    def error_summary(self) -> str:
        """The shown error as a sentence an admin can act on (the raw text is the detail)."""
        return explain_error(self.kind, self.shown_error)


@dataclass(frozen=True)
class LogView:
    created_at: datetime
    level: str
    event: str
    message: str
    log_id: int = 0

    @property
    def label(self) -> str:
        """What happened, in words: ``status.error`` is an internal name."""
        return event_label(self.event)


@dataclass(frozen=True)
class HealthView:
    """Whether the connection runs as wanted, from what its supervisor last recorded."""

    connection_id: int
    healthy: bool
    status: str
    reason: str
    lease_owner: str
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    connected_at: datetime | None
    restart_count: int
    errors_last_hour: int


@dataclass(frozen=True)
class QrView:
    """The QR code a WhatsApp connection waits to have scanned (they rotate every ~20 s)."""

    code: str
    png_data_url: str
    reported_at: datetime


# --- reading ----------------------------------------------------------------------------------


def _joined() -> Any:
    return select(PlatformConnection, BotInstance).join(
        BotInstance, col(BotInstance.id) == PlatformConnection.bot_instance_id
    )


def list_connections(session: Session) -> list[ConnectionView]:
    """Every connection by name (the Connections page)."""
    rows = session.exec(_joined().order_by(col(BotInstance.name), col(PlatformConnection.id))).all()
    return [_view(connection, instance) for connection, instance in rows]


def connection_page(
    session: Session,
    limit: int,
    *,
    before: int | None = None,
    kind: str | None = None,
    active: bool | None = None,
) -> list[ConnectionView]:
    """Newest first, ids below ``before`` (keyset paging for the REST API), filtered."""
    query = _joined()
    if before is not None:
        query = query.where(col(PlatformConnection.id) < before)
    if kind is not None:
        query = query.where(BotInstance.kind == parse_kind(kind))
    if active is not None:
        query = query.where(PlatformConnection.is_active == active)
    rows = session.exec(query.order_by(col(PlatformConnection.id).desc()).limit(limit)).all()
    return [_view(connection, instance) for connection, instance in rows]


# --- errors in plain words -------------------------------------------------------------------

PLATFORMS = {
    ConnectorKind.telegram_bot: "Telegram",
    ConnectorKind.telegram_user: "Telegram",
    ConnectorKind.discord_bot: "Discord",
    ConnectorKind.whatsapp_user: "WhatsApp",
}
_UNREACHABLE = "Can't reach {platform}: check the server's internet access{or_server_url}."
ERROR_EXPLANATIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), sentence)
    for pattern, sentence in (
        (r"certificate|\bssl(error|certverification)", "The secure connection to {platform} "
         "failed its certificate check: check the server's clock{and_server_url}."),
        (r"refused the (bot )?token|rejected the bot token|not a telegram bot token|"
         r"unauthorized|\b401\b", "{platform} refused the token: paste a fresh one "
         "(More actions → Replace token)."),
        (r"session is no longer valid|refused the session|auth_key",
         "{platform} ended this login: log in again (More actions → Log in again)."),
        (r"terminated by other getupdates|\bconflict\b", "Another program is reading this "
         "bot's updates (only one may): stop it, or give this bot its own token."),
        (r"too many requests|\b429\b|flood|rate.?limit",
         "{platform} asks Flowbot to slow down: it waits as asked and tries again."),
        (r"dns|name resolution|name or service not known|nodename|cannot connect|connect call "
         r"failed|connection ?refused|connectorerror|timed? ?out|timeouterror|network is "
         r"unreachable|no route to host|server disconnected|connection reset", _UNREACHABLE),
        (r"\b50[0-4]\b|bad gateway|service unavailable|internal server error",
         "{platform} had a server error: Flowbot tries again on its own."),
        (r"webhook mode needs a webhook secret", "Webhook mode needs a webhook secret: set "
         "one, or switch the bot to polling."),
    )
)  # fmt: skip
"""Common failures, first match wins; anything else is named as the client's own error."""


def explain_error(kind: ConnectorKind | str, raw: str) -> str:
    """One plain sentence for a connection error (UI and API); "" when there is none."""
    raw = raw.strip()
    if not raw:
        return ""
    kind = ConnectorKind(kind)
    platform = PLATFORMS[kind]
    has_url = "api_base_url" in SETTINGS[kind]  # a server of the admin's choosing
    for pattern, sentence in ERROR_EXPLANATIONS:
        if pattern.search(raw):
            return sentence.format(
                platform=platform,
                or_server_url=" or the API server URL" if has_url else "",
                and_server_url=" and the API server URL" if has_url else "",
            )
    return f"The {platform} client stopped with an error; Flowbot restarts it (see Details)."


RESTARTS_EXPLAINED = (
    "How often the client was started again since the connector process took it over: after "
    "a failure (with a growing wait), a settings or token change, or Restart."
)

EVENT_LABELS = {
    "created": "Added",
    "activated": "Activated",
    "paused": "Paused",
    "updated": "Settings changed",
    "credential_replaced": "Token replaced",
    "login.succeeded": "Logged in",
    "status.connecting": "Connecting",
    "status.connected": "Connected",
    "status.stopped": "Stopped",
    "status.error": "Failed",
    "status.auth_required": "Login or token needed",
}


def event_label(event: str) -> str:
    """A log event's name in words (an unknown one is readable enough as it is)."""
    return EVENT_LABELS.get(event, event.removeprefix("status.").replace("_", " ").capitalize())


def _next_retry(connection: PlatformConnection) -> datetime | None:
    """The supervisor's backoff after a failure: the error's report time + ``retry_in``."""
    retry_in = (connection.details or {}).get("retry_in")
    if connection.status != ConnectionStatus.error or not connection.is_active or not retry_in:
        return None
    return connection.updated_at + timedelta(seconds=float(retry_in))


def get_connection(session: Session, connection_id: int) -> ConnectionView:
    return _view(*_get(session, connection_id))


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
        settings={
            key: mask(str(value)) if key in SECRET_SETTINGS else value
            for key, value in (instance.settings or {}).items()
            if key in SETTINGS[kind]
        },
        next_retry_at=_next_retry(connection),
    )


def recent_log(
    session: Session, connection_id: int, limit: int = LOG_LIMIT, *, before: int | None = None
) -> list[LogView]:
    """Newest first (by id: the order rows were written, whatever the writers' clocks)."""
    query = select(PlatformConnectionLog).where(
        PlatformConnectionLog.connection_id == connection_id
    )
    if before is not None:
        query = query.where(col(PlatformConnectionLog.id) < before)
    rows = session.exec(query.order_by(col(PlatformConnectionLog.id).desc()).limit(limit)).all()
    return [LogView(r.created_at, r.level, r.event, r.message, r.id or 0) for r in rows]


def health(session: Session, connection_id: int) -> HealthView:
    """Healthy: active, connected, and held by a supervisor whose lease has not run out."""
    connection, _ = _get(session, connection_id)
    now = utcnow()
    held = connection.lease_owner is not None and (
        connection.lease_expires_at is not None and connection.lease_expires_at > now
    )
    status = ConnectionStatus(connection.status).value
    if not connection.is_active:
        reason = "paused"
    elif not held:
        reason = "no connector supervisor runs it (none started, or its lease ran out)"
    elif status != ConnectionStatus.connected:
        reason = connection.last_error or f"the client is {status}"
    else:
        reason = ""
    errors = session.exec(
        select(sa.func.count())
        .select_from(PlatformConnectionLog)
        .where(
            PlatformConnectionLog.connection_id == connection_id,
            PlatformConnectionLog.level == "error",
            col(PlatformConnectionLog.created_at) >= now - timedelta(hours=1),
        )
    ).one()
    return HealthView(
        connection_id=connection_id,
        healthy=not reason,
        status=status if connection.is_active else "paused",
        reason=reason,
        lease_owner=(connection.lease_owner or "") if held else "",
        lease_expires_at=connection.lease_expires_at if held else None,
        heartbeat_at=connection.heartbeat_at,
        connected_at=connection.connected_at,
        restart_count=connection.restart_count,
        errors_last_hour=int(errors),
    )


def current_qr(session: Session, actor: AdminUser, connection_id: int) -> QrView:
    """The QR code of the supervisor's latest report, if that report asks for a scan.

    Editors only: scanning it links a phone's WhatsApp account to this connection."""
    require_role(actor, Role.editor)
    connection, instance = _get(session, connection_id)
    _require_kind(instance, ConnectorKind.whatsapp_user)
    latest = session.exec(
        select(PlatformConnectionLog)
        .where(
            PlatformConnectionLog.connection_id == connection_id,
            col(PlatformConnectionLog.event).startswith("status."),
        )
        .order_by(col(PlatformConnectionLog.id).desc())
        .limit(1)
    ).first()
    details = (latest.details or {}) if latest is not None else {}
    if not connection.is_active or latest is None or not details.get("qr"):
        raise ConnectionNotReady(
            "No QR code is waiting to be scanned: activate the connection and wait a few "
            "seconds (a linked connection shows none)."
        )
    return QrView(str(details["qr"]), str(details.get("qr_png_data_url", "")), latest.created_at)


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


def _url(value: Any) -> str:
    url = str(value).strip()
    if not URL.match(url):
        raise InvalidConnection(f"{url!r} is not an http(s) address, e.g. http://127.0.0.1:8081.")
    return url.rstrip("/")


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if str(value) not in options:
            raise InvalidConnection(f"{value!r} is not one of: {', '.join(options)}.")
        return str(value)

    return check


def _seconds(value: Any) -> int:
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise InvalidConnection(f"{value!r} is not a whole number of seconds.")
    if not 1 <= int(value) <= MAX_POLL_TIMEOUT:
        raise InvalidConnection(f"The poll timeout is 1 to {MAX_POLL_TIMEOUT} seconds.")
    return int(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidConnection(f"{value!r} is not true or false.")
    return value


def _text(value: Any) -> str:
    return str(value).strip()


SETTINGS: dict[ConnectorKind, dict[str, Callable[[Any], Any]]] = {
    ConnectorKind.telegram_bot: {
        "api_base_url": _url,  # a local Bot API server
        "mode": _choice("polling", "webhook"),
        "poll_timeout": _seconds,
        "webhook_base_url": _url,
    },
    ConnectorKind.discord_bot: {"api_base_url": _url, "privileged_intents": _flag},
    ConnectorKind.telegram_user: {"api_id": _text, "api_hash": _text},  # checked together
    ConnectorKind.whatsapp_user: {},
}
"""The settings an admin may change, per kind, each with its check (others stay as stored)."""
SECRET_SETTINGS = frozenset({"api_hash"})


def clean_settings(
    kind: ConnectorKind, current: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    """``current`` with ``changes`` applied and checked; a null or empty value unsets."""
    allowed = SETTINGS[kind]
    merged = dict(current)
    for key, value in changes.items():
        if value is None or value == "":  # unset (a no-op for what cannot be set)
            if key in allowed:
                merged.pop(key, None)
            continue
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise InvalidConnection(
                f"A {KINDS[kind].label} has no setting {key!r} (settings: {known})."
            )
        merged[key] = allowed[key](value)
    if kind is ConnectorKind.telegram_user:
        merged.update(_telegram_api_settings(merged))
    return merged


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
    instance.settings = clean_settings(connector, {}, settings or {})
    session.add(instance)
    session.flush()
    connection = PlatformConnection(
        bot_instance_id=saved_id(instance), is_active=instance.credential is not None
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
        raise ConnectionNotReady("Log in to the Telegram account before activating it.")
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


def update_connection(
    session: Session,
    actor: AdminUser,
    connection_id: int,
    *,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
) -> None:
    """Rename and change settings; a settings change restarts the client (new fingerprint)."""
    require_role(actor, Role.editor)
    connection, instance = _get(session, connection_id)
    if name is not None:
        instance.name = _clean_name(name)
    if settings:
        kind = ConnectorKind(instance.kind)
        instance.settings = clean_settings(kind, instance.settings or {}, settings)
    instance.updated_at = utcnow()
    session.add(instance)
    changed = sorted(settings or {}) + (["name"] if name is not None else [])
    _log(session, connection, "updated", f"{', '.join(changed)} changed by {actor.username}")
    _audit(session, actor, "connection_updated", connection, changed=changed)


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
        sa.delete(PlatformConnection).where(col(PlatformConnection.bot_instance_id) == instance.id)
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


def authorize_restart(session: Session, actor: AdminUser, connection_id: int) -> int:
    """The instance id to restart; a paused connection has no client to restart."""
    instance = authorize_pool_call(session, actor, connection_id, "restart")
    _require_running(session, connection_id)
    return instance.id or 0


TELEGRAM_LOGIN_STEPS = {"send_code": "phone", "submit_code": "code", "submit_password": "password"}
"""Each step of a Telegram account login and the one field the pool route takes."""


def authorize_telegram_login(
    session: Session, actor: AdminUser, connection_id: int, step: str, value: str
) -> tuple[int, dict[str, str]]:
    """The instance id and the pool's request body for one login step, once checked."""
    field = TELEGRAM_LOGIN_STEPS.get(step)
    if field is None:
        raise InvalidConnection(f"Unknown login step {step!r}.")
    if field == "phone":
        value = validate_phone(value)
    elif field == "code":
        value = value.strip()
    if not value:
        raise InvalidConnection(f"Enter the {field}.")
    instance = authorize_pool_call(session, actor, connection_id, "login")
    _require_kind(instance, ConnectorKind.telegram_user)
    return instance.id or 0, {field: value}


def authorize_whatsapp_pairing(
    session: Session, actor: AdminUser, connection_id: int, phone: str
) -> tuple[int, str]:
    """The instance id and the phone to pair; only a running connector can pair."""
    phone = validate_phone(phone)
    instance = authorize_pool_call(session, actor, connection_id, "pairing")
    _require_kind(instance, ConnectorKind.whatsapp_user)
    _require_running(session, connection_id)
    return instance.id or 0, phone


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
        raise ConnectionNotFound(f"There is no connection with instance {instance_id}.")
    return instance


# --- internals --------------------------------------------------------------------------------


def _get(session: Session, connection_id: int) -> tuple[PlatformConnection, BotInstance]:
    connection = session.get(PlatformConnection, connection_id)
    instance = session.get(BotInstance, connection.bot_instance_id) if connection else None
    if connection is None or instance is None:
        raise ConnectionNotFound(f"Connection {connection_id} does not exist (any more).")
    return connection, instance


def _require_kind(instance: BotInstance, kind: ConnectorKind) -> None:
    if instance.kind != kind:
        label = KINDS[ConnectorKind(instance.kind)].label
        raise InvalidConnection(f"This is a {label}, not a {KINDS[kind].label}.")


def _require_running(session: Session, connection_id: int) -> None:
    connection, _ = _get(session, connection_id)
    if not connection.is_active:
        raise ConnectionNotReady("The connection is paused: activate it first.")


def _log(session: Session, connection: PlatformConnection, event: str, message: str) -> None:
    session.add(
        PlatformConnectionLog(connection_id=saved_id(connection), event=event, message=message)
    )
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

"""Connections: the bots and accounts Flowbot runs, their logs and health, and the logins
(Telegram account code and 2FA steps, WhatsApp QR code or pairing code).

Every rule is engine/services/connections.py's (the Connections page calls the same
functions); a credential goes in and never comes out, only its last characters masked.
Restarts and login steps are carried out by the connector supervisor through its pool API.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine import pool_client
from engine.action_errors import ActionError, ErrorKind
from engine.api.v1 import paging
from engine.api.v1.caller import Caller, Editor, Viewer, run
from engine.api.v1.errors import ApiError
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser, ConnectorKind
from engine.services import connections
from engine.services.connections import ConnectionView

router = APIRouter(prefix="/connections", tags=["Connections"])
ConnectionId = Annotated[int, Path(description="The connection's id.")]
PNG_DATA_URL = "data:image/png;base64,"

Settings = dict[str, Any]
SETTINGS_DESCRIPTION = (
    "Per kind. Telegram bot: `api_base_url` (a local Bot API server), `mode` "
    "(`polling`/`webhook`), `poll_timeout`, `webhook_base_url`. Discord bot: `api_base_url`, "
    "`privileged_intents`. Telegram account: `api_id`, `api_hash` (from my.telegram.org). "
    "WhatsApp: none. A null value unsets."
)


class ConnectionOut(BaseModel):
    """A connection as shown: the credential only masked, `status` "paused" when paused."""

    id: int
    instance_id: int = Field(description="The bot instance flows address.")
    kind: ConnectorKind
    kind_label: str = Field(examples=["Telegram bot"])
    name: str = Field(examples=["Support bot"])
    credential_masked: str = Field(
        description="The last characters of the token or session, or empty.",
        examples=["••••••••x9Zq"],
    )
    platform_username: str = Field(examples=["support_bot"])
    active: bool = Field(description="Whether it should run (the supervisor starts it).")
    status: str = Field(
        description="paused, stopped, connecting, connected, auth_required or error.",
        examples=["connected"],
    )
    last_error: str = Field(description="The raw error the client last reported (the detail).")
    error_summary: str = Field(
        description="`last_error` as a sentence to act on; empty when there is no error.",
        examples=[
            "Can't reach Telegram: check the server's internet access or the API server URL."
        ],
    )
    next_retry_at: datetime | None = Field(
        description="After an error: when the supervisor starts the client again."
    )
    restart_count: int = Field(description=connections.RESTARTS_EXPLAINED)
    settings: Settings = Field(
        description="The settings (`api_hash` masked).",
        examples=[{"api_base_url": "http://127.0.0.1:8081", "mode": "polling"}],
    )
    connected_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, view: ConnectionView) -> ConnectionOut:
        return cls(
            id=view.connection_id,
            instance_id=view.instance_id,
            kind=ConnectorKind(view.kind),
            kind_label=view.kind_label,
            name=view.name,
            credential_masked=view.credential_masked,
            platform_username=view.platform_username,
            active=view.is_active,
            status=view.shown_status,
            last_error=view.shown_error,
            error_summary=view.error_summary,
            next_retry_at=view.next_retry_at,
            restart_count=view.restart_count,
            settings=view.settings,
            connected_at=view.connected_at,
            updated_at=view.updated_at,
        )


class ConnectionCreate(BaseModel):
    kind: ConnectorKind = Field(examples=["telegram_bot"])
    name: str = Field(min_length=1, max_length=128, examples=["Support bot"])
    credential: str = Field(
        default="",
        max_length=512,
        description="The bot token (bots only; accounts log in instead). Never returned.",
        examples=["123456789:AAE" + "x" * 32],
    )
    settings: Settings = Field(default_factory=dict, description=SETTINGS_DESCRIPTION)


class ConnectionUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    settings: Settings | None = Field(
        default=None,
        description="Only the keys to change. " + SETTINGS_DESCRIPTION,
        examples=[{"api_base_url": "http://127.0.0.1:8081"}],
    )
    credential: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="A new bot token; the client restarts with it. Never returned.",
    )


class LogOut(BaseModel):
    id: int
    created_at: datetime
    level: str = Field(examples=["info"])
    event: str = Field(examples=["status.connected"])
    label: str = Field(description="`event` in words.", examples=["Connected"])
    message: str


class HealthOut(BaseModel):
    """Healthy: active, connected, and run by a supervisor whose lease is current."""

    healthy: bool
    status: str = Field(examples=["connected"])
    reason: str = Field(description="Why it is not healthy; empty when it is.")
    supervisor: str = Field(description="The supervisor (host:pid) running it, if any.")
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    connected_at: datetime | None
    restart_count: int
    errors_last_hour: int


class Restarting(BaseModel):
    restarting: int = Field(description="The instance id the supervisor restarts.")


class PhoneIn(BaseModel):
    phone: str = Field(
        min_length=1, max_length=32, description="With country code.", examples=["+49 151 2345678"]
    )


class CodeIn(BaseModel):
    code: str = Field(min_length=1, max_length=16, examples=["12345"])


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=256, description="The 2FA cloud password.")


class LoginStep(BaseModel):
    """Where the Telegram login is: code sent, password needed, or done."""

    step: Literal["code_sent", "password_required", "done"]
    delivery: str | None = Field(default=None, examples=["sms"])
    hint: str | None = Field(default=None, description="The 2FA password hint.")
    user: dict[str, str | None] | None = Field(
        default=None, examples=[{"id": "123456789", "username": "ada_l", "first_name": "Ada"}]
    )


class QrOut(BaseModel):
    """The code to scan in WhatsApp → Linked devices (rotates every ~20 s)."""

    qr: str = Field(description="The QR code's text.")
    png_data_url: str = Field(description="The same code as a PNG data URL.")
    reported_at: datetime


class PairingCode(BaseModel):
    pair_code: str = Field(
        description="Enter in WhatsApp → Linked devices → Link with phone number.",
        examples=["ABCD-EFGH"],
    )


# --- reading ----------------------------------------------------------------------------------


@router.get("", response_model=paging.Page[ConnectionOut], summary="List connections")
async def list_connections(
    caller: Viewer,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
    kind: Annotated[ConnectorKind | None, Query(description="Only this kind.")] = None,
    active: Annotated[bool | None, Query(description="Only active or paused ones.")] = None,
) -> paging.Page[ConnectionOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[ConnectionOut]:
        views = connections.connection_page(
            session, limit + 1, before=before, kind=kind, active=active
        )
        rows, after = paging.page_of(views, limit, lambda v: v.connection_id)
        return paging.Page(items=[ConnectionOut.of(v) for v in rows], next_cursor=after)

    return await run(caller, action)


@router.get("/{connection_id}", response_model=ConnectionOut, summary="Get a connection")
async def get_connection(connection_id: ConnectionId, caller: Viewer) -> ConnectionOut:
    return await run(caller, lambda s, _: _shown(s, connection_id))


@router.get(
    "/{connection_id}/logs",
    response_model=paging.Page[LogOut],
    summary="A connection's log (status changes, edits, logins), newest first",
)
async def connection_logs(
    connection_id: ConnectionId,
    caller: Viewer,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[LogOut]:
    before = paging.decode(cursor)

    def action(session: Session, _: AdminUser) -> paging.Page[LogOut]:
        connections.get_connection(session, connection_id)  # 404 rather than an empty page
        found = connections.recent_log(session, connection_id, limit + 1, before=before)
        rows, after = paging.page_of(found, limit, lambda r: r.log_id)
        items = [
            LogOut(id=r.log_id, created_at=r.created_at, level=r.level, event=r.event,
                   label=r.label, message=r.message)
            for r in rows
        ]  # fmt: skip
        return paging.Page(items=items, next_cursor=after)

    return await run(caller, action)


@router.get(
    "/{connection_id}/health", response_model=HealthOut, summary="Whether a connection runs"
)
async def connection_health(connection_id: ConnectionId, caller: Viewer) -> HealthOut:
    def action(session: Session, _: AdminUser) -> HealthOut:
        found = connections.health(session, connection_id)
        return HealthOut(
            healthy=found.healthy,
            status=found.status,
            reason=found.reason,
            supervisor=found.lease_owner,
            lease_expires_at=found.lease_expires_at,
            heartbeat_at=found.heartbeat_at,
            connected_at=found.connected_at,
            restart_count=found.restart_count,
            errors_last_hour=found.errors_last_hour,
        )

    return await run(caller, action)


# --- changes ----------------------------------------------------------------------------------


def _shown(session: Session, connection_id: int) -> ConnectionOut:
    """The connection as it is now, in the change's own transaction (its answer)."""
    return ConnectionOut.of(connections.get_connection(session, connection_id))


async def _changed(
    caller: Caller, connection_id: int, change: Callable[[Session, AdminUser], object]
) -> ConnectionOut:
    """Make the change and answer the connection as it is after it, in one transaction."""

    def action(session: Session, me: AdminUser) -> ConnectionOut:
        change(session, me)
        return _shown(session, connection_id)

    return await run(caller, action)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ConnectionOut,
    summary="Add a connection (bots start at once; accounts after their login)",
)
async def create_connection(
    body: ConnectionCreate, caller: Editor, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, Any]:
        made = connections.add_connection(
            session, me, body.kind.value, body.name, credential=body.credential,
            settings=body.settings,
        )  # fmt: skip
        return _shown(session, made.id or 0).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, Any]]:
        return 201, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)


@router.patch(
    "/{connection_id}",
    response_model=ConnectionOut,
    summary="Rename, change settings or replace the bot token",
)
async def update_connection(
    connection_id: ConnectionId, body: ConnectionUpdate, caller: Editor
) -> ConnectionOut:
    def change(session: Session, me: AdminUser) -> None:
        if body.name is not None or body.settings:
            connections.update_connection(
                session, me, connection_id, name=body.name, settings=body.settings
            )
        if body.credential is not None:
            connections.replace_credential(session, me, connection_id, body.credential)

    return await _changed(caller, connection_id, change)


async def _set_active(caller: Caller, connection_id: int, active: bool) -> ConnectionOut:
    return await _changed(
        caller, connection_id, lambda s, me: connections.set_active(s, me, connection_id, active)
    )


@router.post(
    "/{connection_id}/activate", response_model=ConnectionOut, summary="Activate a connection"
)
async def activate_connection(connection_id: ConnectionId, caller: Editor) -> ConnectionOut:
    return await _set_active(caller, connection_id, True)


@router.post("/{connection_id}/pause", response_model=ConnectionOut, summary="Pause a connection")
async def pause_connection(connection_id: ConnectionId, caller: Editor) -> ConnectionOut:
    return await _set_active(caller, connection_id, False)


@router.delete(
    "/{connection_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a connection"
)
async def delete_connection(connection_id: ConnectionId, caller: Editor) -> None:
    await run(caller, lambda s, me: connections.delete_connection(s, me, connection_id))


# --- through the connector supervisor ---------------------------------------------------------

_POOL_STATUS = {
    ErrorKind.validation: 422,
    ErrorKind.unknown_action: 422,
    ErrorKind.platform: 422,
    ErrorKind.rate_limited: 429,
}


async def _pool(call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """The supervisor's answer; its refusal as the matching API error (down or not running
    this instance: 503, so the caller retries)."""
    try:
        return await call
    except ActionError as exc:
        code = _POOL_STATUS.get(exc.kind, 503)
        retry = exc.retry_after if exc.retry_after is not None else 5
        headers = {"Retry-After": str(max(1, round(retry)))} if code in (429, 503) else None
        details = {"kind": exc.kind.value}
        raise ApiError(code, exc.message, details=details, headers=headers) from None


@router.post(
    "/{connection_id}/restart",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Restarting,
    summary="Restart a connection's client",
)
async def restart_connection(connection_id: ConnectionId, caller: Editor) -> Restarting:
    instance_id = await run(
        caller, lambda s, me: connections.authorize_restart(s, me, connection_id)
    )
    await _pool(pool_client.restart_instance(instance_id))
    return Restarting(restarting=instance_id)


async def _telegram_step(caller: Caller, connection_id: int, step: str, value: str) -> LoginStep:
    instance_id, body = await run(
        caller,
        lambda s, me: connections.authorize_telegram_login(s, me, connection_id, step, value),
    )
    return LoginStep.model_validate(
        await _pool(pool_client.telegram_login(instance_id, step, body))
    )


@router.post(
    "/{connection_id}/login/telegram/send-code",
    response_model=LoginStep,
    summary="Telegram account login, step 1: send a code to the phone",
)
async def telegram_send_code(
    connection_id: ConnectionId, body: PhoneIn, caller: Editor
) -> LoginStep:
    return await _telegram_step(caller, connection_id, "send_code", body.phone)


@router.post(
    "/{connection_id}/login/telegram/code",
    response_model=LoginStep,
    summary="Telegram account login, step 2: the code Telegram sent",
)
async def telegram_submit_code(
    connection_id: ConnectionId, body: CodeIn, caller: Editor
) -> LoginStep:
    return await _telegram_step(caller, connection_id, "submit_code", body.code)


@router.post(
    "/{connection_id}/login/telegram/password",
    response_model=LoginStep,
    summary="Telegram account login, step 3: the two-step verification password",
)
async def telegram_submit_password(
    connection_id: ConnectionId, body: PasswordIn, caller: Editor
) -> LoginStep:
    return await _telegram_step(caller, connection_id, "submit_password", body.password)


async def _qr(caller: Caller, connection_id: int) -> QrOut:
    found = await run(caller, lambda s, me: connections.current_qr(s, me, connection_id))
    return QrOut(qr=found.code, png_data_url=found.png_data_url, reported_at=found.reported_at)


@router.get(
    "/{connection_id}/login/whatsapp/qr",
    response_model=QrOut,
    summary="WhatsApp login: the QR code to scan now (text and PNG data URL)",
)
async def whatsapp_qr(connection_id: ConnectionId, caller: Editor) -> QrOut:
    return await _qr(caller, connection_id)


@router.get(
    "/{connection_id}/login/whatsapp/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The QR code as a PNG."}},
    summary="WhatsApp login: the QR code to scan now, as a PNG image",
)
async def whatsapp_qr_png(connection_id: ConnectionId, caller: Editor) -> Response:
    found = await _qr(caller, connection_id)
    if not found.png_data_url.startswith(PNG_DATA_URL):
        raise ApiError(409, "The supervisor reported this QR code without an image.")
    png = base64.b64decode(found.png_data_url.removeprefix(PNG_DATA_URL))
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post(
    "/{connection_id}/login/whatsapp/pairing-code",
    response_model=PairingCode,
    summary="WhatsApp login without a camera: a pairing code for this phone number",
)
async def whatsapp_pairing_code(
    connection_id: ConnectionId, body: PhoneIn, caller: Editor
) -> PairingCode:
    instance_id, phone = await run(
        caller,
        lambda s, me: connections.authorize_whatsapp_pairing(s, me, connection_id, body.phone),
    )
    return PairingCode.model_validate(await _pool(pool_client.whatsapp_pair(instance_id, phone)))

"""The Connections page's state: the list, its dialogs, and the two login wizards.

Every change goes through engine/services/connections.py as the signed-in user (viewers
are refused there, whatever the UI shows). Live status comes from the event bus: a
background task per open page listens on ``connection*`` (the supervisor's
``connection.<id>`` reports and ``connections.changed``), reloads the list, and feeds the
WhatsApp wizard its rotating QR codes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import reflex as rx
from pydantic import BaseModel
from sqlmodel import Session

from engine import events, pool_client
from engine.action_errors import ActionError
from engine.db import session_scope
from engine.models import AdminUser
from engine.services import auth, connections
from engine.services.connections import InvalidConnection
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.service_calls import Action, run_as_signed_in

T = TypeVar("T")
ROUTE = "/connections"
WATCH_SECONDS = 3600
"""A page left open stops listening after an hour (reloading it listens again)."""
WATCH_POLL_SECONDS = 15
TOKEN_KINDS = {k.value for k, info in connections.KINDS.items() if info.token_pattern}


class ConnectionRow(BaseModel):
    id: int
    instance_id: int
    kind: str
    kind_label: str
    name: str
    masked: str
    username: str
    active: bool
    status: str  # what the supervisor last reported; "paused" when not active
    last_error: str  # the raw detail, behind "Details"
    error_summary: str  # the sentence shown
    next_retry: str  # "" unless the supervisor waits to try again
    restarts: int
    lease_owner: str
    connected_since: str
    has_token: bool
    api_base_url: str  # "" when the client talks to the platform's own API


class LogRow(BaseModel):
    when: str
    level: str
    event: str  # in words
    message: str


def _when(value: datetime | None, *, seconds: bool = False) -> str:
    fmt = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return value.strftime(fmt) if value else ""


def _row(view: connections.ConnectionView) -> ConnectionRow:
    return ConnectionRow(
        id=view.connection_id,
        instance_id=view.instance_id,
        kind=view.kind,
        kind_label=view.kind_label,
        name=view.name,
        masked=view.credential_masked,
        username=view.platform_username,
        active=view.is_active,
        status=view.shown_status,
        last_error=view.shown_error,
        error_summary=view.error_summary,
        next_retry=_when(view.next_retry_at, seconds=True),
        restarts=view.restart_count,
        lease_owner=view.lease_owner,
        connected_since=_when(view.connected_at) if view.status == "connected" else "",
        has_token=view.kind in TOKEN_KINDS,
        api_base_url=str(view.settings.get("api_base_url", "")),
    )


class ConnectionsState(AuthState):
    rows: list[ConnectionRow] = []
    loaded: bool = False
    message: str = ""
    dialog_error: str = ""
    busy: bool = False

    add_open: bool = False
    add_kind: str = "telegram_bot"
    token_for: int = 0
    settings_for: int = 0
    settings_url: str = ""
    delete_for: int = 0
    log_for: int = 0
    dialog_name: str = ""
    log_rows: list[LogRow] = []

    tg_for: int = 0
    tg_step: str = "phone"  # phone → code → password → done
    tg_hint: str = ""
    tg_account: str = ""

    wa_for: int = 0
    wa_status: str = ""
    wa_message: str = ""
    wa_qr: str = ""
    wa_pair_code: str = ""

    _watching: int = 0

    # -- loading and live updates ----------------------------------------------------------

    @rx.event
    def load(self):  # type: ignore[no-untyped-def]
        self.message = self.error = ""
        self._reload()
        return ConnectionsState.watch

    def _reload(self) -> None:
        with session_scope() as session:
            self.rows = [_row(view) for view in connections.list_connections(session)]
        self.loaded = True

    @rx.event(background=True)
    async def watch(self) -> None:
        """Follow the bus while this page is open; the newest watcher replaces older ones."""
        async with self:
            self._watching += 1
            mine = self._watching
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WATCH_SECONDS
        async with events.subscribe("connection*") as subscription:
            await subscription.started()
            while loop.time() < deadline:
                event = await events.next_within(subscription, WATCH_POLL_SECONDS)
                async with self:
                    if self._watching != mine or self.current_path != ROUTE:
                        return
                    if event is not None:
                        if self._resolve() is None:  # signed out (or revoked) meanwhile
                            return
                        self._follow(event)

    def _follow(self, event: events.BusEvent) -> None:
        if self.wa_for and event.topic == f"connection.{self.wa_for}":
            payload = event.payload
            details = payload.get("details") or {}
            self.wa_status = str(payload.get("status", ""))
            self.wa_message = str(payload.get("message", ""))
            if details.get("qr_png_data_url"):
                self.wa_qr, self.wa_pair_code = details["qr_png_data_url"], ""
            if details.get("pair_code"):
                self.wa_pair_code = str(details["pair_code"])
        self._reload()

    # -- running a change as the signed-in user --------------------------------------------

    def _run(self, action: Action, success: str = "", *, in_dialog: bool = False) -> bool:
        return run_as_signed_in(
            self, action, (auth.AuthError, InvalidConnection), success, in_dialog=in_dialog
        )

    def _authorize(self, check: Callable[[Session, AdminUser], T]) -> T | None:
        """What the supervisor is to be asked, once the service checked and audited it."""
        found: list[T] = []
        ok = self._run(
            lambda s, me: found.append(check(s, me)), in_dialog=bool(self.tg_for or self.wa_for)
        )
        return found[0] if ok else None

    def _close_all(self) -> None:
        self.add_open = False
        self.token_for = self.delete_for = self.log_for = self.tg_for = self.wa_for = 0
        self.settings_for = 0
        self.dialog_error = self.wa_qr = self.wa_pair_code = self.wa_status = ""
        self.busy = False

    def _open(self, connection_id: int) -> None:
        self._close_all()
        self.dialog_name = next((r.name for r in self.rows if r.id == connection_id), "")

    @rx.event
    def on_dialog_change(self, open_: bool) -> None:
        """Closing a dialog; an unlinked WhatsApp wizard pauses its connection (no QR churn)."""
        if open_:
            return
        if self.wa_for and self.wa_status != "connected":
            wa_for = self.wa_for
            self._run(lambda s, me: connections.set_active(s, me, wa_for, False))
        self._close_all()

    # -- the list's actions ----------------------------------------------------------------

    @rx.event
    def set_active(self, connection_id: int, active: bool) -> None:
        verb = "Activated" if active else "Paused"
        self._run(lambda s, me: connections.set_active(s, me, connection_id, active), f"{verb}.")

    @rx.event
    async def restart(self, connection_id: int) -> None:
        instance_id = self._authorize(
            lambda s, me: connections.authorize_restart(s, me, connection_id)
        )
        if instance_id is None:
            return
        try:
            await pool_client.restart_instance(instance_id)
        except ActionError as exc:
            self.error, self.message = exc.message, ""
            return
        self.error, self.message = "", "Restarting."

    @rx.event
    def open_add(self) -> None:
        self._close_all()
        self.add_open = True

    @rx.event
    def pick_kind(self, kind: str) -> None:
        self.add_kind, self.dialog_error = kind, ""

    @rx.event
    def add_connection(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        kind = self.add_kind
        created: list[int] = []

        def action(session: Session, me: AdminUser) -> None:
            connection = connections.add_connection(
                session,
                me,
                kind,
                form.get("name", ""),
                credential=form.get("token", ""),
                settings={key: form.get(key) for key in ("api_id", "api_hash", "api_base_url")},
            )
            created.append(connection.id or 0)

        if not self._run(action, f"Added {form.get('name', '').strip()}.", in_dialog=True):
            return None
        self.add_open = False
        if kind == "telegram_user":
            return ConnectionsState.open_telegram_login(created[0])
        if kind == "whatsapp_user":
            return ConnectionsState.open_whatsapp(created[0])
        return None

    @rx.event
    def open_token(self, connection_id: int) -> None:
        self._open(connection_id)
        self.token_for = connection_id

    @rx.event
    def replace_token(self, form: dict[str, Any]) -> None:
        connection_id = self.token_for
        if self._run(
            lambda s, me: connections.replace_credential(
                s, me, connection_id, form.get("token", "")
            ),
            "Token replaced; the client restarts with it.",
            in_dialog=True,
        ):
            self._close_all()

    @rx.event
    def open_settings(self, connection_id: int) -> None:
        self._open(connection_id)
        self.settings_for = connection_id
        self.settings_url = next((r.api_base_url for r in self.rows if r.id == connection_id), "")

    @rx.event
    def save_settings(self, form: dict[str, Any]) -> None:
        """An empty API server URL unsets it (back to the platform's own API)."""
        connection_id = self.settings_for
        changes = {"api_base_url": str(form.get("api_base_url", "")).strip() or None}
        if self._run(
            lambda s, me: connections.update_connection(s, me, connection_id, settings=changes),
            "Settings saved; the client restarts with them.",
            in_dialog=True,
        ):
            self._close_all()

    @rx.event
    def open_delete(self, connection_id: int) -> None:
        self._open(connection_id)
        self.delete_for = connection_id

    @rx.event
    def confirm_delete(self) -> None:
        connection_id, name = self.delete_for, self.dialog_name
        self._close_all()
        self._run(
            lambda s, me: connections.delete_connection(s, me, connection_id), f"Deleted {name}."
        )

    @rx.event
    def open_log(self, connection_id: int) -> None:
        self._open(connection_id)
        self.log_for = connection_id
        with session_scope() as session:
            self.log_rows = [
                LogRow(when=_when(r.created_at), level=r.level, event=r.label, message=r.message)
                for r in connections.recent_log(session, connection_id)
            ]

    # -- Telegram account login: phone → code → 2FA password -------------------------------

    @rx.event
    def open_telegram_login(self, connection_id: int) -> None:
        self._open(connection_id)
        self.tg_for, self.tg_step, self.tg_hint, self.tg_account = connection_id, "phone", "", ""

    async def _telegram_step(self, step: str, value: str) -> None:
        connection_id = self.tg_for
        checked = self._authorize(
            lambda s, me: connections.authorize_telegram_login(s, me, connection_id, step, value)
        )
        if checked is None:
            return
        instance_id, body = checked
        try:
            result = await pool_client.telegram_login(instance_id, step, body)
        except ActionError as exc:
            self.dialog_error = exc.message
            return
        self.dialog_error = ""
        if result.get("step") == "password_required":
            self.tg_step, self.tg_hint = "password", str(result.get("hint") or "")
        elif result.get("step") == "done":
            user = result.get("user") or {}
            self.tg_step = "done"
            self.tg_account = f"@{user['username']}" if user.get("username") else "your account"
            self._reload()
        else:
            self.tg_step = "code"

    @rx.event
    async def telegram_send_code(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        self.busy = True
        yield
        await self._telegram_step("send_code", str(form.get("phone", "")))
        self.busy = False

    @rx.event
    async def telegram_submit_code(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        self.busy = True
        yield
        await self._telegram_step("submit_code", str(form.get("code", "")))
        self.busy = False

    @rx.event
    async def telegram_submit_password(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        self.busy = True
        yield
        await self._telegram_step("submit_password", str(form.get("password", "")))
        self.busy = False

    # -- WhatsApp: QR codes from the bus, or a pairing code ---------------------------------

    @rx.event
    def open_whatsapp(self, connection_id: int) -> None:
        """Activating the connection starts the connector, which reports QR codes."""
        self._open(connection_id)
        if self._run(
            lambda s, me: connections.set_active(s, me, connection_id, True), in_dialog=True
        ):
            self.wa_for, self.wa_status = connection_id, "connecting"
            self.wa_message = "Starting the WhatsApp client…"
        else:
            self.error, self.dialog_error = self.dialog_error, ""

    @rx.event
    async def whatsapp_pair(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        connection_id, typed = self.wa_for, str(form.get("phone", ""))
        checked = self._authorize(
            lambda s, me: connections.authorize_whatsapp_pairing(s, me, connection_id, typed)
        )
        if checked is None:
            return
        instance_id, phone = checked
        self.busy = True
        yield
        try:
            result = await pool_client.whatsapp_pair(instance_id, phone)
        except ActionError as exc:
            self.dialog_error = exc.message
        else:
            self.dialog_error, self.wa_pair_code = "", str(result.get("pair_code", ""))
        self.busy = False

"""The Webhooks page's state: the list, the create dialog, and the secret shown once.

Every change goes through engine/services/webhooks.py as the signed-in user (viewers are
refused there, whatever the UI shows). A new signing secret lives in this state only until
its dialog closes; the database keeps it encrypted and the list never carries it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import reflex as rx
from pydantic import BaseModel

from engine.db import session_scope
from engine.services import auth, webhooks
from engine.services.webhooks import InvalidWebhook
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.service_calls import Action, run_as_signed_in


class WebhookRow(BaseModel):
    id: int
    name: str
    flow_id: int
    flow_name: str
    node_id: str  # the Webhook trigger node that owns it; "" if made on this page
    node_removed: bool
    url: str
    curl: str
    has_secret: bool
    active: bool
    wait: bool
    timeout: int
    calls: int
    last_call: str


class FlowChoice(BaseModel):
    id: str  # a select's value is a string
    name: str


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def _row(view: webhooks.WebhookView) -> WebhookRow:
    return WebhookRow(
        id=view.webhook_id,
        name=view.name,
        flow_id=view.flow_id,
        flow_name=view.flow_name,
        node_id=view.node_id or "",
        node_removed=view.node_removed_at is not None,
        url=view.url,
        curl=webhooks.curl_example(view.url, signed=view.has_secret),
        has_secret=view.has_secret,
        active=view.is_active,
        wait=view.wait_for_result,
        timeout=view.wait_timeout_seconds,
        calls=view.call_count,
        last_call=_when(view.last_called_at),
    )


class WebhooksState(AuthState):
    rows: list[WebhookRow] = []
    flows: list[FlowChoice] = []
    loaded: bool = False
    message: str = ""
    dialog_error: str = ""

    create_open: bool = False
    create_flow: str = ""
    delete_for: int = 0
    dialog_name: str = ""
    secret_for: int = 0
    secret: str = ""  # the new signing secret, until its dialog closes

    @rx.event
    def load(self) -> None:
        self.message = self.error = ""
        self._close_all()
        self._reload()

    def _reload(self) -> None:
        with session_scope() as session:
            self.rows = [_row(view) for view in webhooks.list_webhooks(session)]
            self.flows = [
                FlowChoice(id=str(flow_id), name=name)
                for flow_id, name in webhooks.flow_choices(session)
            ]
        self.loaded = True

    def _run(self, action: Action, success: str = "", *, in_dialog: bool = False) -> bool:
        return run_as_signed_in(
            self, action, (auth.AuthError, InvalidWebhook), success, in_dialog=in_dialog
        )

    def _close_all(self) -> None:
        self.create_open = False
        self.delete_for = self.secret_for = 0
        self.dialog_error = self.secret = self.create_flow = ""

    def _name_of(self, webhook_id: int) -> str:
        return next((r.name for r in self.rows if r.id == webhook_id), "")

    @rx.event
    def on_dialog_change(self, open_: bool) -> None:
        if not open_:
            self._close_all()

    # -- create ----------------------------------------------------------------------------

    @rx.event
    def open_create(self) -> None:
        self._close_all()
        self.create_open = True

    @rx.event
    def pick_flow(self, flow_id: str) -> None:
        self.create_flow, self.dialog_error = flow_id, ""

    @rx.event
    def create(self, form: dict[str, Any]) -> None:
        name = str(form.get("name", ""))
        flow_id = int(self.create_flow) if self.create_flow.isdigit() else None
        if self._run(
            lambda s, me: webhooks.create_webhook(s, me, name, flow_id),
            f"Created {name.strip()}: its URL is ready to use.",
            in_dialog=True,
        ):
            self._close_all()

    # -- the list's actions ----------------------------------------------------------------

    @rx.event
    def set_active(self, webhook_id: int, active: bool) -> None:
        verb = "Activated" if active else "Paused: its URL answers 404 until activated"
        self._run(lambda s, me: webhooks.set_active(s, me, webhook_id, active), f"{verb}.")

    @rx.event
    def set_wait(self, webhook_id: int, wait: bool) -> None:
        timeout = next((r.timeout for r in self.rows if r.id == webhook_id), 10)
        self._run(lambda s, me: webhooks.set_wait(s, me, webhook_id, wait, timeout))

    @rx.event
    def set_timeout(self, webhook_id: int, value: str) -> None:
        row = next((r for r in self.rows if r.id == webhook_id), None)
        if row is None or value.strip() == str(row.timeout):
            return
        try:
            seconds = int(value)
        except ValueError:
            self.error, self.message = "The wait timeout is a whole number of seconds.", ""
            return
        self._run(
            lambda s, me: webhooks.set_wait(s, me, webhook_id, row.wait, seconds),
            f"Waits up to {seconds} s for the result.",
        )

    @rx.event
    def rotate(self, webhook_id: int) -> None:
        self._run(
            lambda s, me: webhooks.rotate_token(s, me, webhook_id),
            f"New URL for {self._name_of(webhook_id)}: the old one now answers 404.",
        )

    @rx.event
    def new_secret(self, webhook_id: int) -> None:
        found: list[str] = []
        if self._run(lambda s, me: found.append(webhooks.new_secret(s, me, webhook_id))):
            self._close_all()
            self.secret_for, self.secret = webhook_id, found[0]
            self.dialog_name = self._name_of(webhook_id)

    @rx.event
    def clear_secret(self, webhook_id: int) -> None:
        self._run(
            lambda s, me: webhooks.clear_secret(s, me, webhook_id),
            "Signing secret removed: unsigned calls are accepted.",
        )

    @rx.event
    def open_delete(self, webhook_id: int) -> None:
        self._close_all()
        self.delete_for, self.dialog_name = webhook_id, self._name_of(webhook_id)

    @rx.event
    def confirm_delete(self) -> None:
        webhook_id, name = self.delete_for, self.dialog_name
        self._close_all()
        self._run(lambda s, me: webhooks.delete_webhook(s, me, webhook_id), f"Deleted {name}.")

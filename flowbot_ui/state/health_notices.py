"""Settings → Health notifications: where the health check tells admins that something
went down or came back (engine/services/health_settings.py decides who may, and what is
valid; this only carries the form and the pickers)."""

from __future__ import annotations

import reflex as rx
from pydantic import BaseModel
from sqlmodel import Session

from engine.db import session_scope
from engine.models import AdminUser
from engine.services import auth, health_settings, node_pickers
from engine.services.health_settings import Channel
from flowbot_ui.state.auth import AuthState

REFUSALS = (auth.AuthError, ValueError, LookupError)


class PickRow(BaseModel):
    value: str
    label: str


class HealthNoticeState(AuthState):
    kind: str = "none"  # none | chat | webhook
    instance_id: str = ""
    chat_id: str = ""
    url: str = ""
    connections: list[PickRow] = []
    chats: list[PickRow] = []
    message: str = ""

    @rx.event
    def load(self) -> None:
        self.message, self.error = "", ""
        try:
            with session_scope() as session:
                me = self._current_user(session)
                channel = health_settings.get_channel(session, me)
                self.connections = _picks(session, me, "connection", None)
                self._show(channel)
                self.chats = _picks(session, me, "chat", channel.instance_id if channel else None)
        except REFUSALS:
            self.connections, self.chats = [], []  # not an admin: the card is not shown

    def _show(self, channel: Channel | None) -> None:
        self.kind = channel.kind if channel else "none"
        self.instance_id = str(channel.instance_id or "") if channel else ""
        self.chat_id = channel.chat_id if channel else ""
        self.url = channel.url if channel else ""

    @rx.event
    def choose_kind(self, kind: str) -> None:
        self.kind = kind if kind in ("none", "chat", "webhook") else "none"

    @rx.event
    def pick_connection(self, value: str) -> None:
        self.instance_id, self.chat_id = value, ""
        try:
            with session_scope() as session:
                me = self._current_user(session)
                self.chats = _picks(session, me, "chat", int(value) if value.isdigit() else None)
        except REFUSALS as exc:
            self.error = str(exc)

    @rx.event
    def pick_chat(self, value: str) -> None:
        self.chat_id = value

    @rx.event
    def edit_url(self, value: str) -> None:
        self.url = value

    @rx.event
    def save(self) -> None:
        channel = None
        if self.kind == "chat":
            instance = int(self.instance_id) if self.instance_id.isdigit() else None
            channel = Channel("chat", instance_id=instance, chat_id=self.chat_id)
        elif self.kind == "webhook":
            channel = Channel("webhook", url=self.url)
        try:
            with session_scope() as session:
                saved = health_settings.set_channel(session, self._current_user(session), channel)
        except REFUSALS as exc:
            self.error, self.message = str(exc), ""
            return
        self._show(saved)
        self.error = ""
        self.message = (
            "Saved: notices go here from the next check." if saved else "Saved: no notices."
        )

    @rx.event
    async def send_test(self) -> None:
        try:
            with session_scope() as session:
                me = self._current_user(session)
            await health_settings.send_test(me)
        except (*REFUSALS, health_settings.NoticeFailed) as exc:
            self.error, self.message = f"Not sent: {exc}", ""
            return
        self.error, self.message = "", "Test notification sent."


def _picks(session: Session, me: AdminUser, what: str, instance_id: int | None) -> list[PickRow]:
    scope = node_pickers.Scope(instance_id=instance_id)
    if what == "chat" and instance_id is None:
        return []
    return [
        PickRow(value=c.value, label=f"{c.label} · {c.detail}")
        for c in node_pickers.choices(session, me, what, scope)
    ]

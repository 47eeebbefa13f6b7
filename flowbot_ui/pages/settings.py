"""Settings: your password, the people who may sign in, REST API tokens, and (admins)
where health notices go."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import reflex as rx
from pydantic import BaseModel
from sqlmodel import Session, select

from engine.db import session_scope
from engine.models import AdminUser, ApiToken, Role
from engine.services import auth, sessions
from flowbot_ui.components.cards import feedback
from flowbot_ui.components.forms import field
from flowbot_ui.components.layout import page_header, shell
from flowbot_ui.components.table import data_table
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.health_notices import HealthNoticeState

ROLES = [r.value for r in Role]
T = TypeVar("T")
Action = Callable[[Session, AdminUser], Any]


class UserRow(BaseModel):
    id: int
    username: str
    role: str
    last_login: str


class TokenRow(BaseModel):
    id: int
    name: str
    prefix: str
    role: str
    last_used: str
    revoked: bool


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


class SettingsState(AuthState):
    users: list[UserRow] = []
    tokens: list[TokenRow] = []
    message: str = ""
    new_token: str = ""

    @rx.event
    def load(self) -> None:
        self.message = ""
        self.new_token = ""
        self._reload()

    def _reload(self) -> None:
        with session_scope() as session:
            me = self._current_user(session)
            people = select(AdminUser).order_by(AdminUser.username)
            if me.role != Role.admin:  # only admins manage (and list) people
                people = people.where(AdminUser.id == me.id)
            self.users = [
                UserRow(
                    id=u.id or 0,
                    username=u.username,
                    role=str(u.role),
                    last_login=_when(u.last_login_at),
                )
                for u in session.exec(people)
            ]
            self.tokens = [
                TokenRow(
                    id=t.id or 0,
                    name=t.name,
                    prefix=t.prefix,
                    role=str(t.role),
                    last_used=_when(t.last_used_at),
                    revoked=t.revoked_at is not None,
                )
                for t in session.exec(
                    select(ApiToken).where(ApiToken.admin_id == me.id).order_by(ApiToken.id)
                )
            ]

    def _run(self, action: Action, success: str) -> None:
        """Run a service call as the signed-in user; its refusal becomes the message shown."""
        try:
            with session_scope() as session:
                action(session, self._current_user(session))
        except (auth.AuthError, ValueError, LookupError) as exc:
            self.error, self.message = str(exc), ""
            return
        self.error, self.message = "", success
        self._reload()

    @rx.event
    def add_user(self, form: dict[str, str]) -> None:
        self._run(
            lambda s, me: auth.create_user(
                s,
                str(form.get("username", "")),
                str(form.get("password", "")),
                Role(form.get("role") or "viewer"),
                actor=me,
            ),
            f"Added {form.get('username')}.",
        )

    @rx.event
    def change_role(self, user_id: int, role: str) -> None:
        self._run(
            lambda s, me: auth.set_role(s, me, _found(s.get(AdminUser, user_id)), Role(role)),
            "Role changed.",
        )

    @rx.event
    def change_password(self, form: dict[str, str]) -> None:
        self._run(
            lambda s, me: auth.change_password(
                s,
                me,
                str(form.get("current", "")),
                str(form.get("new", "")),
                keep_session=self.session_token,
            ),
            "Password changed; your other sessions were signed out.",
        )

    @rx.event
    def sign_out_others(self) -> None:
        self._run(
            lambda s, me: sessions.revoke_all(s, me, keep_token=self.session_token),
            "Your other sessions have ended.",
        )

    @rx.event
    def add_token(self, form: dict[str, str]) -> None:
        def action(session: Session, me: AdminUser) -> None:
            self.new_token = auth.create_api_token(
                session, me, str(form.get("name", "")), Role(form.get("role") or "editor")
            ).plaintext

        self._run(action, "Token created: copy it now, it is not shown again.")

    @rx.event
    def revoke_token(self, token_id: int) -> None:
        self._run(
            lambda s, me: auth.revoke_api_token(s, me, _found(s.get(ApiToken, token_id))),
            "Token revoked.",
        )


def _found(row: T | None) -> T:
    if row is None:
        raise LookupError("It no longer exists; reload the page.")
    return row


def _users_card() -> rx.Component:
    row = lambda u: rx.table.row(  # noqa: E731
        rx.table.cell(u.username),
        rx.table.cell(
            rx.select(
                ROLES,
                value=u.role,
                disabled=~SettingsState.is_admin,
                size="1",
                on_change=lambda role: SettingsState.change_role(u.id, role),
            )
        ),
        rx.table.cell(u.last_login),
    )
    return rx.card(
        rx.vstack(
            rx.heading("People", size="4"),
            rx.text(
                "Viewers can look; editors change flows and communities; admins also "
                "manage people.",
                size="2",
                color=rx.color("gray", 11),
            ),
            data_table(["User", "Role", "Last sign-in"], SettingsState.users, row),
            rx.cond(
                SettingsState.is_admin,
                rx.form(
                    rx.hstack(
                        field("User name", "username"),
                        field(
                            "Password", "password", type="password", auto_complete="new-password"
                        ),
                        rx.select(ROLES, name="role", default_value="viewer"),
                        rx.button("Add person", type="submit"),
                        align="end",
                        width="100%",
                    ),
                    on_submit=SettingsState.add_user,
                    reset_on_submit=True,
                ),
            ),
            spacing="3",
        ),
        width="100%",
    )


def _tokens_card() -> rx.Component:
    row = lambda t: rx.table.row(  # noqa: E731
        rx.table.cell(t.name),
        rx.table.cell(rx.code(t.prefix + "…")),
        rx.table.cell(t.role),
        rx.table.cell(t.last_used),
        rx.table.cell(
            rx.cond(
                t.revoked,
                rx.badge("revoked", color_scheme="gray"),
                rx.button(
                    "Revoke",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=SettingsState.revoke_token(t.id),
                ),
            )
        ),
    )
    return rx.card(
        rx.vstack(
            rx.heading("API tokens", size="4"),
            rx.text(
                "For the REST API: send as 'Authorization: Bearer <token>'. ",
                # Served by the API itself, not a UI page: a plain link, in a new tab.
                rx.link("API reference", href="/api/docs", is_external=True),
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.cond(
                SettingsState.new_token != "",
                rx.code_block(SettingsState.new_token, data_testid="new-token"),
            ),
            data_table(["Name", "Token", "Role", "Last used", ""], SettingsState.tokens, row),
            rx.form(
                rx.hstack(
                    field("Token name", "name", placeholder="CI deploys"),
                    rx.select(ROLES, name="role", default_value="editor"),
                    rx.button("Create token", type="submit", disabled=~SettingsState.can_edit),
                    align="end",
                    width="100%",
                ),
                on_submit=SettingsState.add_token,
                reset_on_submit=True,
            ),
            spacing="3",
        ),
        width="100%",
    )


def _password_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Your password and sessions", size="4"),
            rx.form(
                rx.hstack(
                    field(
                        "Current password",
                        "current",
                        type="password",
                        auto_complete="current-password",
                    ),
                    field("New password", "new", type="password", auto_complete="new-password"),
                    rx.button("Change password", type="submit"),
                    align="end",
                    width="100%",
                ),
                on_submit=SettingsState.change_password,
                reset_on_submit=True,
            ),
            rx.hstack(
                rx.text(
                    "Signed in on a shared or lost computer? End every session but this one.",
                    size="2",
                    color=rx.color("gray", 11),
                ),
                rx.button(
                    "End my other sessions",
                    variant="soft",
                    on_click=SettingsState.sign_out_others,
                    data_testid="sign-out-others",
                ),
                align="center",
                spacing="3",
            ),
            spacing="3",
        ),
        width="100%",
    )


def _health_card() -> rx.Component:
    """Admins only: the service refuses anyone else, and the card is not shown to them."""
    H = HealthNoticeState
    pick = lambda rows: rx.foreach(  # noqa: E731
        rows, lambda p: rx.select.item(p.label, value=p.value)
    )
    return rx.card(
        rx.vstack(
            rx.heading("Health notifications", size="4"),
            rx.text(
                "When the health check finds something down (a connection, Redis, the "
                "workers...) and when it comes back, it says so once, here.",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.radio_group(
                ["none", "chat", "webhook"],
                value=H.kind,
                on_change=H.choose_kind,
                direction="row",
                data_testid="health-kind",
            ),
            rx.cond(
                H.kind == "chat",
                rx.hstack(
                    rx.select.root(
                        rx.select.trigger(
                            placeholder="Connection that sends", data_testid="health-connection"
                        ),
                        rx.select.content(pick(H.connections)),
                        value=H.instance_id,
                        on_change=H.pick_connection,
                    ),
                    rx.select.root(
                        rx.select.trigger(placeholder="Chat it knows", data_testid="health-chat"),
                        rx.select.content(pick(H.chats)),
                        value=H.chat_id,
                        on_change=H.pick_chat,
                    ),
                    rx.input(
                        value=H.chat_id,
                        on_change=H.pick_chat,
                        placeholder="or the chat id",
                        data_testid="health-chat-id",
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
            ),
            rx.cond(
                H.kind == "webhook",
                rx.input(
                    value=H.url,
                    on_change=H.edit_url,
                    placeholder="https://hooks.example.com/flowbot",
                    width="100%",
                    data_testid="health-url",
                ),
            ),
            rx.hstack(
                rx.button("Save", on_click=H.save, data_testid="health-save"),
                rx.button(
                    "Send test notification",
                    variant="soft",
                    on_click=H.send_test,
                    disabled=H.kind == "none",
                    data_testid="health-test",
                ),
                spacing="2",
            ),
            feedback(H),
            spacing="3",
        ),
        width="100%",
        on_mount=H.load,
        data_testid="health-card",
    )


def settings_page() -> rx.Component:
    return shell(
        page_header("Settings", "Your account, the people who may sign in, and API tokens."),
        rx.vstack(
            feedback(SettingsState),
            _password_card(),
            _users_card(),
            _tokens_card(),
            rx.cond(SettingsState.is_admin, _health_card()),
            spacing="4",
            width="100%",
        ),
    )

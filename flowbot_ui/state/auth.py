"""Sign-in state: the session cookie, the current user, and the page guard."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx
from sqlmodel import Session

from engine.db import session_scope
from engine.models import AdminUser, Role, utcnow
from engine.services import auth
from engine.settings import get_settings

PUBLIC_ROUTES = ("/login", "/setup")


class AuthState(rx.State):
    """Holds who is signed in; every protected page runs :meth:`guard` on load."""

    session_token: str = rx.Cookie(
        "",
        name="flowbot_session",
        same_site="strict",
        max_age=get_settings().session_ttl_hours * 3600,
    )
    user_id: int = 0
    username: str = ""
    role: str = ""
    error: str = ""

    @rx.var
    def signed_in(self) -> bool:
        return self.user_id > 0

    @rx.var
    def can_edit(self) -> bool:
        return bool(self.role) and Role(self.role).allows(Role.editor)

    @rx.var
    def is_admin(self) -> bool:
        return self.role == Role.admin.value

    @property
    def current_path(self) -> str:
        """The page's path without the trailing slash a direct visit may add."""
        return self.router.url.path.rstrip("/") or "/"

    def current_user(self, session) -> AdminUser:  # type: ignore[no-untyped-def]
        """The signed-in account, re-read from the database (roles may have changed)."""
        user = auth.user_for_session_token(session, self.session_token)
        if user is None:
            raise auth.PermissionDenied("Your session has ended; sign in again.")
        return user

    def _forget(self) -> None:
        self.session_token = ""
        self.user_id = 0
        self.username = ""
        self.role = ""

    @rx.event
    def guard(self):  # type: ignore[no-untyped-def]
        """On load of every protected page: first run → setup; no session → login."""
        with session_scope() as session:
            if not auth.has_any_admin(session):
                return rx.redirect("/setup")
            user = auth.user_for_session_token(session, self.session_token)
            if user is None:
                self._forget()
                return rx.redirect("/login")
            self.user_id, self.username, self.role = user.id, user.username, str(user.role)
        return None

    @rx.event
    def guard_public(self):  # type: ignore[no-untyped-def]
        """On load of /login and /setup: send people where they belong."""
        self.error = ""
        with session_scope() as session:
            first_run = not auth.has_any_admin(session)
            signed_in = auth.user_for_session_token(session, self.session_token) is not None
        path = self.current_path
        if first_run and path != "/setup":
            return rx.redirect("/setup")
        if not first_run and path == "/setup":
            return rx.redirect("/login")
        if signed_in:
            return rx.redirect("/")
        return None

    def _sign_in_as(self, find_user: Callable[[Session], AdminUser]):  # type: ignore[no-untyped-def]
        """Issue a session for the account ``find_user`` returns, or show why not."""
        try:
            with session_scope() as session:
                user = find_user(session)
                user.last_login_at = utcnow()
                self.session_token = auth.issue_session_token(user)
        except auth.AuthError as exc:
            self.error = str(exc)
            return None
        self.error = ""
        return rx.redirect("/")

    @rx.event
    def login(self, form: dict):  # type: ignore[no-untyped-def]
        return self._sign_in_as(
            lambda session: auth.authenticate(
                session,
                form.get("username", ""),
                form.get("password", ""),
                ip=self.router.session.client_ip,
            )
        )

    @rx.event
    def create_first_admin(self, form: dict):  # type: ignore[no-untyped-def]
        if form.get("password") != form.get("confirm"):
            self.error = "The two passwords differ."
            return None
        return self._sign_in_as(
            lambda session: auth.create_user(
                session,
                form.get("username", ""),
                form.get("password", ""),
                Role.admin,
                actor=None,
            )
        )

    @rx.event
    def logout(self):  # type: ignore[no-untyped-def]
        self._forget()
        return rx.redirect("/login")

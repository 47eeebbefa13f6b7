"""Who is signed in: resolved from the HttpOnly session cookie on the server, at every call.

The browser cannot set any of this. The session cookie is set by the sign-in route
(engine/api/session_routes.py) with ``HttpOnly``, so page script never sees it; the
websocket carries it in its handshake headers, which the server records. Identity lives
in backend-only vars (``_``-prefixed: never sent to, nor settable by, the client) and is
re-read from the database by :meth:`AuthState.current_user` on each call, which applies
the one role check (``require_role``). :mod:`flowbot_ui.state.session_guard` runs it
before every event of a protected state, so a handler is never reached logged out.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

import reflex as rx
from sqlmodel import Session

from engine.db import session_scope
from engine.models import AdminUser, Role
from engine.services import auth, sessions

PUBLIC_ROUTES = ("/login", "/setup")

# What the sign-in routes' ``?error=`` codes mean (a code, never text, travels in the URL).
SIGN_IN_ERRORS = {
    "invalid": "Wrong user name or password.",
    "throttled": "Too many failed sign-ins from here. Wait {wait} seconds, then try again.",
    "origin": "That form was sent from another site; sign in from this page.",
    "mismatch": "The two passwords differ.",
    "username": "User name: 3 to 64 letters, digits or . _ @ - (no spaces).",
    "password": f"Password: at least {auth.MIN_PASSWORD_LENGTH} characters.",
    "ended": "Your session has ended; sign in again.",
}


def session_cookie(cookie_header: str) -> str:
    """The session token in a Cookie header ('' when absent or unparsable)."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header or "")
    except CookieError:
        return ""
    morsel = jar.get(sessions.COOKIE_NAME)
    return morsel.value if morsel is not None else ""


class AuthState(rx.State):
    """Holds who is signed in; every protected page runs :meth:`guard` on load."""

    _user_id: int = 0
    _username: str = ""
    _role: str = ""
    error: str = ""

    @rx.var
    def username(self) -> str:
        return self._username

    @rx.var
    def role(self) -> str:
        return self._role

    @rx.var
    def signed_in(self) -> bool:
        return self._user_id > 0

    @rx.var
    def can_edit(self) -> bool:
        return bool(self._role) and Role(self._role).allows(Role.editor)

    @rx.var
    def is_admin(self) -> bool:
        return self._role == Role.admin.value

    @property
    def current_path(self) -> str:
        """The page's path without the trailing slash a direct visit may add."""
        return self.router.url.path.rstrip("/") or "/"

    @property
    def session_token(self) -> str:
        """The cookie this connection's browser sent in the websocket handshake."""
        return session_cookie(self.router.headers.cookie)

    def _current_user(self, session: Session, needed: Role = Role.viewer) -> AdminUser:
        """The signed-in account, re-read now, holding at least ``needed``; else refused."""
        user = sessions.user_for_token(session, self.session_token)
        if user is None:
            self._forget()
            raise auth.PermissionDenied(SIGN_IN_ERRORS["ended"])
        auth.require_role(user, needed)
        self._remember(user)
        return user

    def _remember(self, user: AdminUser) -> None:
        if (self._user_id, self._username, self._role) != (
            user.id,
            user.username,
            str(user.role),
        ):
            self._user_id, self._username, self._role = user.id or 0, user.username, str(user.role)

    def _forget(self) -> None:
        if self._user_id:
            self._user_id, self._username, self._role = 0, "", ""

    def _resolve(self) -> AdminUser | None:
        """The signed-in account for this call, or None (then nothing private is shown)."""
        with session_scope() as session:
            try:
                return self._current_user(session)
            except auth.PermissionDenied:
                return None

    @rx.event
    def guard(self):  # type: ignore[no-untyped-def]
        """On load of every protected page: first run → setup; no session → login."""
        with session_scope() as session:
            if not auth.has_any_admin(session):
                return rx.redirect("/setup")
        if self._resolve() is None:
            return rx.redirect("/login")
        return None

    @rx.event
    def guard_public(self):  # type: ignore[no-untyped-def]
        """On load of /login and /setup: send people where they belong; show why they are here."""
        params = self.router.page.params
        wait = str(params.get("wait", ""))
        self.error = SIGN_IN_ERRORS.get(str(params.get("error", "")), "").format(
            wait=wait if wait.isdigit() and len(wait) < 6 else "a few"
        )
        with session_scope() as session:
            first_run = not auth.has_any_admin(session)
        path = self.current_path
        if first_run and path != "/setup":
            return rx.redirect("/setup")
        if not first_run and path == "/setup":
            return rx.redirect("/login")
        if self._resolve() is not None:
            return rx.redirect("/")
        return None

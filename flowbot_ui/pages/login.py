"""Sign-in and first-run pages.

Both are plain HTML form posts to the server's /auth routes (not websocket events): only
an HTTP response can set the HttpOnly session cookie. Errors come back as a code in the
URL, which :meth:`AuthState.guard_public` turns into a message.
"""

from __future__ import annotations

import reflex as rx

from engine.services.auth import MIN_PASSWORD_LENGTH
from flowbot_ui.components.forms import error_callout, field, post_form
from flowbot_ui.components.layout import auth_card
from flowbot_ui.state.auth import AuthState


def login_page() -> rx.Component:
    return auth_card(
        "Sign in",
        "Manage your communities and automation flows.",
        post_form(
            rx.vstack(
                field("User name", "username", auto_complete="username"),
                field("Password", "password", type="password", auto_complete="current-password"),
                error_callout(AuthState.error),
                rx.button("Sign in", type="submit", size="3", width="100%"),
                spacing="4",
                width="100%",
            ),
            action="/auth/login",
        ),
    )


def setup_page() -> rx.Component:
    return auth_card(
        "Welcome: create the first admin",
        "This account manages everything else, including who else may sign in.",
        post_form(
            rx.vstack(
                field("User name", "username", auto_complete="username"),
                field(
                    f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
                    "password",
                    type="password",
                    auto_complete="new-password",
                ),
                field(
                    "Repeat the password", "confirm", type="password", auto_complete="new-password"
                ),
                error_callout(AuthState.error),
                rx.button("Create admin and sign in", type="submit", size="3", width="100%"),
                spacing="4",
                width="100%",
            ),
            action="/auth/setup",
        ),
    )

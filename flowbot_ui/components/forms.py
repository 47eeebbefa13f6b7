"""Form pieces shared by every page, so fields and errors look and behave alike."""

from __future__ import annotations

import reflex as rx


def field(
    label: str, name: str, *, type: str = "text", placeholder: str = "", auto_complete: str = "off"
) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label", html_for=name),
        rx.input(
            name=name,
            id=name,
            type=type,
            placeholder=placeholder,
            auto_complete=auto_complete,
            required=True,
            width="100%",
            size="3",
        ),
        spacing="1",
        width="100%",
    )


def error_callout(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(
            message,
            icon="triangle-alert",
            color_scheme="red",
            role="alert",
            width="100%",
            data_testid="form-error",
        ),
    )

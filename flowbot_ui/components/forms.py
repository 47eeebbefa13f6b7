"""Form pieces shared by every page, so fields and errors look and behave alike."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.components.component import field as prop
from reflex_base.vars import Var
from reflex_components_core.el.elements.base import BaseHTML


class PostForm(BaseHTML):
    """A plain HTML form the browser itself submits to a server route.

    Reflex's forms always prevent the browser's submission and send an event instead;
    signing in and out must be real HTTP requests, so their responses can set and clear
    the HttpOnly session cookie.
    """

    tag = "form"
    action: Var[str] = prop(doc="The server route the form is posted to")
    method: Var[str] = prop(doc="Always post")


def post_form(
    *children: rx.Component, action: str, width: str = "100%", **props: object
) -> rx.Component:
    return PostForm.create(*children, action=action, method="post", width=width, **props)


def field(
    label: str,
    name: str,
    *,
    type: str = "text",
    placeholder: str = "",
    auto_complete: str = "off",
    required: bool = True,
    **input_props: Any,
) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label", html_for=name),
        rx.input(
            name=name,
            id=name,
            type=type,
            placeholder=placeholder,
            auto_complete=auto_complete,
            required=required,
            width="100%",
            size="3",
            **input_props,
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

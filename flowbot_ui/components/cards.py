"""Pieces of the card-list pages (connections, webhooks, communities): one look, one behaviour."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from flowbot_ui.components.forms import error_callout


def muted(text: rx.Var | str, **props: Any) -> rx.Component:
    return rx.text(text, size="2", color=rx.color("gray", 11), **props)


def card_icon(icon: rx.Component) -> rx.Component:
    """The tinted square that opens every card of a card-list page."""
    return rx.center(
        icon,
        width="40px",
        height="40px",
        border_radius="10px",
        background=rx.color("accent", 3),
        color=rx.color("accent", 11),
        flex_shrink="0",
    )


def fact(label: str, value: rx.Component) -> rx.Component:
    """One labelled line of a card."""
    return rx.data_list.item(
        rx.data_list.label(label, min_width="120px"), rx.data_list.value(value)
    )


def feedback(state: Any) -> rx.Component:
    """The page's last refusal or confirmation."""
    return rx.vstack(
        error_callout(state.error),
        rx.cond(
            state.message != "",
            rx.callout(
                state.message, icon="check", color_scheme="green", data_testid="form-message"
            ),
        ),
        width="100%",
    )


def card_grid(
    state: Any, render: Callable[[Any], rx.Component], empty: rx.Component
) -> rx.Component:
    """The state's rows as cards, or ``empty`` once loaded and there are none."""
    return rx.cond(
        state.rows.length() > 0,
        rx.grid(
            rx.foreach(state.rows, render),
            columns=rx.breakpoints(initial="1", lg="2"),
            align="start",
            spacing="4",
            width="100%",
        ),
        rx.cond(state.loaded, empty),
    )


def state_dialog(
    state: Any,
    title: str,
    description: rx.Var | str,
    *body: rx.Component,
    open: rx.Var,  # noqa: A002 - Radix's own name
    max_width: str = "480px",
    **props: Any,
) -> rx.Component:
    """A dialog closed by the state's one ``on_dialog_change`` handler; its errors show inside."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color=rx.color("gray", 11)),
            rx.vstack(
                *body,
                error_callout(state.dialog_error),
                spacing="4",
                width="100%",
                padding_top="12px",
            ),
            max_width=max_width,
            **props,
        ),
        open=open,
        on_open_change=state.on_dialog_change,
    )


def dialog_footer(action: rx.Component) -> rx.Component:
    """A dialog's bottom row: Cancel (closes it) and the dialog's own action, right-aligned."""
    return rx.hstack(
        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
        action,
        justify="end",
        width="100%",
    )


def active_switch(
    active: rx.Var[bool],
    on_change: Callable[[bool], Any],
    *,
    disabled: rx.Var[bool] | bool,
    test_id: str,
) -> rx.Component:
    """An Active/Paused switch with its label and a tooltip saying what a click does.

    The tooltip wraps a box, not the switch: its trigger would overwrite the switch's
    data-state, and a paused switch would be drawn as on.
    """
    return rx.hstack(
        rx.tooltip(
            rx.box(
                rx.switch(
                    checked=active,
                    on_change=on_change,
                    disabled=disabled,
                    aria_label="Active",
                    data_testid=test_id,
                ),
                display="inline-flex",
            ),
            content=rx.cond(active, "Active: click to pause", "Paused: click to activate"),
        ),
        muted(rx.cond(active, "Active", "Paused")),
        align="center",
        spacing="2",
    )

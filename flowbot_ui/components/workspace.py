"""A full-width protected page (the editor, the debugger): sidebar plus an edge-to-edge area."""

from __future__ import annotations

import reflex as rx

from flowbot_ui.components.layout import sidebar
from flowbot_ui.state.auth import AuthState


def workspace(*content: rx.Component) -> rx.Component:
    return rx.cond(
        AuthState.signed_in,
        rx.hstack(
            sidebar(),
            rx.vstack(*content, spacing="0", width="100%", height="100vh", overflow="hidden"),
            spacing="0",
            align="start",
            width="100%",
        ),
        rx.center(rx.spinner(size="3"), height="100vh"),
    )


def top_bar(*content: rx.Component) -> rx.Component:
    return rx.hstack(
        *content,
        align="center",
        spacing="3",
        width="100%",
        padding_x="20px",
        padding_y="10px",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        min_height="56px",
    )


def side_panel(*content: rx.Component, width: str = "340px", **props) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.box(
        rx.vstack(*content, spacing="4", width="100%"),
        width=width,
        min_width=width,
        height="100%",
        overflow_y="auto",
        padding="16px",
        background=rx.color("gray", 1),
        **props,
    )


def json_block(text: rx.Var, test_id: str = "") -> rx.Component:
    return rx.el.pre(
        text,
        font_family="var(--code-font-family)",
        font_size="12px",
        white_space="pre-wrap",
        word_break="break-word",
        background=rx.color("gray", 3),
        border_radius="8px",
        padding="8px 10px",
        width="100%",
        max_height="260px",
        overflow="auto",
        margin="0",
        data_testid=test_id,
    )


STATUS_COLOURS = {
    "draft": "gray",
    "active": "green",
    "paused": "amber",
    "queued": "gray",
    "running": "blue",
    "waiting": "amber",
    "succeeded": "green",
    "failed": "red",
    "stopped": "gray",
    "skipped": "gray",
}


def status_badge(status: rx.Var, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.badge(
        status,
        color_scheme=rx.match(status, *STATUS_COLOURS.items(), "gray"),
        variant="soft",
        radius="full",
        **props,
    )


def flow_status_chip(label: rx.Var, status: rx.Var, changes: rx.Var, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    """A flow's one status chip (Draft / Live vN / Paused / Live vN with unpublished
    changes; the label comes from engine.services.flows.status_label)."""
    return rx.badge(
        rx.icon(
            rx.match(status, ("active", "circle-play"), ("paused", "circle-pause"), "pencil"),
            size=12,
            flex_shrink="0",
        ),
        # Where the chip is given less room than its label (the editor's header), the label
        # ends in "…" rather than pushing the buttons beside it out of view.
        rx.el.span(label, overflow="hidden", text_overflow="ellipsis"),
        color_scheme=rx.cond(
            (status == "active") & changes,
            "orange",
            rx.match(status, ("active", "green"), ("paused", "amber"), "gray"),
        ),
        variant="soft",
        radius="full",
        white_space="nowrap",
        **props,
    )

"""The app shell: sidebar navigation, page header, and the sign-in gate."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from flowbot_ui.components.forms import post_form
from flowbot_ui.state.auth import AuthState


@dataclass(frozen=True)
class Section:
    label: str
    route: str
    icon: str


SECTIONS: tuple[Section, ...] = (
    Section("Dashboard", "/", "layout-dashboard"),
    Section("Flows", "/flows", "workflow"),
    Section("Executions", "/executions", "list-checks"),
    Section("Connections", "/connections", "plug"),
    Section("Communities", "/communities", "users"),
    Section("Accounts", "/accounts", "contact"),
    Section("Leaderboard", "/reputation", "trophy"),
    Section("Moderation", "/moderation", "shield"),
    Section("Broadcast", "/broadcast", "megaphone"),
    Section("Cross-post", "/cross-post", "repeat"),
    Section("Scheduled", "/scheduled", "calendar-clock"),
    Section("Webhooks", "/webhooks", "webhook"),
    Section("Bot config", "/bot-config", "bot"),
    Section("Analytics", "/analytics", "chart-line"),
    Section("Flow analytics", "/analytics/flows", "chart-column"),
    Section("System status", "/system", "activity"),
    Section("Settings", "/settings", "settings"),
)


def _nav_item(section: Section) -> rx.Component:
    active = rx.State.router.page.path == section.route
    return rx.link(
        rx.hstack(
            rx.icon(section.icon, size=18),
            rx.text(section.label, size="2", weight="medium"),
            spacing="3",
            align="center",
            padding_x="12px",
            padding_y="8px",
            border_radius="8px",
            width="100%",
            background=rx.cond(active, rx.color("accent", 4), "transparent"),
            color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
            _hover={"background": rx.color("accent", 3)},
        ),
        href=section.route,
        underline="none",
        width="100%",
        data_testid=f"nav-{section.route.strip('/') or 'dashboard'}",
    )


def _user_box() -> rx.Component:
    return rx.hstack(
        rx.avatar(fallback=AuthState.username[:2].upper(), size="2", radius="full"),
        rx.vstack(
            rx.text(AuthState.username, size="2", weight="bold", data_testid="current-user"),
            rx.badge(AuthState.role, size="1", variant="soft"),
            spacing="1",
        ),
        rx.spacer(),
        post_form(  # a real POST: the server revokes the session and clears the cookie
            rx.tooltip(
                rx.icon_button(
                    rx.icon("log-out", size=16),
                    variant="ghost",
                    type="submit",
                    aria_label="Sign out",
                    data_testid="sign-out",
                ),
                content="Sign out",
            ),
            action="/auth/logout",
            width="auto",
        ),
        align="center",
        width="100%",
        padding="12px",
        border_top=f"1px solid {rx.color('gray', 5)}",
    )


def sidebar() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.icon("bot-message-square", size=24, color=rx.color("accent", 10)),
            rx.heading("Flowbot", size="5"),
            align="center",
            spacing="2",
            padding="16px",
        ),
        rx.vstack(*[_nav_item(s) for s in SECTIONS], spacing="1", padding_x="8px", width="100%"),
        rx.spacer(),
        _user_box(),
        width="232px",
        min_width="232px",
        height="100vh",
        position="sticky",
        top="0",
        background=rx.color("gray", 2),
        border_right=f"1px solid {rx.color('gray', 5)}",
        data_testid="sidebar",
    )


def page_header(title: str, description: str, *actions: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.heading(title, size="7"),
            rx.text(description, color=rx.color("gray", 11), size="2"),
            spacing="1",
        ),
        rx.spacer(),
        *actions,
        width="100%",
        align="end",
        padding_bottom="16px",
    )


def empty_state(icon: str, title: str, text: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=40, color=rx.color("gray", 8)),
            rx.heading(title, size="4"),
            rx.text(text, color=rx.color("gray", 11), size="2", text_align="center"),
            align="center",
            spacing="3",
            max_width="440px",
        ),
        padding="64px",
        width="100%",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="12px",
        data_testid="empty-state",
    )


def shell(*content: rx.Component) -> rx.Component:
    """A protected page: the sidebar plus content, shown only once the session checks out."""
    return rx.cond(
        AuthState.signed_in,
        rx.hstack(
            sidebar(),
            rx.box(*content, padding="32px", width="100%", max_width="1200px"),
            spacing="0",
            align="start",
            width="100%",
        ),
        rx.center(rx.spinner(size="3"), height="100vh"),
    )


def auth_card(title: str, subtitle: str, *content: rx.Component) -> rx.Component:
    """The centred card of the sign-in and first-run pages."""
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("bot-message-square", size=28, color=rx.color("accent", 10)),
                    rx.heading("Flowbot", size="6"),
                    align="center",
                ),
                rx.heading(title, size="5"),
                rx.text(subtitle, color=rx.color("gray", 11), size="2"),
                *content,
                spacing="4",
                width="100%",
            ),
            size="4",
            width="400px",
        ),
        height="100vh",
        background=rx.color("gray", 2),
    )

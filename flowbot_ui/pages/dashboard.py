"""Dashboard: the state of flows, connections and communities at a glance."""

from __future__ import annotations

import reflex as rx

from engine.db import session_scope
from engine.services.overview import overview
from flowbot_ui.components.layout import page_header, shell
from flowbot_ui.state.auth import AuthState


class DashboardState(AuthState):
    active_flows: int = 0
    total_flows: int = 0
    connections_up: int = 0
    connections_total: int = 0
    communities: int = 0
    members: int = 0
    executions_24h: int = 0
    failed_24h: int = 0
    loaded: bool = False

    @rx.event
    def load(self) -> None:
        with session_scope() as session:
            figures = overview(session)
        for name, value in vars(figures).items():
            setattr(self, name, value)
        self.loaded = True


def _stat(label: str, value: rx.Var, detail: rx.Var | str, icon: str, testid: str) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.text(label, size="2", color=rx.color("gray", 11)),
                rx.heading(value, size="8", data_testid=testid),
                rx.text(detail, size="1", color=rx.color("gray", 10)),
                spacing="1",
            ),
            rx.spacer(),
            rx.icon(icon, size=28, color=rx.color("accent", 9)),
            align="start",
        ),
        size="3",
    )


def _getting_started() -> rx.Component:
    steps = [
        ("plug", "Connect a bot or account", "Telegram bots and accounts, Discord bots, WhatsApp."),
        ("users", "Group chats into communities", "Warnings, reputation and logs span platforms."),
        ("workflow", "Draw a flow", "A trigger, conditions and actions on any platform."),
    ]
    return rx.card(
        rx.vstack(
            rx.heading("Getting started", size="4"),
            *[
                rx.hstack(
                    rx.icon(icon, size=20, color=rx.color("accent", 10)),
                    rx.vstack(
                        rx.text(title, weight="medium", size="2"),
                        rx.text(text, size="2", color=rx.color("gray", 11)),
                        spacing="0",
                    ),
                    align="start",
                    spacing="3",
                )
                for icon, title, text in steps
            ],
            spacing="4",
        ),
        size="3",
        width="100%",
    )


def dashboard_page() -> rx.Component:
    s = DashboardState
    return shell(
        page_header("Dashboard", "What is running, and how it went in the last 24 hours."),
        rx.grid(
            _stat(
                "Active flows",
                s.active_flows,
                f"of {s.total_flows} flows",
                "workflow",
                "stat-active-flows",
            ),
            _stat(
                "Connections up",
                s.connections_up,
                f"of {s.connections_total} connections",
                "plug",
                "stat-connections",
            ),
            _stat(
                "Communities", s.communities, f"{s.members} members", "users", "stat-communities"
            ),
            _stat(
                "Executions (24 h)",
                s.executions_24h,
                f"{s.failed_24h} failed",
                "activity",
                "stat-executions",
            ),
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            spacing="4",
            width="100%",
        ),
        rx.box(
            rx.cond(s.total_flows + s.connections_total == 0, _getting_started()),
            padding_top="24px",
        ),
    )

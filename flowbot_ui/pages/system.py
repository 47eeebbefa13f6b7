"""System status: what is down now in words, the processes and their heartbeats, every
queue, database and Redis round trips, each connection's state, and the health checks'
history with incidents."""

from __future__ import annotations

from typing import Any

import reflex as rx

from flowbot_ui.components.forms import error_callout
from flowbot_ui.components.layout import page_header, shell
from flowbot_ui.components.table import data_table
from flowbot_ui.state.system import SystemState

S = SystemState


def _ok_badge(ok: Any, yes: str, no: str) -> rx.Component:
    return rx.badge(
        rx.cond(ok, yes, no),
        color_scheme=rx.cond(ok, "green", "red"),
        variant="soft",
        radius="full",
    )


def _muted(text: Any) -> rx.Component:
    return rx.text(text, size="2", color=rx.color("gray", 11))


def _card(title: str, test_id: str, *children: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="4"), *children, spacing="3", width="100%"),
        width="100%",
        data_testid=test_id,
    )


def _raw(detail: Any, test_id: str) -> rx.Component:
    """The client's own words, one click away."""
    return rx.cond(
        detail != "",
        rx.el.details(
            rx.el.summary(rx.text("Details", size="1", as_="span")),
            rx.code(detail, size="1", white_space="pre-wrap", data_testid=test_id),
        ),
    )


def _cause(cause: Any, detail: Any, test_id: str) -> rx.Component:
    return rx.vstack(
        rx.text(cause, size="2", data_testid=test_id),
        _raw(detail, f"{test_id}-detail"),
        spacing="1",
    )


def _problems() -> rx.Component:
    item = lambda p: rx.callout.root(  # noqa: E731
        rx.callout.icon(rx.icon("triangle-alert", size=16)),
        rx.vstack(
            rx.hstack(
                rx.text(p.what, weight="bold"),
                _muted(p.since),
                spacing="2",
                wrap="wrap",
                align="baseline",
            ),
            _cause(p.cause, p.detail, "problem-cause"),
            spacing="1",
            width="100%",
        ),
        color_scheme="red",
        size="1",
        width="100%",
        data_testid="system-problem",
    )
    return rx.cond(
        S.problems.length() > 0,  # type: ignore[attr-defined]
        rx.vstack(rx.foreach(S.problems, item), spacing="2", width="100%"),
    )


def _summary() -> rx.Component:
    fact = lambda label, value, test_id: rx.vstack(  # noqa: E731
        _muted(label), rx.text(value, weight="bold", data_testid=test_id), spacing="1"
    )
    return rx.card(
        rx.hstack(
            fact("Mode", S.mode, "system-mode"),
            fact("Database round trip", S.database, "system-database"),
            fact("Redis round trip", S.redis, "system-redis"),
            rx.spacer(),
            rx.vstack(
                _muted(rx.text.span("Read ", S.read_at)),
                rx.button(
                    rx.icon("refresh-cw", size=14), "Refresh", variant="soft", on_click=S.load
                ),
                align="end",
                spacing="1",
            ),
            spacing="6",
            width="100%",
            wrap="wrap",
        ),
        width="100%",
    )


def _processes() -> rx.Component:
    row = lambda p: rx.table.row(  # noqa: E731
        rx.table.cell(rx.badge(p.kind, variant="surface")),
        rx.table.cell(rx.code(p.name)),
        rx.table.cell(p.version),
        rx.table.cell(p.started),
        rx.table.cell(p.heartbeat),
        rx.table.cell(_ok_badge(p.alive, "alive", "silent")),
        rx.table.cell(_muted(p.details)),
    )
    return _card(
        "Processes",
        "system-processes",
        _muted("Web processes, workers and connector supervisors beat every 30 seconds."),
        data_table(
            ["Kind", "Host:PID", "Version", "Started", "Last heartbeat", "", "Details"],
            S.processes,
            row,
        ),
    )


def _queues() -> rx.Component:
    row = lambda q: rx.table.row(  # noqa: E731
        rx.table.cell(q.name),
        rx.table.cell(q.depth),
        rx.table.cell(q.waiting),
        rx.table.cell(q.delayed),
        rx.table.cell(q.dead),
        rx.table.cell(q.oldest),
    )
    return _card(
        "Queues",
        "system-queues",
        _muted("Every queue the app's actors use; depth counts what waits or runs now."),
        rx.cond(
            S.mode == "embedded",
            rx.callout(
                "Embedded mode: these queues are Dramatiq's in-process broker, in this web "
                "process's memory. The figures are this process's; what waits here is lost if "
                "it stops (unfinished executions are sent again when it starts).",
                icon="info",
                color_scheme="gray",
                size="1",
                data_testid="queues-embedded",
            ),
        ),
        data_table(
            ["Queue", "Depth", "Waiting", "Delayed", "Dead-lettered", "Oldest message"],
            S.queues,
            row,
        ),
    )


def _connections() -> rx.Component:
    row = lambda c: rx.table.row(  # noqa: E731
        rx.table.cell(c.name),
        rx.table.cell(c.kind),
        rx.table.cell(
            rx.badge(c.status, color_scheme=rx.cond(c.connected, "green", "red"), variant="soft")
        ),
        rx.table.cell(c.last_event),
        rx.table.cell(_cause(c.cause, c.error, "connection-cause")),
    )
    return _card(
        "Connections",
        "system-connections",
        rx.cond(
            S.unheld.length() > 0,  # type: ignore[attr-defined]
            rx.callout(
                rx.text.span("Waiting for a supervisor: ", S.unheld.join(", ")),  # type: ignore[attr-defined]
                icon="triangle-alert",
                color_scheme="amber",
            ),
        ),
        data_table(["Connection", "Kind", "Status", "Last event", "Error"], S.connections, row),
    )


def _history() -> rx.Component:
    check = lambda c: rx.table.row(  # noqa: E731
        rx.table.cell(c.at),
        rx.table.cell(_ok_badge(c.ok, "all up", "down")),
        rx.table.cell(c.down),
    )
    incident = lambda i: rx.table.row(  # noqa: E731
        rx.table.cell(i.what),
        rx.table.cell(_cause(i.cause, i.error, "incident-cause")),
        rx.table.cell(i.started),
        rx.table.cell(i.resolved),
        rx.table.cell(_muted(i.notified)),
    )
    return rx.vstack(
        _card(
            "Health checks",
            "system-checks",
            _muted("Every few minutes (FLOWBOT_HEALTH_CHECK_MINUTES); the latest 50."),
            data_table(["Checked", "", "Down"], S.checks, check),
        ),
        _card(
            "Incidents",
            "system-incidents",
            _muted(
                rx.text.span(
                    "Admins are told once when one starts and once when it ends ",
                    rx.link("(Settings → Health notifications)", href="/settings"),
                    ".",
                )
            ),
            data_table(
                ["Component", "Cause", "Since", "Resolved", "Notices"], S.incidents, incident
            ),
        ),
        spacing="4",
        width="100%",
    )


def system_page() -> rx.Component:
    return shell(
        page_header(
            "System status",
            "What is down, processes, queues, connections and the health checks, as they are now.",
        ),
        rx.vstack(
            error_callout(S.error),
            _problems(),
            _summary(),
            _processes(),
            _queues(),
            _connections(),
            _history(),
            spacing="4",
            width="100%",
        ),
    )

"""Dashboard: the state of flows, connections and communities at a glance, live."""

from __future__ import annotations

import reflex as rx

from flowbot_ui.components.cards import muted
from flowbot_ui.components.layout import page_header, shell
from flowbot_ui.state.dashboard import ActivityRow, DashboardState, Series, StartStep

S = DashboardState
CHART_HEIGHT = 220
AXIS = {"tick": {"fontSize": 11}}


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


def _counters() -> rx.Component:
    return rx.grid(
        _stat(
            "Active flows", S.active_flows, f"of {S.total_flows} flows", "workflow",
            "stat-active-flows",
        ),
        _stat(
            "Connections up", S.connections_up, f"of {S.connections_total} connections", "plug",
            "stat-connections",
        ),
        _stat("Communities", S.communities, f"{S.members} members", "users", "stat-communities"),
        _stat(
            "Executions (24 h)", S.executions_24h, f"{S.failed_24h} failed", "activity",
            "stat-executions",
        ),
        columns=rx.breakpoints(initial="1", sm="2", lg="4"),
        spacing="4",
        width="100%",
    )  # fmt: skip


# --------------------------------------------------------------------------- getting started


def _step(step: StartStep) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon(
                rx.cond(step.done, "circle-check", "circle"),
                size=20,
                color=rx.cond(step.done, rx.color("green", 10), rx.color("gray", 9)),
            ),
            rx.vstack(
                rx.text(
                    step.title,
                    weight="medium",
                    size="2",
                    text_decoration=rx.cond(step.done, "line-through", "none"),
                ),
                muted(step.text),
                spacing="0",
            ),
            align="start",
            spacing="3",
        ),
        href=step.link,
        underline="none",
        color="inherit",
        data_testid=step.test_id,
        data_done=step.done.to_string(),
    )


def _getting_started() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Getting started", size="4"),
                rx.badge(
                    S.steps_done.to_string() + " of " + S.steps.length().to_string() + " done",
                    color_scheme=rx.cond(S.steps_done == S.steps.length(), "green", "gray"),
                    data_testid="start-progress",
                ),
                rx.spacer(),
                rx.button(
                    rx.icon(rx.cond(S.checklist_open, "chevron-up", "chevron-down"), size=16),
                    rx.cond(S.checklist_open, "Hide", "Show"),
                    variant="ghost",
                    size="1",
                    on_click=S.toggle_checklist,
                    data_testid="start-toggle",
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                S.checklist_open,
                rx.grid(
                    rx.foreach(S.steps, _step),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="4",
                    width="100%",
                ),
            ),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
        data_testid="getting-started",
    )


# --------------------------------------------------------------------------- charts


def _chart_card(title: str, note: str, chart: rx.Component, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(title, weight="bold", size="3"),
            rx.text(note, size="1", color=rx.color("gray", 11)),
            chart,
            spacing="2",
            width="100%",
        ),
        width="100%",
        data_testid=test_id,
    )


def _executions_chart() -> rx.Component:
    return _chart_card(
        "Executions per hour",
        "The last 7 days (UTC), by the hour they ended.",
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
            rx.recharts.x_axis(data_key="hour", ticks=S.hour_ticks, interval=0, **AXIS),
            rx.recharts.y_axis(allow_decimals=False, width=32, **AXIS),
            rx.recharts.graphing_tooltip(),
            rx.recharts.legend(),
            rx.recharts.bar(data_key="succeeded", stack_id="hour", fill=rx.color("green", 9)),
            rx.recharts.bar(data_key="failed", stack_id="hour", fill=rx.color("red", 9)),
            data=S.hours,
            width="100%",
            height=CHART_HEIGHT,
            bar_category_gap=1,
        ),
        "chart-executions",
    )


def _line(series: Series) -> rx.Component:
    return rx.recharts.line(
        data_key=series.key,
        name=series.name,
        stroke=series.color,
        type_="monotone",
        dot=False,
        stroke_width=2,
    )


def _community_chart(title: str, note: str, rows: rx.Var, test_id: str) -> rx.Component:
    return _chart_card(
        title,
        note,
        rx.cond(
            S.series.length() > 0,
            rx.recharts.line_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
                rx.recharts.x_axis(data_key="day", **AXIS),
                rx.recharts.y_axis(allow_decimals=False, width=40, **AXIS),
                rx.recharts.graphing_tooltip(),
                rx.recharts.legend(),
                rx.foreach(S.series, _line),
                data=rows,
                width="100%",
                height=CHART_HEIGHT,
            ),
            muted("No communities yet."),
        ),
        test_id,
    )


def _charts() -> rx.Component:
    return rx.vstack(
        _executions_chart(),
        _community_chart(
            "Messages per day",
            "The five largest communities, the last 7 days; today so far.",
            S.messages,
            "chart-messages",
        ),
        _community_chart(
            "Members",
            "Present members at the end of each day.",
            S.growth,
            "chart-members",
        ),
        spacing="4",
        width="100%",
    )


# --------------------------------------------------------------------------- activity feed


def _item(row: ActivityRow) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon(row.icon, size=16, color=rx.color("gray", 10), flex_shrink="0"),
            rx.vstack(
                rx.hstack(
                    rx.text(row.title, size="2", weight="medium", trim="both"),
                    rx.badge(row.status, color_scheme=row.color, size="1"),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.cond(
                    row.detail != "", rx.text(row.detail, size="1", color=rx.color("gray", 11))
                ),
                spacing="1",
                min_width="0",
            ),
            rx.spacer(),
            rx.text(row.when, size="1", color=rx.color("gray", 11), white_space="nowrap"),
            align="start",
            spacing="2",
            width="100%",
        ),
        href=row.link,
        underline="none",
        color="inherit",
        width="100%",
        padding_y="6px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="activity-item",
        data_key=row.key,
    )


def _feed() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("Activity", weight="bold", size="3"),
                rx.spacer(),
                rx.link("All executions", href="/executions", size="1"),
                width="100%",
            ),
            rx.text(
                "Live: new items appear as they happen. Times in UTC.",
                size="1",
                color=rx.color("gray", 11),
            ),
            rx.cond(
                S.feed.length() > 0,
                rx.vstack(
                    rx.foreach(S.feed, _item),
                    spacing="0",
                    width="100%",
                ),
                muted("Nothing has happened yet."),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        data_testid="activity-feed",
    )


def dashboard_page() -> rx.Component:
    return shell(
        page_header("Dashboard", "What is running, and how it went in the last 24 hours."),
        rx.vstack(
            _counters(),
            _getting_started(),
            rx.grid(
                _charts(),
                _feed(),
                columns=rx.breakpoints(initial="1", lg="2"),
                spacing="4",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
    )

"""Community analytics and Flow analytics: daily series as charts, a range picker, CSV."""

from __future__ import annotations

from typing import Any

import reflex as rx

from flowbot_ui.components.cards import feedback, muted
from flowbot_ui.components.layout import page_header, shell
from flowbot_ui.components.table import data_table
from flowbot_ui.state.analytics import (
    CUSTOM,
    METRICS,
    CommunityAnalyticsState,
    FailingRow,
    FlowAnalyticsState,
    FlowTableRow,
    Line,
    NodeTimeRow,
    Option,
)

C, F = CommunityAnalyticsState, FlowAnalyticsState
METRIC_NAMES = {
    "member_count": "Members",
    "joined": "Joined",
    "left": "Left",
    "messages": "Messages",
    "active_members": "Active members",
    "warnings": "Warnings",
    "bans": "Bans",
}
RANGE_NAMES = (("7", "7 days"), ("30", "30 days"), ("90", "90 days"), (CUSTOM, "Custom"))
DAY_NOTE = "Days are UTC days; today is counted live, so far."


def _select(handler: Any, value: Any, options: Any, label: str, test_id: str) -> rx.Component:
    items = (
        [rx.select.item(text, value=v) for v, text in options]
        if isinstance(options, tuple | list)
        else [rx.foreach(options, lambda o: rx.select.item(o.label, value=o.value))]
    )
    return rx.select.root(
        rx.select.trigger(min_width="150px", aria_label=label, data_testid=test_id),
        rx.select.content(*items),
        value=value,
        on_change=handler,
    )


def _range_picker(state: Any) -> rx.Component:
    return rx.hstack(
        _select(state.pick_range, state.range, RANGE_NAMES, "Range", "range-picker"),
        rx.cond(
            state.range == CUSTOM,
            rx.form(
                rx.hstack(
                    rx.input(type="date", name="start", aria_label="First day", required=True),
                    rx.input(type="date", name="end", aria_label="Last day", required=True),
                    rx.button("Show", type="submit", variant="soft"),
                    spacing="2",
                ),
                on_submit=state.set_custom,
            ),
        ),
        spacing="2",
        align="center",
    )


def _chart_card(title: str, chart: rx.Component, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(rx.text(title, weight="bold", size="3"), chart, spacing="2", width="100%"),
        width="100%",
        data_testid=test_id,
    )


def _axes() -> list[rx.Component]:
    return [
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.x_axis(data_key="day", font_size=11),
        rx.recharts.y_axis(allow_decimals=False, width=40, font_size=11),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
    ]


def _bars(data: rx.Var, series: tuple[tuple[str, str, str], ...], stacked: bool) -> rx.Component:
    return rx.recharts.bar_chart(
        *_axes(),
        *[
            rx.recharts.bar(
                data_key=key, name=name, fill=rx.color(color, 9), stack_id="a" if stacked else None
            )
            for key, name, color in series
        ],
        data=data,
        width="100%",
        height=220,
    )


def _lines(data: rx.Var, series: tuple[tuple[str, str, str], ...]) -> rx.Component:
    return rx.recharts.line_chart(
        *_axes(),
        *[
            rx.recharts.line(data_key=key, name=name, stroke=rx.color(color, 9), dot=False)
            for key, name, color in series
        ],
        data=data,
        width="100%",
        height=220,
    )


def _stat(label: str, value: Any, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(muted(label), rx.heading(value, size="6", data_testid=test_id), spacing="1"),
        width="100%",
    )


# --------------------------------------------------------------------------- communities


def _compare_toggle(option: Option) -> rx.Component:
    return rx.cond(
        option.value != C.community,
        rx.checkbox(
            option.label,
            checked=C.compared.contains(option.value),
            on_change=lambda _: C.toggle_compared(option.value),
            data_testid="compare-" + option.value,
        ),
    )


def _compare_line(line: Line) -> rx.Component:
    return rx.recharts.line(data_key=line.key, name=line.name, stroke=line.color, dot=False)


def _today() -> rx.Component:
    return rx.cond(
        C.partial_day != "",
        rx.callout(
            rx.text(
                "Today so far (live): ",
                C.today["member_count"].to_string(),
                " members, ",
                C.today["joined"].to_string(),
                " joined, ",
                C.today["messages"].to_string(),
                " messages, ",
                C.today["warnings"].to_string(),
                " warnings.",
            ),
            icon="activity",
            data_testid="today-live",
        ),
    )


def community_analytics_page() -> rx.Component:
    return shell(
        page_header(
            "Community analytics",
            "Members, messages and moderation per day, from the daily snapshots.",
            rx.button(
                rx.icon("refresh-cw", size=16), "Refresh", variant="soft", on_click=C.refresh
            ),
            rx.button(
                rx.icon("download", size=16),
                "CSV",
                variant="soft",
                on_click=C.download_csv,
                data_testid="community-csv",
            ),
        ),
        feedback(C),
        rx.hstack(
            _select(C.pick_community, C.community, C.options, "Community", "pick-community"),
            _range_picker(C),
            spacing="3",
            wrap="wrap",
        ),
        muted(DAY_NOTE),
        _today(),
        rx.cond(
            C.options.length() > 0,
            rx.vstack(
                rx.grid(
                    _chart_card(
                        "Members",
                        _lines(C.days, (("member_count", "Members", "blue"),)),
                        "chart-members",
                    ),
                    _chart_card(
                        "Joins and leaves",
                        _bars(
                            C.days, (("joined", "Joined", "green"), ("left", "Left", "gray")), False
                        ),
                        "chart-joins",
                    ),
                    _chart_card(
                        "Messages and active members",
                        _bars(
                            C.days,
                            (
                                ("messages", "Messages", "blue"),
                                ("active_members", "Active", "cyan"),
                            ),
                            False,
                        ),
                        "chart-messages",
                    ),
                    _chart_card(
                        "Warnings and bans",
                        _bars(
                            C.days,
                            (("warnings", "Warnings", "amber"), ("bans", "Bans", "red")),
                            True,
                        ),
                        "chart-moderation",
                    ),
                    columns=rx.breakpoints(initial="1", lg="2"),
                    spacing="4",
                    width="100%",
                ),
                rx.card(
                    rx.vstack(
                        rx.hstack(
                            rx.text("Compare communities", weight="bold", size="3"),
                            _select(
                                C.pick_metric,
                                C.metric,
                                tuple((m, METRIC_NAMES[m]) for m in METRICS),
                                "Metric",
                                "pick-metric",
                            ),
                            align="center",
                            spacing="3",
                        ),
                        rx.flex(rx.foreach(C.options, _compare_toggle), wrap="wrap", spacing="4"),
                        rx.recharts.line_chart(
                            *_axes(),
                            rx.foreach(C.lines, _compare_line),
                            data=C.compare_rows,
                            width="100%",
                            height=260,
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    width="100%",
                    data_testid="chart-compare",
                ),
                spacing="4",
                width="100%",
            ),
            rx.cond(C.loaded, muted("No communities yet: create one on the Communities page.")),
        ),
    )


# --------------------------------------------------------------------------- flows


def _failing(row: FailingRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.node)),
        rx.table.cell(row.failures),
        rx.table.cell(row.error),
        data_testid="failing-node",
    )


def _node_time(row: NodeTimeRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.node)), rx.table.cell(row.runs), rx.table.cell(row.avg_ms)
    )


def _flow_row(row: FlowTableRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(row.name, on_click=F.pick_flow(row.flow_id.to_string()), cursor="pointer")
        ),
        rx.table.cell(row.executions),
        rx.table.cell(row.success_rate),
        rx.table.cell(row.p50),
        rx.table.cell(row.p95),
        data_testid="flow-table-row",
    )


def _listing(
    title: str, headers: tuple[str, ...], rows: Any, render: Any, empty: str
) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(title, weight="bold", size="3"),
            rx.cond(rows.length() > 0, data_table(headers, rows, render), muted(empty)),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def flow_analytics_page() -> rx.Component:
    return shell(
        page_header(
            "Flow analytics",
            "Executions per day, durations, failing nodes and triggers: one flow or all.",
            rx.button(
                rx.icon("download", size=16),
                "CSV",
                variant="soft",
                on_click=F.download_csv,
                data_testid="flow-csv",
            ),
        ),
        feedback(F),
        rx.hstack(
            _select(F.pick_flow, F.flow, F.options, "Flow", "pick-flow"),
            _range_picker(F),
            spacing="3",
            wrap="wrap",
        ),
        muted(DAY_NOTE + " An execution counts on the day it ended."),
        rx.grid(
            _stat("Executions", F.executions, "stat-executions"),
            _stat("Success rate", F.success_rate, "stat-success"),
            _stat("Median duration", F.p50, "stat-p50"),
            _stat("95th percentile", F.p95, "stat-p95"),
            columns=rx.breakpoints(initial="2", lg="4"),
            spacing="4",
            width="100%",
        ),
        rx.grid(
            _chart_card(
                "Executions per day",
                _bars(
                    F.days,
                    (
                        ("succeeded", "Succeeded", "green"),
                        ("failed", "Failed", "red"),
                        ("stopped", "Stopped", "gray"),
                    ),
                    True,
                ),
                "chart-executions",
            ),
            _chart_card(
                "Duration (ms)",
                _lines(F.days, (("p50", "p50", "blue"), ("p95", "p95", "orange"))),
                "chart-durations",
            ),
            _chart_card(
                "Trigger mix",
                rx.recharts.bar_chart(
                    rx.recharts.x_axis(data_key="kind", font_size=11),
                    rx.recharts.y_axis(allow_decimals=False, width=40, font_size=11),
                    rx.recharts.graphing_tooltip(),
                    rx.recharts.bar(
                        data_key="count", name="Executions", fill=rx.color("violet", 9)
                    ),
                    data=F.triggers,
                    width="100%",
                    height=220,
                ),
                "chart-triggers",
            ),
            _listing(
                "Top failing nodes",
                ("Node", "Failures", "Most common error"),
                F.failing,
                _failing,
                "No node failed in this range.",
            ),
            _listing(
                "Slowest nodes (average)",
                ("Node", "Runs", "Average"),
                F.node_times,
                _node_time,
                "No timed steps in this range.",
            ),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        rx.cond(
            F.flow == "all",
            _listing(
                "Every flow",
                ("Flow", "Executions", "Success rate", "p50", "p95"),
                F.table,
                _flow_row,
                "No flows yet.",
            ),
        ),
    )

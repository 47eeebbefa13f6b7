"""Moderation: the last 30 days at a glance and the moderation log, filtered and exported."""

from __future__ import annotations

import reflex as rx

from engine.models import ModerationAction, Platform
from flowbot_ui.components.cards import feedback, muted
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.components.table import data_table
from flowbot_ui.state.moderation import (
    ALL,
    CountRow,
    LogRow,
    ModerationState,
    OffenderRow,
)

S = ModerationState
RESULT_COLORS = {"ok": "green", "failed": "red", "partial": "amber", "skipped": "gray"}
SERIES = (("warnings", "amber"), ("mutes", "blue"), ("kicks", "orange"), ("bans", "red"))
LOG_HEADERS = ("Time (UTC)", "Community", "Action", "Target", "Actor", "Reason", "Result")


def _select(
    on_change: rx.EventHandler,
    value: rx.Var,
    options: list[tuple[str, str]] | rx.Var,
    label: str,
    test_id: str,
) -> rx.Component:
    items = (
        [rx.select.item(text, value=v) for v, text in options]
        if isinstance(options, list)
        else [rx.foreach(options, lambda o: rx.select.item(o.label, value=o.value))]
    )
    return rx.select.root(
        rx.select.trigger(min_width="150px", aria_label=label, data_testid=test_id),
        rx.select.content(*items),
        value=value,
        on_change=on_change,
    )


# --------------------------------------------------------------------------- overview


def _stat(label: str, value: rx.Var, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            muted(label),
            rx.heading(value, size="7", data_testid=test_id),
            spacing="1",
        ),
        width="100%",
    )


def _chart() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text("Warnings and sanctions per day", weight="bold", size="3"),
            rx.recharts.bar_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
                rx.recharts.x_axis(data_key="day", font_size=11),
                rx.recharts.y_axis(allow_decimals=False, width=32, font_size=11),
                rx.recharts.graphing_tooltip(),
                rx.recharts.legend(),
                *[
                    rx.recharts.bar(data_key=key, stack_id="day", fill=rx.color(color, 9))
                    for key, color in SERIES
                ],
                data=S.days,
                width="100%",
                height=240,
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        data_testid="moderation-chart",
    )


def _offender(row: OffenderRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium")),
        rx.table.cell(
            muted(row.platforms),
            rx.cond(row.accounts > 1, muted(" · " + row.accounts.to_string() + " linked")),
        ),
        rx.table.cell(row.warnings),
        rx.table.cell(row.sanctions),
        data_testid="offender-row",
    )


def _offenders() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text("Top offenders", weight="bold", size="3"),
            muted("Active warnings, and mutes, kicks and bans in 30 days; linked accounts as one."),
            rx.cond(
                S.offenders.length() > 0,
                data_table(
                    ("Person", "Platforms", "Warnings", "Sanctions"), S.offenders, _offender
                ),
                muted("Nobody has warnings or sanctions against them."),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _count_badge(row: CountRow) -> rx.Component:
    return rx.badge(row.label, " ", row.count, variant="soft", radius="full", size="2")


def _counts(title: str, rows: rx.Var, test_id: str) -> rx.Component:
    return rx.vstack(
        muted(title),
        rx.cond(
            rows.length() > 0,
            rx.flex(rx.foreach(rows, _count_badge), wrap="wrap", spacing="2"),
            muted("none"),
        ),
        spacing="1",
        data_testid=test_id,
    )


def _overview() -> rx.Component:
    return rx.vstack(
        rx.grid(
            _stat("Warnings (30 days)", S.warnings, "stat-warnings"),
            _stat("Bans (30 days)", S.bans, "stat-bans"),
            _stat("Logged actions (30 days)", S.actions, "stat-actions"),
            columns="3",
            spacing="4",
            width="100%",
        ),
        rx.grid(
            _chart(),
            _offenders(),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        rx.hstack(
            _counts("By action", S.by_action, "counts-by-action"),
            _counts("By platform", S.by_platform, "counts-by-platform"),
            spacing="6",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


# --------------------------------------------------------------------------- the log


def _filters() -> rx.Component:
    platforms = [(ALL, "Any platform")] + [(p.value, p.value.title()) for p in Platform]
    actions = [(ALL, "Any action")] + [
        (a.value, a.value.replace("_", " ").capitalize()) for a in ModerationAction
    ]
    return rx.form(
        rx.flex(
            _select(S.pick_platform, S.platform, platforms, "Platform", "filter-platform"),
            _select(S.pick_action, S.action, actions, "Action", "filter-action"),
            _select(S.pick_actor, S.actor, S.actor_options, "Actor", "filter-actor"),
            rx.input(
                name="member",
                default_value=S.member,
                placeholder="Member: name, @username or id",
                width="240px",
                data_testid="filter-member",
            ),
            rx.hstack(
                muted("From"),
                rx.input(name="since", type="date", default_value=S.since, aria_label="From"),
                muted("to"),
                rx.input(name="until", type="date", default_value=S.until, aria_label="To"),
                align="center",
                spacing="2",
            ),
            rx.button(rx.icon("search", size=14), "Apply", type="submit", variant="soft"),
            rx.button("Clear", type="button", variant="ghost", on_click=S.clear_filters),
            wrap="wrap",
            spacing="3",
            align="center",
        ),
        on_submit=S.search,
        reset_on_submit=False,
        width="100%",
    )


def _result(row: LogRow) -> rx.Component:
    badge = rx.badge(
        row.result,
        color_scheme=rx.match(row.result, *[(k, v) for k, v in RESULT_COLORS.items()], "gray"),
        variant="soft",
        data_testid="log-result",
    )
    return rx.cond(
        row.result == "",
        muted("—"),
        rx.tooltip(badge, content=row.targets, white_space="pre-line"),
    )


def _log_row(row: LogRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(muted(row.time, white_space="nowrap")),
        rx.table.cell(row.community),
        rx.table.cell(rx.badge(row.action, variant="outline")),
        rx.table.cell(
            rx.hstack(
                rx.text(row.target, size="2"),
                rx.cond(
                    row.platform != "", rx.badge(row.platform, variant="soft", color_scheme="gray")
                ),
                spacing="2",
                align="center",
            )
        ),
        rx.table.cell(rx.code(row.actor, variant="ghost", size="1")),
        rx.table.cell(rx.text(row.reason, size="2")),
        rx.table.cell(_result(row)),
        data_testid="log-row",
        align="center",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.icon("chevron-left", size=14),
            "Newer",
            variant="soft",
            on_click=S.newer_page,
            disabled=S.page <= 1,
        ),
        muted("Page " + S.page.to_string()),
        rx.button(
            "Older",
            rx.icon("chevron-right", size=14),
            variant="soft",
            on_click=S.older_page,
            disabled=~S.has_older,
            data_testid="log-older",
        ),
        spacing="3",
        align="center",
    )


def _log() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Moderation log", size="5"),
            rx.spacer(),
            rx.button(
                rx.icon("download", size=14),
                "Download CSV",
                variant="soft",
                on_click=S.download_csv,
                data_testid="log-download",
            ),
            width="100%",
            align="center",
        ),
        _filters(),
        rx.cond(
            S.rows.length() > 0,
            rx.vstack(data_table(LOG_HEADERS, S.rows, _log_row), _pager(), width="100%"),
            rx.cond(
                S.loaded,
                empty_state(
                    "shield",
                    "Nothing in the log",
                    "Warnings, mutes, kicks, bans and deleted messages are listed here, by "
                    "people and by the community rules, with who did it and why.",
                ),
            ),
        ),
        spacing="3",
        width="100%",
    )


def moderation_page() -> rx.Component:
    community_select = _select(
        S.pick_community, S.community, S.community_options, "Community", "filter-community"
    )
    return shell(
        page_header(
            "Moderation",
            "What was done in your communities, by whom and why.",
            community_select,
        ),
        feedback(S),
        _overview(),
        rx.box(height="24px"),
        _log(),
    )

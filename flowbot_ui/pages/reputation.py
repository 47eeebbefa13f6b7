"""Leaderboard (/reputation): reputation per community or across all, a person counted once."""

from __future__ import annotations

import reflex as rx

from flowbot_ui.components.cards import dialog_footer, feedback, muted, state_dialog
from flowbot_ui.components.forms import field
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.components.table import data_table
from flowbot_ui.pages.members import platform_icon
from flowbot_ui.state.reputation import (
    ALL,
    Choice,
    HistoryItem,
    LeaderItem,
    LinkedItem,
    ReputationState,
)

S = ReputationState
_EMPTY = empty_state(
    "trophy",
    "No reputation yet",
    "Points arrive from the communities' earning rules (e.g. a reply saying thanks) and "
    "from adjustments made here.",
)


def _choice(choice: Choice) -> rx.Component:
    return rx.select.item(choice.name, value=choice.id)


def _community_picker() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label="Community", data_testid="community-picker"),
        rx.select.content(
            rx.select.item("All communities", value=ALL), rx.foreach(S.communities, _choice)
        ),
        value=S.community,
        on_change=S.pick_community,
        size="3",
    )


def _account_chip(account: LinkedItem) -> rx.Component:
    return rx.hstack(
        platform_icon(account.platform, 14),
        rx.text(account.label, size="1"),
        align="center",
        spacing="1",
    )


def _leader(row: LeaderItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.cond(
                row.rank <= 3,
                rx.badge(row.rank, color_scheme="amber", radius="full", variant="solid"),
                rx.text(row.rank, size="2"),
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.hstack(
                    rx.text(row.name, weight="medium", size="2"),
                    rx.cond(
                        row.accounts.length() > 1,
                        rx.badge(
                            rx.icon("link", size=12),
                            row.accounts.length().to_string() + " linked",
                            variant="soft",
                            color_scheme="violet",
                            radius="full",
                            data_testid="linked-badge",
                        ),
                    ),
                    align="center",
                    spacing="2",
                ),
                rx.hstack(rx.foreach(row.accounts, _account_chip), spacing="3", wrap="wrap"),
                spacing="1",
            )
        ),
        rx.table.cell(rx.text(row.score, weight="bold", size="3", data_testid="leader-score")),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    rx.icon("history", size=14),
                    "History",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=S.show_history(row.rank),
                ),
                rx.button(
                    rx.icon("diff", size=14),
                    "Adjust",
                    size="1",
                    variant="soft",
                    on_click=S.open_adjust(row.rank),
                    disabled=~S.can_edit,
                    data_testid="adjust",
                ),
                spacing="2",
            )
        ),
        data_testid="leader-row",
    )


def _history_row(row: HistoryItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(muted(row.when)),
        rx.table.cell(
            rx.hstack(platform_icon(row.platform, 14), rx.text(row.name, size="2"), spacing="1")
        ),
        rx.table.cell(row.community),
        rx.table.cell(
            rx.text(
                rx.cond(row.delta > 0, "+" + row.delta.to_string(), row.delta.to_string()),
                color=rx.cond(row.delta > 0, rx.color("green", 11), rx.color("red", 11)),
                weight="medium",
            )
        ),
        rx.table.cell(row.reason),
        rx.table.cell(muted(row.actor)),
        data_testid="history-row",
    )


def _history() -> rx.Component:
    return rx.vstack(
        rx.heading(S.history_title, size="4"),
        rx.cond(
            S.history.length() > 0,
            data_table(
                ["When", "Member", "Community", "Change", "Reason", "By"], S.history, _history_row
            ),
            muted("No changes yet."),
        ),
        spacing="2",
        width="100%",
    )


def _linked_option(account: LinkedItem) -> rx.Component:
    return rx.select.item(account.platform + " · " + account.label, value=account.id.to_string())


def _adjust_dialog() -> rx.Component:
    return state_dialog(
        S,
        "Adjust reputation · " + S.adjust_name,
        "The change and its reason are kept in the member's history, with your name.",
        rx.form(
            rx.vstack(
                rx.text("Account", size="2", weight="medium"),
                rx.select.root(
                    rx.select.trigger(width="100%", aria_label="Account"),
                    rx.select.content(rx.foreach(S.adjust_accounts, _linked_option)),
                    value=S.adjust_account,
                    on_change=S.pick_adjust_account,
                ),
                rx.text("Community", size="2", weight="medium"),
                rx.select.root(
                    rx.select.trigger(
                        width="100%", placeholder="Pick a community", aria_label="In community"
                    ),
                    rx.select.content(rx.foreach(S.communities, _choice)),
                    value=S.adjust_community,
                    on_change=S.pick_adjust_community,
                ),
                field("Change", "delta", placeholder="e.g. 5 or -2", type="number"),
                field("Reason", "reason", placeholder="e.g. helped a newcomer"),
                dialog_footer(rx.button("Apply", type="submit", data_testid="adjust-apply")),
                spacing="3",
                width="100%",
            ),
            on_submit=S.adjust,
        ),
        open=S.adjust_open,
        data_testid="adjust-dialog",
    )


def reputation_page() -> rx.Component:
    return shell(
        page_header(
            "Leaderboard",
            "Reputation per community or across all; linked accounts count as one person.",
            rx.link(
                rx.button(rx.icon("contact", size=16), "Accounts", variant="soft", size="3"),
                href="/accounts",
            ),
            _community_picker(),
        ),
        rx.vstack(
            feedback(S),
            rx.cond(
                S.leaders.length() > 0,
                data_table(["#", "Person", "Score", ""], S.leaders, _leader),
                rx.cond(S.loaded, _EMPTY),
            ),
            _history(),
            spacing="4",
            width="100%",
        ),
        _adjust_dialog(),
    )

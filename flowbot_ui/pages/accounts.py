"""Accounts (/accounts): every platform account seen, linked into people across platforms."""

from __future__ import annotations

import reflex as rx

from flowbot_ui.components.cards import dialog_footer, feedback, muted, state_dialog
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.components.table import data_table
from flowbot_ui.pages.members import platform_icon
from flowbot_ui.state.accounts import ANY, AccountItem, AccountsState, SuggestionItem

S = AccountsState
_EMPTY = empty_state(
    "contact",
    "No accounts yet",
    "Accounts appear as people join, leave and write in the chats of your connections.",
)


def _small(text: str | rx.Var) -> rx.Component:
    return rx.text(text, size="1", color=rx.color("gray", 11))


def _who(row: AccountItem) -> rx.Component:
    return rx.hstack(
        platform_icon(row.platform),
        rx.vstack(
            rx.text(row.name, size="2", weight="medium"),
            _small(rx.cond(row.username != "", row.username, row.user_id)),
            spacing="0",
        ),
        align="center",
        spacing="2",
    )


def _person_link(row: AccountItem) -> rx.Component:
    return rx.cond(
        row.person_id > 0,
        rx.button(
            rx.icon("contact", size=14),
            row.person,
            variant="soft",
            size="1",
            on_click=S.open_person(row.person_id),
            data_testid="person-badge",
        ),
        muted("not linked"),
    )


def _row(row: AccountItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=S.selected.contains(row.id),
                on_change=lambda on: S.toggle(row.id, on),
                aria_label="Select " + row.name,
                data_testid="account-select",
            )
        ),
        rx.table.cell(_who(row)),
        rx.table.cell(_person_link(row)),
        rx.table.cell(row.communities),
        rx.table.cell(row.messages),
        rx.table.cell(
            rx.cond(
                row.warnings > 0,
                rx.badge(row.warnings, color_scheme="orange", variant="soft", radius="full"),
                muted("0"),
            )
        ),
        rx.table.cell(row.reputation),
        rx.table.cell(
            rx.cond(row.banned, rx.badge("banned", color_scheme="red", variant="soft"), "")
        ),
        rx.table.cell(muted(row.last_seen)),
        data_testid="account-row",
    )


def _filters() -> rx.Component:
    return rx.hstack(
        rx.form(
            rx.hstack(
                rx.input(
                    name="search",
                    placeholder="Username, name or id",
                    default_value=S.search,
                    width="260px",
                    data_testid="account-search",
                ),
                rx.button(rx.icon("search", size=14), "Search", type="submit", variant="soft"),
                spacing="2",
            ),
            on_submit=S.search_accounts,
            width="auto",
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Platform", data_testid="filter-platform"),
            rx.select.content(
                rx.select.item("All platforms", value=ANY),
                rx.select.item("Telegram", value="telegram"),
                rx.select.item("Discord", value="discord"),
                rx.select.item("WhatsApp", value="whatsapp"),
            ),
            value=S.platform_filter,
            on_change=S.pick_platform,
        ),
        rx.spacer(),
        rx.cond(
            S.selected.length() > 0,
            rx.hstack(
                muted(S.selected.length().to_string() + " selected"),
                rx.button("Clear", variant="ghost", size="2", on_click=S.clear_selection),
                spacing="2",
                align="center",
            ),
        ),
        rx.button(
            rx.icon("link", size=16),
            "Link into one person",
            on_click=S.open_link,
            disabled=(S.selected.length() < 2) | ~S.can_edit,
            data_testid="link-selected",
        ),
        align="center",
        wrap="wrap",
        spacing="2",
        width="100%",
    )


def _suggestion(item: SuggestionItem) -> rx.Component:
    return rx.hstack(
        _who(item.first),
        rx.icon("arrow-left-right", size=14, color=rx.color("gray", 9)),
        _who(item.second),
        rx.badge(item.reasons, variant="soft", color_scheme="blue", radius="full"),
        rx.spacer(),
        rx.button(
            rx.icon("check", size=14),
            "Confirm",
            size="1",
            on_click=S.confirm(item.first.id, item.second.id),
            disabled=~S.can_edit,
            data_testid="suggestion-confirm",
        ),
        rx.button(
            rx.icon("x", size=14),
            "Dismiss",
            size="1",
            variant="soft",
            color_scheme="gray",
            on_click=S.dismiss(item.first.id, item.second.id),
            disabled=~S.can_edit,
            data_testid="suggestion-dismiss",
        ),
        align="center",
        spacing="3",
        width="100%",
        data_testid="suggestion",
    )


def _suggestions() -> rx.Component:
    return rx.cond(
        S.suggestions.length() > 0,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("sparkles", size=16),
                    rx.text("Likely the same person", size="3", weight="medium"),
                    align="center",
                ),
                muted("Same phone, or the same username or display name on another platform."),
                rx.foreach(S.suggestions, _suggestion),
                spacing="2",
                width="100%",
            ),
            width="100%",
            data_testid="suggestions",
        ),
    )


def _link_dialog() -> rx.Component:
    return state_dialog(
        S,
        "Link into one person",
        "Their warnings, reputation and bans are counted together, and ban everywhere "
        "reaches all of them. An account already linked brings its person along.",
        rx.form(
            rx.vstack(
                rx.input(
                    name="name",
                    placeholder="Name (empty: the first account's name)",
                    aria_label="Name",
                    width="100%",
                    size="3",
                ),
                dialog_footer(rx.button(rx.icon("link", size=16), "Link", type="submit")),
                spacing="4",
                width="100%",
            ),
            on_submit=S.link_selected,
        ),
        open=S.link_open,
        data_testid="link-dialog",
    )


def _drawer_account(row: AccountItem) -> rx.Component:
    return rx.hstack(
        _who(row),
        rx.spacer(),
        _small(row.messages.to_string() + " msgs · rep " + row.reputation.to_string()),
        rx.button(
            rx.icon("unlink", size=14),
            "Unlink",
            size="1",
            variant="soft",
            color_scheme="gray",
            on_click=S.unlink(row.id),
            disabled=~S.can_edit,
            data_testid="unlink",
        ),
        align="center",
        width="100%",
        data_testid="person-account",
    )


def _drawer() -> rx.Component:
    return rx.drawer.root(
        rx.drawer.portal(
            rx.drawer.overlay(),
            rx.drawer.content(
                rx.vstack(
                    rx.hstack(
                        rx.drawer.title(S.person_name, data_testid="person-name"),
                        rx.spacer(),
                        rx.drawer.close(
                            rx.icon_button(rx.icon("x", size=16), variant="ghost", size="1")
                        ),
                        width="100%",
                        align="center",
                    ),
                    rx.drawer.description(S.person_totals, size="2", data_testid="person-totals"),
                    feedback(S),
                    rx.text("Accounts", size="2", weight="medium"),
                    rx.foreach(S.person_accounts, _drawer_account),
                    rx.separator(size="4"),
                    rx.form(
                        rx.vstack(
                            rx.input(
                                name="name",
                                default_value=S.person_name,
                                key=S.person_id.to_string() + S.person_name,
                                aria_label="Name",
                                width="100%",
                            ),
                            rx.text_area(
                                name="notes",
                                default_value=S.person_notes,
                                key=S.person_id.to_string() + "notes",
                                placeholder="Notes",
                                width="100%",
                            ),
                            rx.hstack(
                                rx.button(
                                    "Forget person",
                                    type="button",
                                    color_scheme="red",
                                    variant="soft",
                                    on_click=S.open_delete,
                                    disabled=~S.can_edit,
                                ),
                                rx.spacer(),
                                rx.button("Save", type="submit", disabled=~S.can_edit),
                                width="100%",
                            ),
                            spacing="2",
                            width="100%",
                        ),
                        on_submit=S.rename_person,
                        width="100%",
                    ),
                    rx.cond(
                        S.delete_open,
                        rx.callout(
                            rx.vstack(
                                rx.text(
                                    "Forget " + S.person_name + "? The accounts stay, unlinked."
                                ),
                                rx.button(
                                    "Forget",
                                    color_scheme="red",
                                    size="1",
                                    on_click=S.confirm_delete,
                                    data_testid="confirm-forget",
                                ),
                            ),
                            icon="triangle-alert",
                            color_scheme="red",
                            width="100%",
                        ),
                    ),
                    spacing="3",
                    width="100%",
                ),
                top="0",
                right="0",
                left="auto",
                height="100%",
                width="min(440px, 100vw)",
                padding="24px",
                background=rx.color("gray", 1),
                position="fixed",
                overflow_y="auto",
                data_testid="person-drawer",
            ),
        ),
        open=S.person_id > 0,
        on_open_change=S.close_person,
        direction="right",
    )


def accounts_page() -> rx.Component:
    return shell(
        page_header(
            "Accounts",
            "Everyone seen on every platform; link the accounts of one person.",
            rx.link(
                rx.button(rx.icon("trophy", size=16), "Leaderboard", variant="soft", size="3"),
                href="/reputation",
            ),
        ),
        rx.vstack(
            feedback(S),
            rx.cond(
                ~S.can_edit & S.signed_in,
                rx.callout(
                    "You can look but not link accounts: that needs the editor role.",
                    icon="eye",
                    color_scheme="gray",
                    size="1",
                ),
            ),
            _suggestions(),
            _filters(),
            rx.cond(
                S.rows.length() > 0,
                data_table(
                    [
                        "",
                        "Account",
                        "Person",
                        "Communities",
                        "Messages",
                        "Warnings",
                        "Reputation",
                        "",
                        "Last seen",
                    ],
                    S.rows,
                    _row,
                ),
                rx.cond(S.loaded, _EMPTY),
            ),
            rx.cond(
                S.more,
                rx.button("Load more", variant="soft", on_click=S.load_more, width="100%"),
            ),
            spacing="4",
            width="100%",
        ),
        _link_dialog(),
        _drawer(),
    )

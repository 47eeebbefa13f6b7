"""Bot config (/bot-config): the Telegram and Discord bots with their configuration's status;
one bot's commands, responses, menus, translations, scope and versions, with a live preview
and publishing (/bot-config/[bot_ref])."""

from __future__ import annotations

from typing import Any

import reflex as rx

from flowbot_ui.components.bot_config_forms import command_form, menu_form, response_form
from flowbot_ui.components.bot_preview import bot_preview
from flowbot_ui.components.cards import (
    card_grid,
    card_icon,
    dialog_footer,
    feedback,
    muted,
    state_dialog,
)
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.components.table import data_table
from flowbot_ui.pages.members import platform_icon
from flowbot_ui.state.bot_config import (
    DRAFT,
    BotConfigState,
    BotRow,
    BotsState,
    ChangeRow,
    ItemRow,
    ProblemRow,
    StringRow,
    VersionRow,
)
from flowbot_ui.state.communities import Choice

S = BotConfigState
TAB_LABELS = (
    ("commands", "Commands"),
    ("responses", "Responses"),
    ("menus", "Menus"),
    ("translations", "Translations"),
    ("scope", "Scope"),
    ("versions", "Versions"),
)

# --------------------------------------------------------------------------- the bots


def _status_chip(live: rx.Var, has_changes: rx.Var) -> rx.Component:
    return rx.cond(
        live > 0,
        rx.hstack(
            rx.badge(
                "Live v",
                live,
                color_scheme="green",
                variant="soft",
                radius="full",
                data_testid="live-version",
            ),
            rx.cond(
                has_changes,
                rx.badge(
                    "unpublished changes",
                    color_scheme="amber",
                    variant="soft",
                    radius="full",
                    data_testid="unpublished",
                ),
            ),
            spacing="2",
        ),
        rx.badge(
            "Draft only",
            color_scheme="gray",
            variant="soft",
            radius="full",
            data_testid="draft-only",
        ),
    )


def _bot_card(bot: BotRow) -> rx.Component:
    return rx.link(
        rx.card(
            rx.hstack(
                card_icon(rx.icon("bot", size=20)),
                rx.vstack(
                    rx.hstack(
                        rx.text(bot.name, weight="bold", size="3", data_testid="bot-name"),
                        platform_icon(bot.platform, size=14),
                        align="center",
                        spacing="2",
                    ),
                    _status_chip(bot.live_version, bot.has_changes),
                    rx.cond(
                        bot.published != "",
                        muted("Published " + bot.published),
                        muted("Never published"),
                    ),
                    spacing="2",
                ),
                align="start",
                spacing="3",
            ),
            width="100%",
            _hover={"background": rx.color("accent", 2)},
        ),
        href="/bot-config/" + bot.id.to_string(),
        underline="none",
        color="inherit",
        width="100%",
        data_testid="bot-card",
    )


def bots_page() -> rx.Component:
    return shell(
        page_header("Bot config", "Commands, responses and menus of your bots, per language."),
        card_grid(
            BotsState,
            _bot_card,
            rx.vstack(
                empty_state(
                    "bot",
                    "No bots yet",
                    "Connect a Telegram or Discord bot, then give it commands, canned "
                    "responses and button menus here.",
                ),
                rx.link("Go to Connections", href="/connections", data_testid="to-connections"),
                align="center",
                width="100%",
            ),
        ),
    )


# --------------------------------------------------------------------------- one bot


def _publish_button() -> rx.Component:
    return rx.button(
        rx.icon("rocket", size=16),
        "Publish",
        on_click=S.publish,
        disabled=~S.can_edit,
        size="3",
        data_testid="publish",
    )


def _header() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link(
                rx.hstack(rx.icon("arrow-left", size=14), "Bots", align="center", spacing="1"),
                href="/bot-config",
                size="2",
            ),
            rx.hstack(
                rx.heading(S.name, size="7", data_testid="bot-title"),
                platform_icon(S.platform, size=18),
                _status_chip(S.live_version, S.has_changes),
                align="center",
                spacing="3",
            ),
            muted("Draft last saved by " + S.updated),
            spacing="1",
        ),
        rx.spacer(),
        _publish_button(),
        width="100%",
        align="end",
        padding_bottom="16px",
    )


def _conflict_bar() -> rx.Component:
    return rx.cond(
        S.conflict,
        rx.button(
            rx.icon("refresh-cw", size=14),
            "Reload",
            on_click=S.reload_draft,
            variant="soft",
            color_scheme="red",
            data_testid="reload-draft",
        ),
    )


def _item_row(row: ItemRow) -> rx.Component:
    selected = S.editing & ((S.form.key == row.key) | ("/" + S.form.key == row.key))
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.text(row.key, weight="medium", size="2", font_family="monospace"),
                rx.cond(~row.enabled, rx.badge("off", color_scheme="gray", size="1")),
                spacing="2",
                align="center",
            ),
            rx.text(row.summary, size="1", color=rx.color("gray", 11), trim="both"),
            spacing="1",
        ),
        on_click=S.open_item(row.key),
        padding="8px 10px",
        border_radius="8px",
        cursor="pointer",
        width="100%",
        background=rx.cond(selected, rx.color("accent", 4), "transparent"),
        _hover={"background": rx.color("accent", 3)},
        data_testid="item-row",
    )


def _item_list(rows: rx.Var, noun: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.button(
                rx.icon("plus", size=14),
                f"New {noun}",
                on_click=S.new_item,
                size="2",
                width="100%",
                disabled=~S.can_edit,
                data_testid=f"new-{noun}",
            ),
            rx.cond(
                rows.length() > 0,
                rx.vstack(rx.foreach(rows, _item_row), spacing="1", width="100%"),
                muted(f"No {noun}s yet."),
            ),
            spacing="3",
            width="100%",
        ),
        width="240px",
        flex_shrink="0",
    )


def _form_card(form: rx.Component, noun: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(rx.cond(S.editing_key != "", f"Edit {noun}", f"New {noun}"), size="4"),
                rx.spacer(),
                rx.icon_button(
                    rx.icon("x", size=16),
                    on_click=S.close_item,
                    variant="ghost",
                    color_scheme="gray",
                    aria_label="Close",
                ),
                width="100%",
                align="center",
            ),
            form,
            rx.hstack(
                rx.cond(
                    S.editing_key != "",
                    rx.button(
                        rx.icon("trash-2", size=14),
                        "Delete",
                        on_click=S.delete_item,
                        variant="soft",
                        color_scheme="red",
                        disabled=~S.can_edit,
                        data_testid="delete-item",
                    ),
                ),
                rx.spacer(),
                rx.button(
                    rx.icon("save", size=16),
                    "Save to draft",
                    on_click=S.save_item,
                    disabled=~S.can_edit,
                    data_testid="save-item",
                ),
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        flex="1",
        min_width="0",
        data_testid="item-form",
    )


def _preview_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("eye", size=16),
                rx.heading("Preview", size="3"),
                rx.badge(S.edit_lang, variant="outline"),
                align="center",
                spacing="2",
            ),
            muted("With sample member, chat and community values."),
            bot_preview(S.preview),
            spacing="3",
            width="100%",
        ),
        width="320px",
        flex_shrink="0",
        position="sticky",
        top="16px",
        data_testid="bot-preview",
    )


def _items_tab(rows: rx.Var, noun: str, form: rx.Component, preview: bool) -> rx.Component:
    return rx.hstack(
        _item_list(rows, noun),
        rx.cond(
            S.editing,
            rx.hstack(
                _form_card(form, noun),
                *([_preview_card()] if preview else []),
                spacing="4",
                align="start",
                flex="1",
                min_width="0",
            ),
            rx.center(
                muted(f"Pick a {noun} on the left, or make a new one."), flex="1", padding="48px"
            ),
        ),
        spacing="4",
        align="start",
        width="100%",
    )


# -- translations --------------------------------------------------------------------------


def _language_badge(language: str) -> rx.Component:
    default = language == S.default_language
    return rx.badge(
        language,
        rx.cond(default, " (default)", ""),
        rx.cond(
            ~default,
            rx.fragment(
                rx.tooltip(
                    rx.icon(
                        "star", size=12, cursor="pointer", on_click=S.set_default_language(language)
                    ),
                    content="Make it the default language",
                ),
                rx.tooltip(
                    rx.icon("x", size=12, cursor="pointer", on_click=S.remove_language(language)),
                    content="Remove this language",
                ),
            ),
        ),
        size="2",
        variant="soft",
        radius="full",
        data_testid="language-" + language,
    )


def _string_row(row: StringRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, font_family="monospace", size="2")),
        rx.foreach(
            S.languages,
            lambda lang: rx.table.cell(
                rx.input(
                    default_value=row.texts.get(lang, ""),
                    size="1",
                    key=row.name + lang + row.texts.get(lang, ""),
                    on_blur=lambda v: S.set_string(row.name, lang, v),
                    disabled=~S.can_edit,
                    data_testid="string-" + row.name + "-" + lang,
                ),
            ),
        ),
        rx.table.cell(
            rx.icon_button(
                rx.icon("trash-2", size=14),
                on_click=S.remove_string(row.name),
                variant="ghost",
                color_scheme="red",
                size="1",
                disabled=~S.can_edit,
                aria_label="Remove string",
            ),
        ),
    )


def _missing_row(row: ProblemRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.where, size="2")),
        rx.table.cell(rx.badge(row.message, variant="outline")),
        data_testid="missing-row",
    )


def _translations_tab() -> rx.Component:
    return rx.vstack(
        rx.heading("Languages", size="4"),
        rx.hstack(rx.foreach(S.languages, _language_badge), wrap="wrap", spacing="2"),
        rx.hstack(
            rx.input(
                value=S.new_language,
                on_change=S.set_new_language,
                placeholder="de",
                width="120px",
                data_testid="new-language",
            ),
            rx.button(
                "Add language",
                on_click=S.add_language,
                disabled=~S.can_edit,
                variant="soft",
                data_testid="add-language",
            ),
            muted(
                "A two- or three-letter code (de, fr, pt-BR). Members get their platform "
                "language, a language a flow set for them, or else the default."
            ),
            align="center",
        ),
        rx.heading("Strings", size="4", padding_top="12px"),
        muted("Named texts a response or menu shows with {{ strings.name }}."),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Name"),
                    rx.foreach(S.languages, lambda lang: rx.table.column_header_cell(lang)),
                    rx.table.column_header_cell(""),
                )
            ),
            rx.table.body(rx.foreach(S.strings, _string_row)),
            variant="surface",
            width="100%",
        ),
        rx.hstack(
            rx.input(
                value=S.new_string,
                on_change=S.set_new_string,
                placeholder="opening_hours",
                width="200px",
                data_testid="new-string",
            ),
            rx.button(
                "Add string",
                on_click=S.add_string,
                disabled=~S.can_edit,
                variant="soft",
                data_testid="add-string",
            ),
            align="center",
        ),
        rx.heading("Missing translations", size="4", padding_top="12px"),
        rx.cond(
            S.missing_texts.length() > 0,
            data_table(("Text", "Missing in"), S.missing_texts, _missing_row),
            muted("Every text is in every language."),
        ),
        spacing="3",
        width="100%",
    )


# -- scope ---------------------------------------------------------------------------------


def _pick(choice: Choice, chosen: rx.Var, toggle: Any, test_id: str) -> rx.Component:
    return rx.checkbox(
        choice.name,
        checked=chosen.contains(choice.id),
        on_change=lambda on: toggle(choice.id, on),
        disabled=S.everywhere,
        data_testid=test_id,
    )


def _scope_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.switch(
                checked=S.everywhere, on_change=S.set_everywhere, data_testid="scope-everywhere"
            ),
            rx.text("Answer everywhere the bot is", size="2", weight="medium"),
            align="center",
        ),
        muted("Or only in these communities and chats:"),
        rx.grid(
            rx.vstack(
                rx.text("Communities", weight="medium", size="2"),
                rx.foreach(
                    S.community_choices,
                    lambda c: _pick(c, S.scope_communities, S.toggle_community, "scope-community"),
                ),
                rx.cond(S.community_choices.length() == 0, muted("No communities yet.")),
                spacing="2",
            ),
            rx.vstack(
                rx.text("Chats of this bot", weight="medium", size="2"),
                rx.foreach(
                    S.chat_choices, lambda c: _pick(c, S.scope_chats, S.toggle_chat, "scope-chat")
                ),
                rx.cond(S.chat_choices.length() == 0, muted("The bot has seen no chats yet.")),
                spacing="2",
            ),
            columns="2",
            spacing="6",
            width="100%",
        ),
        rx.hstack(
            rx.switch(
                checked=S.private_chats,
                on_change=S.set_private_chats,
                disabled=S.everywhere,
                data_testid="scope-private",
            ),
            rx.text("Also in private chats with members", size="2"),
            align="center",
        ),
        rx.button(
            "Save scope", on_click=S.save_scope, disabled=~S.can_edit, data_testid="save-scope"
        ),
        spacing="4",
        width="100%",
    )


# -- versions ------------------------------------------------------------------------------


def _version_row(row: VersionRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text("v", row.version, weight="bold")),
        rx.table.cell(rx.text(row.by, size="2")),
        rx.table.cell(rx.text(row.when, size="2")),
        rx.table.cell(rx.text(row.note, size="2")),
        rx.table.cell(
            rx.button(
                rx.icon("undo-2", size=14),
                "Roll back",
                size="1",
                variant="soft",
                color_scheme="amber",
                on_click=S.ask_rollback(row.version),
                disabled=(~S.can_edit) | (row.version == S.live_version),
                data_testid="rollback",
            ),
        ),
        data_testid="version-row",
    )


def _change_row(row: ChangeRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.where, size="2", weight="medium")),
        rx.table.cell(rx.text(row.what, size="2")),
        rx.table.cell(
            rx.text(row.before, size="2", color=rx.color("red", 11), white_space="pre-wrap")
        ),
        rx.table.cell(
            rx.text(row.after, size="2", color=rx.color("green", 11), white_space="pre-wrap")
        ),
        data_testid="change-row",
    )


def _version_select(value: rx.Var, on_change: Any, test_id: str, draft: bool) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(data_testid=test_id),
        rx.select.content(
            *([rx.select.item("Draft", value=DRAFT)] if draft else []),
            rx.foreach(S.version_choices, lambda v: rx.select.item("v" + v, value=v)),
        ),
        value=value,
        on_change=on_change,
    )


def _versions_tab() -> rx.Component:
    return rx.cond(
        S.versions.length() > 0,
        rx.vstack(
            data_table(("Version", "By", "When", "Note", ""), S.versions, _version_row),
            rx.heading("Changes", size="4", padding_top="12px"),
            rx.hstack(
                muted("From"),
                _version_select(S.diff_from, S.set_diff_from, "diff-from", draft=False),
                muted("to"),
                _version_select(S.diff_to, S.set_diff_to, "diff-to", draft=True),
                align="center",
            ),
            rx.cond(
                S.changes.length() > 0,
                data_table(("Where", "What", "Before", "After"), S.changes, _change_row),
                muted("No differences."),
            ),
            spacing="3",
            width="100%",
        ),
        muted("Nothing published yet: Publish makes the draft version 1."),
    )


# -- dialogs -------------------------------------------------------------------------------


def _problem(row: ProblemRow) -> rx.Component:
    return rx.hstack(
        rx.icon("circle-alert", size=16, color=rx.color("red", 10), flex_shrink="0"),
        rx.text(row.message, size="2"),
        align="start",
        data_testid="publish-problem",
    )


def _problems_dialog() -> rx.Component:
    return state_dialog(
        S,
        "Not published yet",
        "Fix these first; the live version stays as it is.",
        rx.scroll_area(
            rx.vstack(rx.foreach(S.problems, _problem), spacing="2"),
            max_height="360px",
            type="auto",
        ),
        dialog_footer(rx.fragment()),
        open=S.problems_open,
        max_width="560px",
        data_testid="problems-dialog",
    )


def _rollback_dialog() -> rx.Component:
    return state_dialog(
        S,
        "Roll back?",
        rx.text(
            "Version ",
            S.rollback_to,
            " becomes live again as a new version, and the "
            "draft is replaced by it; the bot answers with it at once.",
        ),
        dialog_footer(
            rx.button(
                "Roll back",
                color_scheme="amber",
                on_click=S.confirm_rollback,
                data_testid="confirm-rollback",
            )
        ),
        open=S.rollback_to > 0,
    )


def _tabs() -> rx.Component:
    return rx.tabs.root(
        rx.tabs.list(
            *[
                rx.tabs.trigger(label, value=value, data_testid=f"tab-{value}")
                for value, label in TAB_LABELS
            ]
        ),
        rx.tabs.content(
            _items_tab(S.commands, "command", command_form(), preview=False),
            value="commands",
            padding_top="16px",
        ),
        rx.tabs.content(
            _items_tab(S.responses, "response", response_form(), preview=True),
            value="responses",
            padding_top="16px",
        ),
        rx.tabs.content(
            _items_tab(S.menus, "menu", menu_form(), preview=True),
            value="menus",
            padding_top="16px",
        ),
        rx.tabs.content(_translations_tab(), value="translations", padding_top="16px"),
        rx.tabs.content(_scope_tab(), value="scope", padding_top="16px"),
        rx.tabs.content(_versions_tab(), value="versions", padding_top="16px"),
        value=S.tab,
        on_change=S.set_tab,
        width="100%",
    )


def bot_page() -> rx.Component:
    return shell(
        rx.cond(
            S.missing,
            empty_state("bot", "No such bot", "It may have been deleted; pick one from the list."),
            rx.vstack(
                _header(),
                rx.cond(
                    ~S.can_edit,
                    rx.callout("You can look; editors change the bot.", icon="eye", size="1"),
                ),
                rx.hstack(
                    rx.box(feedback(S), flex="1"), _conflict_bar(), width="100%", align="center"
                ),
                _tabs(),
                spacing="3",
                width="100%",
            ),
        ),
        _problems_dialog(),
        _rollback_dialog(),
    )

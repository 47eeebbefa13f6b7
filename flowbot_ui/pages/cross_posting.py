"""Cross-post (/cross-post): rules that mirror one chat's messages to others, and the
templates that say how a mirrored message looks on each platform; one rule's history
(/cross-post/rules/[rule_ref])."""

from __future__ import annotations

import reflex as rx
from reflex.event import EventSpec

from flowbot_ui.components.cards import (
    card_grid,
    card_icon,
    dialog_footer,
    fact,
    feedback,
    muted,
    state_dialog,
)
from flowbot_ui.components.forms import error_callout
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.components.table import data_table
from flowbot_ui.pages.communities import _choice as choice_item
from flowbot_ui.pages.communities import _viewer_note as viewer_note
from flowbot_ui.pages.communities import chat_search_bar
from flowbot_ui.pages.members import platform_icon
from flowbot_ui.state.communities import PLATFORMS, ChatItem
from flowbot_ui.state.cross_posting import (
    AS_IS,
    FORMATS,
    VALUES,
    ChatChip,
    CrossPostRuleState,
    CrossPostState,
    DeliveryRow,
    RuleCard,
    TemplateRow,
)

S, H = CrossPostState, CrossPostRuleState
FORMAT_LABELS = {
    "default": "Every platform",
    "telegram": "Telegram",
    "discord": "Discord",
    "whatsapp": "WhatsApp",
}
VALUE_HINTS = {
    "text": "the message's text",
    "author": "who wrote it",
    "chat": "the source chat's title",
    "link": "a link to the original",
    "media": "the photo or file's address",
    "platform": "where it was posted",
}


def _chat_badge(chat: ChatChip) -> rx.Component:
    return rx.badge(
        platform_icon(chat.platform, size=12),
        chat.title,
        variant="soft",
        color_scheme="gray",
        radius="full",
        data_testid="rule-target",
    )


def _edit_delete(edit: EventSpec, delete: EventSpec) -> rx.Component:
    """A rule's or template's two changes, for editors only."""
    return rx.fragment(
        rx.button(rx.icon("pencil", size=14), "Edit", variant="soft", size="1", on_click=edit,
                  disabled=~S.can_edit),
        rx.button(rx.icon("trash-2", size=14), "Delete", variant="soft", size="1",
                  color_scheme="red", on_click=delete, disabled=~S.can_edit),
    )  # fmt: skip


def _flag(on: rx.Var, text: str) -> rx.Component:
    return rx.cond(on, rx.badge(text, variant="outline", color_scheme="violet"))


# --------------------------------------------------------------------------- rules


def _rule_card(rule: RuleCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                card_icon(rx.icon("repeat", size=20)),
                rx.vstack(
                    rx.heading(rule.name, size="4", data_testid="rule-name"),
                    rx.hstack(
                        muted("From"),
                        platform_icon(rule.source_platform, size=14),
                        rx.text(rule.source, size="2", weight="medium", data_testid="rule-source"),
                        rx.icon("arrow-right", size=14),
                        rx.foreach(rule.targets, _chat_badge),
                        align="center",
                        spacing="2",
                        wrap="wrap",
                    ),
                    spacing="1",
                ),
                rx.spacer(),
                rx.hstack(
                    muted(rx.cond(rule.active, "Active", "Paused")),
                    rx.switch(
                        checked=rule.active,
                        on_change=lambda on: S.set_active(rule.id, on),
                        disabled=~S.can_edit,
                        aria_label="Active " + rule.name,
                        data_testid="rule-active",
                    ),
                    align="center",
                ),
                align="start",
                spacing="3",
                width="100%",
            ),
            rx.data_list.root(
                fact("Template", rx.text(rule.template, size="2")),
                fact("Which messages", rx.text(rule.filter, size="2", data_testid="rule-filter")),
                fact(
                    "Also",
                    rx.hstack(
                        _flag(rule.include_media, "media carried over"),
                        _flag(rule.mirror_edits, "edits mirrored"),
                        _flag(rule.mirror_deletes, "deletions mirrored"),
                        spacing="1",
                        wrap="wrap",
                    ),
                ),
                fact("Last mirrored", rx.text(rule.last_mirrored, size="2")),
                fact(
                    "Failures",
                    rx.badge(
                        rule.failures,
                        color_scheme=rx.cond(rule.failures > 0, "red", "gray"),
                        variant="soft",
                        data_testid="rule-failures",
                    ),
                ),
                size="1",
            ),
            rx.hstack(
                rx.cond(
                    ~rule.active,
                    rx.badge(
                        "paused: nothing is mirrored",
                        color_scheme="amber",
                        data_testid="rule-paused",
                    ),
                ),
                rx.spacer(),
                rx.link(
                    rx.button(rx.icon("history", size=14), "History", variant="soft", size="1"),
                    href="/cross-post/rules/" + rule.id.to_string(),
                ),
                _edit_delete(S.open_edit_rule(rule.id), S.open_delete_rule(rule.id)),
                align="center",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        size="2",
        data_testid="rule-card",
    )


_NO_RULES = empty_state(
    "repeat",
    "No cross-post rules yet",
    "A rule copies what is posted in one chat to others, on any platform: a Telegram "
    "channel to a Discord channel, a Discord channel to WhatsApp groups.",
)


def _picker_row(chat: ChatItem) -> rx.Component:
    is_source = S.source_id == chat.id
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                platform_icon(chat.platform),
                rx.vstack(
                    rx.text(chat.title, size="2", weight="medium"),
                    rx.text(chat.detail, size="1", color=rx.color("gray", 11)),
                    spacing="0",
                ),
                align="center",
                spacing="2",
            )
        ),
        rx.table.cell(
            rx.cond(
                chat.community != "",
                rx.badge(chat.community, variant="soft"),
                muted("no community"),
            )
        ),
        rx.table.cell(
            rx.button(
                rx.cond(is_source, "From here", "From"),
                size="1",
                variant=rx.cond(is_source, "solid", "outline"),
                on_click=S.pick_source(chat.id),
                type="button",
                aria_label="From " + chat.title,
            )
        ),
        rx.table.cell(
            rx.checkbox(
                "To",
                checked=S.target_ids.contains(chat.id),
                on_change=lambda on: S.toggle_target(chat.id, on),
                disabled=is_source,
                aria_label="To " + chat.title,
            )
        ),
        align="center",
        data_testid="picker-chat",
    )


def _picked() -> rx.Component:
    return rx.hstack(
        rx.foreach(
            S.picked,
            lambda chat, i: rx.fragment(
                rx.cond(i == 1, rx.icon("arrow-right", size=14)), _chat_badge(chat)
            ),
        ),
        rx.cond(S.source_id == 0, muted("Pick the chat to copy from, then where it goes.")),
        rx.cond((S.source_id != 0) & (S.target_ids.length() == 0), muted("→ pick targets")),
        align="center",
        wrap="wrap",
        spacing="2",
        width="100%",
        data_testid="picked-chats",
    )


def _chat_picker() -> rx.Component:
    return rx.vstack(
        _picked(),
        chat_search_bar(S.chat_search, S.search_chats, S.chat_platform, S.pick_chat_platform),
        rx.box(
            rx.cond(
                S.chat_rows.length() > 0,
                rx.table.root(
                    rx.table.body(rx.foreach(S.chat_rows, _picker_row)), size="1", width="100%"
                ),
                muted("No discovered chats match. Chats appear once a connection has seen them."),
            ),
            max_height="260px",
            overflow_y="auto",
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def _switch(name: str, label: str) -> rx.Component:
    return rx.hstack(
        rx.switch(name=name, default_checked=S.rule_flags[name], aria_label=label),
        rx.text(label, size="2"),
        align="center",
        spacing="2",
    )


def _labelled(label: str, hint: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.text(hint, size="1", color=rx.color("gray", 11)),
        spacing="1",
        width="100%",
    )


def _name_field(saved: rx.Var, example: str) -> rx.Component:
    """A dialog's name, starting as saved (the dialog's content is new each time it opens)."""
    return _labelled(
        "Name",
        "",
        rx.input(
            name="name", default_value=saved, required=True, width="100%", placeholder=example
        ),
    )


def _rule_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _name_field(S.rule_form["name"], "e.g. Announcements to Discord"),
            _labelled(
                "How it looks",
                "A template formats it per platform; as is copies the text with its author.",
                rx.select.root(
                    rx.select.trigger(width="100%", data_testid="rule-template"),
                    rx.select.content(
                        rx.select.item("As is", value=AS_IS),
                        rx.foreach(S.template_choices, choice_item),
                    ),
                    name="template",
                    default_value=S.rule_form["template"],
                ),
            ),
            rx.hstack(
                _labelled(
                    "Only messages containing",
                    "Words or phrases separated by commas; empty: every message.",
                    rx.input(
                        name="contains",
                        default_value=S.rule_form["contains"],
                        width="100%",
                        placeholder="sale, offer",
                    ),
                ),
                _labelled(
                    "Or matching a pattern",
                    "A regular expression, for experts; empty: none.",
                    rx.input(name="regex", default_value=S.rule_form["regex"], width="100%"),
                ),
                width="100%",
                spacing="3",
            ),
            rx.hstack(
                _switch("media_only", "Only messages with photos or files"),
                _switch("skip_bots", "Skip messages from bots"),
                spacing="5",
                wrap="wrap",
            ),
            rx.hstack(
                _switch("include_media", "Carry photos and files over"),
                _switch("mirror_edits", "Mirror edits"),
                _switch("mirror_deletes", "Mirror deletions"),
                spacing="5",
                wrap="wrap",
            ),
            dialog_footer(
                rx.button(
                    rx.icon("check", size=16),
                    rx.cond(S.rule_id == 0, "Create rule", "Save rule"),
                    type="submit",
                    data_testid="save-rule",
                )
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=S.save_rule,
    )


def _rule_dialog() -> rx.Component:
    return state_dialog(
        S,
        "Cross-post rule",
        "Whatever is posted in the chosen chat is posted to the targets too.",
        _chat_picker(),
        _rule_form(),
        open=S.rule_open,
        max_width="820px",
        data_testid="rule-dialog",
    )


# --------------------------------------------------------------------------- templates


def _template_row(row: TemplateRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium", data_testid="template-name")),
        rx.table.cell(
            rx.code(rx.cond(row.formats.contains("default"), row.formats["default"], "…"), size="1")
        ),
        rx.table.cell(rx.text(row.rules, size="2")),
        rx.table.cell(
            rx.hstack(_edit_delete(S.open_edit_template(row.id), S.open_delete_template(row.id)))
        ),
        align="center",
        data_testid="template-row",
    )


def _templates_tab() -> rx.Component:
    return rx.cond(
        S.templates.length() > 0,
        data_table(
            ("Template", "Every platform", "Rules using it", ""), S.templates, _template_row
        ),
        rx.cond(
            S.loaded,
            empty_state(
                "file-text",
                "No templates yet",
                "A template says how a mirrored message looks on each platform, e.g. "
                "\u201c📣 {{ chat }}: {{ text }}\u201d.",
            ),
        ),
    )


def _insert_menu(name: str) -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                "Insert a value…",
                rx.icon("chevron-down", size=12),
                variant="ghost",
                size="1",
                type="button",
                data_testid=f"insert-{name}",
            )
        ),
        rx.menu.content(
            *[
                rx.menu.item(
                    rx.hstack(rx.code(value, size="1"), muted(VALUE_HINTS[value])),
                    on_click=S.insert_value(name, value),
                )
                for value in VALUES
            ]
        ),
    )


def _format_field(name: str) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(FORMAT_LABELS[name], size="2", weight="medium"),
            rx.spacer(),
            _insert_menu(name),
            align="center",
            width="100%",
        ),
        rx.text_area(
            value=S.formats[name],
            on_change=lambda text: S.set_format(name, text),
            placeholder="{{ text }}" if name == "default" else "Empty: as on every platform",
            rows="3",
            width="100%",
            aria_label=f"Format for {FORMAT_LABELS[name]}",
            data_testid=f"format-{name}",
        ),
        spacing="1",
        width="100%",
    )


def _preview(platform: str) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            platform_icon(rx.Var.create(platform), size=14),
            rx.text(FORMAT_LABELS[platform], size="1", weight="medium"),
            align="center",
        ),
        rx.box(
            rx.text(
                S.previews[platform],
                size="2",
                white_space="pre-wrap",
                data_testid=f"preview-{platform}",
            ),
            padding="8px",
            border_radius="6px",
            background=rx.color("gray", 3),
            width="100%",
        ),
        spacing="1",
        width="100%",
    )


def _template_dialog() -> rx.Component:
    return state_dialog(
        S,
        "Cross-post template",
        "How a mirrored message looks. Write it once for every platform, and differently "
        "where a platform needs it.",
        rx.form(
            rx.vstack(
                _name_field(S.template_name, "e.g. Announcement"),
                rx.grid(
                    rx.vstack(*[_format_field(name) for name in FORMATS], width="100%"),
                    rx.vstack(
                        rx.text("Preview on a sample message", size="2", weight="medium"),
                        error_callout(S.preview_error),
                        *[_preview(platform) for platform in PLATFORMS],
                        width="100%",
                    ),
                    columns="2",
                    spacing="4",
                    width="100%",
                ),
                dialog_footer(
                    rx.button(
                        rx.icon("check", size=16),
                        "Save template",
                        type="submit",
                        data_testid="save-template",
                    )
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=S.save_template,
        ),
        open=S.template_open,
        max_width="900px",
        data_testid="template-dialog",
    )


def _delete_dialog(open_: rx.Var, what: str, confirm: rx.EventHandler) -> rx.Component:
    return state_dialog(
        S,
        "Delete " + S.dialog_name + "?",
        f"The {what} is gone for good; what it already posted stays where it is.",
        dialog_footer(
            rx.button("Delete", color_scheme="red", on_click=confirm, data_testid="confirm-delete")
        ),
        open=open_,
    )


def _new_button(what: str, on_click: rx.EventHandler) -> rx.Component:
    return rx.button(
        rx.icon("plus", size=16),
        f"New {what}",
        size="3",
        on_click=on_click,
        disabled=~S.can_edit,
        data_testid=f"new-{what}",
    )


def cross_post_page() -> rx.Component:
    return shell(
        page_header(
            "Cross-post",
            "Mirror what is posted in one chat to others, on any platform.",
            rx.cond(
                S.tab == "templates",
                _new_button("template", S.open_new_template),
                _new_button("rule", S.open_new_rule),
            ),
        ),
        rx.vstack(
            feedback(S),
            viewer_note(S, "cross-posting"),
            rx.tabs.root(
                rx.tabs.list(
                    rx.tabs.trigger("Rules", value="rules", data_testid="tab-rules"),
                    rx.tabs.trigger("Templates", value="templates", data_testid="tab-templates"),
                ),
                rx.tabs.content(
                    card_grid(S, _rule_card, _NO_RULES), value="rules", padding_top="16px"
                ),
                rx.tabs.content(_templates_tab(), value="templates", padding_top="16px"),
                value=S.tab,
                on_change=S.pick_tab,
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        _rule_dialog(),
        _template_dialog(),
        _delete_dialog(S.delete_rule_for != 0, "rule", S.confirm_delete_rule),
        _delete_dialog(S.delete_template_for != 0, "template", S.confirm_delete_template),
    )


# --------------------------------------------------------------------------- history


def _result(row: DeliveryRow) -> rx.Component:
    return rx.cond(
        row.ok,
        rx.badge("posted", color_scheme="green", variant="soft"),
        rx.vstack(
            rx.badge("failed", color_scheme="red", variant="soft"),
            rx.text(row.error, size="1", color=rx.color("red", 11), data_testid="delivery-error"),
            spacing="1",
        ),
    )


def _delivery_row(row: DeliveryRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.when, size="2")),
        rx.table.cell(rx.badge(row.action, variant="outline")),
        rx.table.cell(rx.code(row.source_message, size="1")),
        rx.table.cell(
            rx.hstack(
                platform_icon(row.target_platform, size=14),
                rx.text(row.target, size="2"),
                align="center",
            )
        ),
        rx.table.cell(rx.cond(row.target_message != "", rx.code(row.target_message, size="1"))),
        rx.table.cell(_result(row)),
        align="center",
        data_testid="delivery-row",
    )


def cross_post_rule_page() -> rx.Component:
    return shell(
        rx.link(
            rx.hstack(rx.icon("arrow-left", size=14), rx.text("Cross-post", size="2")),
            href="/cross-post",
            underline="none",
        ),
        rx.cond(
            H.missing,
            empty_state("repeat", "No such rule", "It was deleted, or never existed."),
            rx.vstack(
                page_header(H.name, H.summary),
                rx.cond(
                    H.rows.length() > 0,
                    data_table(
                        ("When", "What", "Source message", "Posted in", "Copy", "Result"),
                        H.rows,
                        _delivery_row,
                    ),
                    rx.cond(
                        H.loaded,
                        empty_state(
                            "history",
                            "Nothing mirrored yet",
                            "Messages this rule copies, edits or deletes appear here.",
                        ),
                    ),
                ),
                rx.hstack(
                    rx.button("Newer", variant="soft", on_click=H.newer_page, disabled=H.page <= 1),
                    muted("Page " + H.page.to_string()),
                    rx.button(
                        "Older", variant="soft", on_click=H.older_page, disabled=~H.has_older
                    ),
                    align="center",
                ),
                spacing="4",
                width="100%",
            ),
        ),
    )

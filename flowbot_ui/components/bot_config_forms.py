"""The Bot config page's item forms: a command, a response, a menu.

Each field is a path into the item being edited (flowbot_ui/state/bot_config_items.py);
texts show the language tab that is open. Targets are picked, never typed: the draft's
responses and menus, the real flows. Saving hands the whole item to the service.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from flowbot_ui.components.cards import muted
from flowbot_ui.pages.scheduled import _labelled as labelled
from flowbot_ui.state.bot_config import VALUES, BotConfigState
from flowbot_ui.state.bot_config_items import ButtonForm, ButtonRow, OptionForm, TriggerForm
from flowbot_ui.state.communities import Choice

S = BotConfigState
TELEGRAM_SCOPES = (
    ("all", "All chats"),
    ("private", "Private chats"),
    ("groups", "Groups"),
    ("group_admins", "Group administrators"),
    ("chat", "One chat"),
)
DISCORD_SCOPES = (("all", "Global"), ("guild", "One server"))
COMMAND_ACTIONS = (
    ("response", "Send a response"),
    ("menu", "Open a menu"),
    ("flow", "Start a flow"),
)
BUTTON_ACTIONS = (
    ("menu", "Open a menu"),
    ("response", "Send a response"),
    ("url", "Open a web page"),
    ("flow", "Start a flow"),
)
TRIGGERS = (
    ("command", "Command"),
    ("keyword", "Keyword or phrase"),
    ("regex", "Pattern (regex)"),
    ("button", "Button value"),
)
TRIGGER_HINTS = {
    "command": "help",
    "keyword": "opening hours",
    "regex": r"\bprice(s)?\b",
    "button": "callback data a flow's button sends",
}
OPTION_TYPES = ("string", "integer", "number", "boolean", "user", "channel", "role")
REPLY_MODES = (
    ("reply", "Reply to the message"),
    ("chat", "In the chat"),
    ("thread", "In a thread"),
    ("dm", "Privately (DM)"),
)
MEDIA_KINDS = ("photo", "video", "document")


def _select(
    options: tuple[tuple[str, str], ...], value: rx.Var, on_change: Any, test_id: str
) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%", data_testid=test_id),
        rx.select.content(*[rx.select.item(label, value=v) for v, label in options]),
        value=value,
        on_change=on_change,
    )


def _text(value: rx.Var, on_change: Any, test_id: str, **props: Any) -> rx.Component:
    return rx.input(value=value, on_change=on_change, width="100%", data_testid=test_id, **props)


def _remove(on_click: Any, what: str) -> rx.Component:
    return rx.icon_button(
        rx.icon("x", size=14),
        on_click=on_click,
        variant="ghost",
        color_scheme="gray",
        size="1",
        aria_label=f"Remove {what}",
    )


def _add(label: str, on_click: Any, test_id: str) -> rx.Component:
    return rx.button(
        rx.icon("plus", size=14),
        label,
        on_click=on_click,
        size="1",
        variant="soft",
        data_testid=test_id,
    )


def _choice_item(choice: Choice) -> rx.Component:
    return rx.select.item(choice.name, value=choice.id)


def _key_item(key: str) -> rx.Component:
    return rx.select.item(key, value=key)


def target_picker(kind: rx.Var, target: rx.Var, path: list[Any], test_id: str) -> rx.Component:
    """What an action points at: one of the draft's responses or menus, a flow, or a URL."""

    def pick(options: rx.Var, render: Any, empty: str) -> rx.Component:
        return rx.cond(
            options.length() > 0,
            rx.select.root(
                rx.select.trigger(placeholder="Pick…", width="100%", data_testid=test_id),
                rx.select.content(rx.foreach(options, render)),
                value=target,
                on_change=lambda v: S.edit([*path, "target"], v),
            ),
            muted(empty),
        )

    return rx.match(
        kind,
        ("response", pick(S.response_keys, _key_item, "No responses yet: add one first.")),
        ("menu", pick(S.menu_keys, _key_item, "No menus yet: add one first.")),
        ("flow", pick(S.flow_choices, _choice_item, "No flows yet.")),
        _text(target, lambda v: S.edit([*path, "target"], v), test_id, placeholder="https://…"),
    )


def _place_picker(choices: rx.Var, target: rx.Var) -> rx.Component:
    """One of the chats (or servers) the bot has seen; an id only when it has seen none."""
    return rx.cond(
        choices.length() > 0,
        rx.select.root(
            rx.select.trigger(placeholder="Pick…", width="100%", data_testid="command-place"),
            rx.select.content(rx.foreach(choices, _choice_item)),
            value=target,
            on_change=lambda v: S.edit(["scope", "target_id"], v),
        ),
        _text(
            target,
            lambda v: S.edit(["scope", "target_id"], v),
            "command-place",
            placeholder="The bot has seen none yet: its id",
        ),
    )


def _language_tabs() -> rx.Component:
    return rx.hstack(
        muted("Texts in"),
        rx.segmented_control.root(
            rx.foreach(
                S.languages,
                lambda lang: rx.segmented_control.item(
                    lang, value=lang, data_testid="edit-lang-" + lang
                ),
            ),
            value=S.edit_lang,
            on_change=S.set_edit_lang,
            size="1",
        ),
        rx.cond(S.edit_lang == S.default_language, muted("(default)")),
        align="center",
        spacing="2",
    )


def _insert_menu() -> rx.Component:
    return rx.dropdown_menu.root(
        rx.dropdown_menu.trigger(
            rx.button(
                rx.icon("braces", size=14),
                "Insert a value…",
                size="1",
                variant="soft",
                color_scheme="gray",
                type="button",
                data_testid="insert-value",
            ),
        ),
        rx.dropdown_menu.content(
            *[
                rx.dropdown_menu.item(label, on_click=S.insert_value(name))
                for label, name in VALUES
            ],
            rx.cond(S.string_names.length() > 0, rx.dropdown_menu.separator()),
            rx.foreach(
                S.string_names,
                lambda s: rx.dropdown_menu.item(
                    "strings." + s, on_click=S.insert_value("strings." + s)
                ),
            ),
        ),
    )


# -- buttons (a response's buttons, a menu's rows) -----------------------------------------


def _button(button: ButtonForm, path: list[Any]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                _text(
                    button.label,
                    lambda v: S.edit([*path, "label"], v),
                    "button-label",
                    placeholder="Label",
                ),
                _remove(S.remove_part(path), "button"),
                width="100%",
                align="center",
            ),
            _select(
                BUTTON_ACTIONS,
                button.action.kind,
                lambda v: S.set_action([*path, "action"], v),
                "button-action",
            ),
            target_picker(
                button.action.kind, button.action.target, [*path, "action"], "button-target"
            ),
            spacing="2",
        ),
        size="1",
        min_width="180px",
        flex="1",
        data_testid="button-editor",
    )


def button_rows(field: str) -> rx.Component:
    """Rows of buttons under the text (Telegram's inline keyboard, Discord's button rows)."""

    def row(buttons: ButtonRow, r: rx.Var) -> rx.Component:
        return rx.hstack(
            rx.foreach(buttons.buttons, lambda b, c: _button(b, [field, r, c])),
            rx.tooltip(
                rx.icon_button(
                    rx.icon("plus", size=14),
                    on_click=S.add_part([field, r], "buttons"),
                    size="1",
                    variant="soft",
                    aria_label="Add a button",
                ),
                content="Add a button to this row",
            ),
            width="100%",
            align="center",
            wrap="wrap",
            data_testid="button-row",
        )

    return rx.vstack(
        rx.foreach(S.form.rows, row),
        _add("Add a row of buttons", S.add_part([field], "row"), "add-button-row"),
        spacing="2",
        width="100%",
    )


# -- commands ------------------------------------------------------------------------------


def _choice(choice: Any, path: list[Any]) -> rx.Component:
    return rx.hstack(
        _text(
            choice.name, lambda v: S.edit([*path, "name"], v), "choice-name", placeholder="Shown as"
        ),
        _text(
            choice.value, lambda v: S.edit([*path, "value"], v), "choice-value", placeholder="Value"
        ),
        _remove(S.remove_part(path), "choice"),
        width="100%",
        align="center",
    )


def _option(option: OptionForm, i: rx.Var) -> rx.Component:
    path = ["options", i]
    return rx.card(
        rx.vstack(
            rx.hstack(
                _text(
                    option.name,
                    lambda v: S.edit([*path, "name"], v),
                    "option-name",
                    placeholder="name",
                ),
                rx.select.root(
                    rx.select.trigger(data_testid="option-type"),
                    rx.select.content(*[rx.select.item(t, value=t) for t in OPTION_TYPES]),
                    value=option.type,
                    on_change=lambda v: S.edit([*path, "type"], v),
                ),
                rx.checkbox(
                    "Required",
                    checked=option.required,
                    on_change=lambda v: S.edit([*path, "required"], v),
                ),
                _remove(S.remove_part(path), "option"),
                width="100%",
                align="center",
            ),
            _text(
                option.description,
                lambda v: S.edit([*path, "description"], v),
                "option-description",
                placeholder="Description",
            ),
            rx.foreach(option.choices, lambda c, j: _choice(c, [*path, "choices", j])),
            _add("Choice", S.add_part([*path, "choices"], "choices"), "add-choice"),
            spacing="2",
            width="100%",
        ),
        size="1",
        width="100%",
        data_testid="option-editor",
    )


def command_form() -> rx.Component:
    f = S.form
    telegram = S.platform == "telegram"
    return rx.vstack(
        _language_tabs(),
        labelled(
            "Name", _text(f.key, lambda v: S.edit(["name"], v), "command-name", placeholder="help")
        ),
        muted(S.name_rule),
        labelled(
            "Description",
            _text(f.description, lambda v: S.edit(["description"], v), "command-description"),
        ),
        labelled(
            "Offered in",
            rx.cond(
                telegram,
                _select(
                    TELEGRAM_SCOPES,
                    f.scope_kind,
                    lambda v: S.edit(["scope", "kind"], v),
                    "command-scope",
                ),
                _select(
                    DISCORD_SCOPES,
                    f.scope_kind,
                    lambda v: S.edit(["scope", "kind"], v),
                    "command-scope",
                ),
            ),
        ),
        rx.cond(
            (f.scope_kind == "chat") | (f.scope_kind == "guild"),
            labelled(
                rx.cond(telegram, "Chat", "Server"),
                rx.cond(
                    telegram,
                    _place_picker(S.chat_choices, f.scope_target),
                    _place_picker(S.guild_choices, f.scope_target),
                ),
            ),
        ),
        labelled(
            "What it does",
            rx.vstack(
                _select(
                    COMMAND_ACTIONS,
                    f.action.kind,
                    lambda v: S.set_action(["action"], v),
                    "command-action",
                ),
                target_picker(f.action.kind, f.action.target, ["action"], "command-target"),
                width="100%",
            ),
        ),
        rx.cond(
            ~telegram,
            labelled(
                "Options",
                rx.vstack(
                    rx.foreach(f.options, _option),
                    _add("Option", S.add_part(["options"], "options"), "add-option"),
                    width="100%",
                ),
            ),
        ),
        rx.checkbox("Enabled", checked=f.enabled, on_change=lambda v: S.edit(["enabled"], v)),
        spacing="3",
        width="100%",
    )


# -- responses and menus -------------------------------------------------------------------


def _trigger(trigger: TriggerForm, i: rx.Var) -> rx.Component:
    path = ["triggers", i]
    return rx.hstack(
        rx.box(
            _select(TRIGGERS, trigger.kind, lambda v: S.edit([*path, "kind"], v), "trigger-kind"),
            width="200px",
            flex_shrink="0",
        ),
        _text(
            trigger.value,
            lambda v: S.edit([*path, "value"], v),
            "trigger-value",
            placeholder=rx.match(trigger.kind, *TRIGGER_HINTS.items(), ""),
        ),
        _remove(S.remove_part(path), "trigger"),
        width="100%",
        align="center",
    )


def _text_area(value: rx.Var, field: str, test_id: str) -> rx.Component:
    return rx.vstack(
        rx.text_area(
            value=value,
            on_change=lambda v: S.edit([field], v),
            rows="5",
            width="100%",
            data_testid=test_id,
        ),
        rx.hstack(
            _insert_menu(),
            muted("**bold**, _italic_, `code`, [label](https://…)"),
            align="center",
            spacing="3",
        ),
        width="100%",
    )


def response_form() -> rx.Component:
    f = S.form
    return rx.vstack(
        _language_tabs(),
        labelled(
            "Key",
            _text(f.key, lambda v: S.edit(["key"], v), "response-key", placeholder="welcome"),
            "How commands and buttons name it: a-z, 0-9, _ and -.",
        ),
        labelled(
            "Sent when",
            rx.vstack(
                rx.foreach(f.triggers, _trigger),
                _add("Trigger", S.add_part(["triggers"], "triggers"), "add-trigger"),
                width="100%",
            ),
            "A command pointing at this response sends it too.",
        ),
        labelled("Text", _text_area(f.text, "text", "response-text")),
        labelled(
            "Media",
            rx.hstack(
                rx.select.root(
                    rx.select.trigger(),
                    rx.select.content(*[rx.select.item(k, value=k) for k in MEDIA_KINDS]),
                    value=f.media_kind,
                    on_change=lambda v: S.edit(["media", "kind"], v),
                ),
                _text(
                    f.media_url,
                    lambda v: S.edit(["media", "url"], v),
                    "media-url",
                    placeholder="https://… (optional)",
                ),
                width="100%",
            ),
        ),
        labelled("Buttons", button_rows("buttons")),
        rx.hstack(
            labelled(
                "Answer",
                _select(
                    REPLY_MODES, f.reply_mode, lambda v: S.edit(["reply_mode"], v), "reply-mode"
                ),
            ),
            labelled(
                "Delete after (seconds)",
                _text(
                    f.delete_after,
                    lambda v: S.edit(["delete_after_seconds"], v),
                    "delete-after",
                    placeholder="never",
                    type="number",
                ),
            ),
            width="100%",
        ),
        rx.checkbox("Enabled", checked=f.enabled, on_change=lambda v: S.edit(["enabled"], v)),
        spacing="3",
        width="100%",
    )


def menu_form() -> rx.Component:
    f = S.form
    return rx.vstack(
        _language_tabs(),
        labelled("Key", _text(f.key, lambda v: S.edit(["key"], v), "menu-key", placeholder="main")),
        labelled("Text above the buttons", _text_area(f.text, "title", "menu-title")),
        labelled(
            "Buttons",
            button_rows("rows"),
            "A menu opened from a menu gets a Back button; navigating edits the message.",
        ),
        spacing="3",
        width="100%",
    )

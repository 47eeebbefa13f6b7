"""Communities (/communities) and one community (/communities/[community_ref]): its chats
from every platform, the rules that run by themselves there, and its settings."""

from __future__ import annotations

from typing import Any

import reflex as rx

from flowbot_ui.components.cards import (
    card_grid,
    card_icon,
    dialog_footer,
    feedback,
    muted,
    state_dialog,
)
from flowbot_ui.components.forms import field
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.pages.members import platform_icon
from flowbot_ui.state.communities import (
    ANY,
    DELETE_ALL,
    NO_CHAT,
    PLATFORMS,
    SANCTIONS,
    ChatItem,
    Choice,
    CommunitiesState,
    CommunityCard,
    CommunityState,
    EarningItem,
    PlatformText,
)

L, C = CommunitiesState, CommunityState
_EMPTY = empty_state(
    "users",
    "No communities yet",
    "A community groups chats from Telegram, Discord and WhatsApp, so warnings, reputation, "
    "rules and the moderation log are shared across them.",
)


def _viewer_note(state: Any, what: str) -> rx.Component:
    return rx.cond(
        ~state.can_edit & state.signed_in,
        rx.callout(
            f"You can look but not change {what}: that needs the editor role.",
            icon="eye",
            color_scheme="gray",
            size="1",
        ),
    )


def _small(text: str | rx.Var) -> rx.Component:
    return rx.text(text, size="1", color=rx.color("gray", 11))


# --------------------------------------------------------------------------- the list


def _platform_count(platform: str, count: rx.Var) -> rx.Component:
    return rx.cond(
        count > 0,
        rx.badge(
            platform_icon(rx.Var.create(platform), size=14),
            count,
            variant="soft",
            radius="full",
            data_testid=f"chats-{platform}",
        ),
    )


def _community_card(row: CommunityCard) -> rx.Component:
    return rx.link(
        rx.card(
            rx.vstack(
                rx.hstack(
                    card_icon(rx.icon("users", size=20)),
                    rx.vstack(
                        rx.heading(row.name, size="4", data_testid="community-name"),
                        muted(rx.cond(row.description != "", row.description, "No description")),
                        spacing="0",
                    ),
                    align="center",
                    spacing="3",
                    width="100%",
                ),
                rx.hstack(
                    _platform_count("telegram", row.telegram),
                    _platform_count("discord", row.discord),
                    _platform_count("whatsapp", row.whatsapp),
                    rx.cond(
                        (row.telegram + row.discord + row.whatsapp) == 0,
                        muted("No chats attached"),
                    ),
                    rx.spacer(),
                    rx.hstack(
                        rx.icon("user", size=14),
                        rx.text(row.members, size="2", data_testid="community-members"),
                        muted("members"),
                        spacing="1",
                        align="center",
                    ),
                    align="center",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            size="2",
            data_testid="community-card",
            _hover={"background": rx.color("gray", 2)},
        ),
        href=f"/communities/{row.id}",
        underline="none",
        color="inherit",
    )


def _create_dialog() -> rx.Component:
    return state_dialog(
        L,
        "New community",
        "Name it, then attach chats from any platform and set its rules.",
        rx.form(
            rx.vstack(
                field("Name", "name", placeholder="e.g. Photography club"),
                rx.vstack(
                    rx.text("Description", size="2", weight="medium"),
                    rx.text_area(name="description", placeholder="Optional", width="100%"),
                    spacing="1",
                    width="100%",
                ),
                dialog_footer(
                    rx.button(rx.icon("plus", size=16), "Create community", type="submit")
                ),
                spacing="4",
                width="100%",
            ),
            on_submit=L.create,
        ),
        open=L.create_open,
        data_testid="create-dialog",
    )


def communities_page() -> rx.Component:
    return shell(
        page_header(
            "Communities",
            "Chats grouped across platforms, with members, rules and a shared log.",
            rx.button(
                rx.icon("plus", size=16),
                "New community",
                on_click=L.open_create,
                disabled=~L.can_edit,
                size="3",
                data_testid="new-community",
            ),
        ),
        rx.vstack(
            feedback(L),
            _viewer_note(L, "communities"),
            card_grid(L, _community_card, _EMPTY),
            spacing="4",
            width="100%",
        ),
        _create_dialog(),
    )


# --------------------------------------------------------------------------- chats tab


def _admin_badge(chat: ChatItem) -> rx.Component:
    return rx.cond(
        chat.bot_is_admin,
        rx.badge(rx.icon("shield-check", size=12), "bot is admin", color_scheme="green",
                 variant="soft", data_testid="bot-admin"),
        rx.badge(rx.icon("shield-off", size=12), "bot not admin", color_scheme="amber",
                 variant="soft"),
    )  # fmt: skip


def _chat_title(chat: ChatItem) -> rx.Component:
    return rx.hstack(
        platform_icon(chat.platform),
        rx.vstack(
            rx.text(chat.title, size="2", weight="medium", data_testid="chat-title"),
            _small(chat.detail),
            spacing="0",
        ),
        align="center",
        spacing="2",
        padding_left=rx.cond(chat.is_channel, "24px", "0"),
    )


def _chat_row(chat: ChatItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_chat_title(chat)),
        rx.table.cell(rx.badge(chat.type, variant="outline")),
        rx.table.cell(_admin_badge(chat)),
        rx.table.cell(rx.text(chat.members, size="2")),
        rx.table.cell(muted(chat.connection)),
        rx.table.cell(
            rx.cond(
                ~chat.is_channel,
                rx.button(
                    rx.icon("unlink", size=14),
                    "Detach",
                    variant="soft",
                    color_scheme="gray",
                    size="1",
                    on_click=C.detach(chat.id),
                    disabled=~C.can_edit,
                ),
            )
        ),
        align="center",
        data_testid="attached-chat",
    )


def _chats_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            muted(
                "Events in these chats count for this community. A Discord server comes "
                "with all its channels."
            ),
            rx.spacer(),
            rx.button(
                rx.icon("plus", size=16),
                "Add chats",
                on_click=C.open_picker,
                disabled=~C.can_edit,
                data_testid="add-chats",
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            C.chats.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Chat", "Type", "Bot", "Members", "Connection", "")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(C.chats, _chat_row)),
                variant="surface",
                width="100%",
            ),
            empty_state(
                "message-square-plus",
                "No chats attached",
                "Add the chats this community spans: any group, channel or server your "
                "connections' bots and accounts are in.",
            ),
        ),
        spacing="3",
        width="100%",
    )


def _picker_row(chat: ChatItem) -> rx.Component:
    here = chat.community_id == C.community_id
    taken = (chat.community_id != 0) & ~here
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=C.picker_selected.contains(chat.id) | here,
                on_change=lambda on: C.toggle_chat(chat.id, on),
                disabled=(chat.community_id != 0),
                aria_label="Attach " + chat.title,
                data_testid="pick-chat",
            )
        ),
        rx.table.cell(_chat_title(chat)),
        rx.table.cell(rx.badge(chat.type, variant="outline")),
        rx.table.cell(_admin_badge(chat)),
        rx.table.cell(
            rx.cond(
                here,
                rx.badge("already here", color_scheme="green", variant="soft"),
                rx.cond(
                    taken, rx.badge("in " + chat.community, color_scheme="gray"), muted("free")
                ),
            )
        ),
        align="center",
    )


def _choice(choice: Choice) -> rx.Component:
    return rx.select.item(choice.name, value=choice.id)


def chat_search_bar(
    search: rx.Var, on_search: Any, platform: rx.Var, on_platform: Any
) -> rx.Component:
    """The chat pickers' narrowing: a search over titles, usernames and ids, and a platform."""
    return rx.hstack(
        rx.form(
            rx.hstack(
                rx.input(
                    name="search",
                    placeholder="Search by title, @username or id",
                    default_value=search,
                    width="100%",
                    data_testid="picker-search",
                ),
                rx.button(rx.icon("search", size=14), "Search", type="submit", variant="soft"),
                width="100%",
            ),
            on_submit=on_search,
            flex="1",
        ),
        rx.select.root(
            rx.select.trigger(width="150px", data_testid="picker-platform"),
            rx.select.content(
                rx.select.item("All platforms", value=ANY),
                *[rx.select.item(p.capitalize(), value=p) for p in PLATFORMS],
            ),
            value=platform,
            on_change=on_platform,
        ),
        width="100%",
    )


def _picker_dialog() -> rx.Component:
    return state_dialog(
        C,
        "Add chats",
        "Chats your connections are in. Pick any from any platform; a chat belongs to one "
        "community at a time.",
        chat_search_bar(C.picker_search, C.search_picker, C.picker_platform, C.pick_platform),
        rx.box(
            rx.cond(
                C.picker_rows.length() > 0,
                rx.table.root(
                    rx.table.body(rx.foreach(C.picker_rows, _picker_row)),
                    size="1",
                    width="100%",
                ),
                muted("No discovered chats match. Ask a connection for its chats below."),
            ),
            max_height="360px",
            overflow_y="auto",
            width="100%",
        ),
        rx.hstack(
            muted("Missing a chat?"),
            rx.select.root(
                rx.select.trigger(
                    placeholder="Pick a connection", data_testid="refresh-connection"
                ),
                rx.select.content(rx.foreach(C.connections, _choice)),
                value=C.refresh_connection,
                on_change=C.pick_connection,
                size="1",
            ),
            rx.button(
                rx.icon("refresh-cw", size=14),
                "Ask it for its chats",
                on_click=C.refresh_chats,
                variant="soft",
                size="1",
                disabled=C.refresh_connection == "",
            ),
            align="center",
            width="100%",
        ),
        dialog_footer(
            rx.button(
                rx.icon("link", size=16),
                "Attach " + C.picker_selected.length().to_string() + " chats",
                on_click=C.attach,
                disabled=C.picker_selected.length() == 0,
                data_testid="attach-chats",
            ),
        ),
        open=C.picker_open,
        max_width="820px",
        data_testid="picker-dialog",
    )


# --------------------------------------------------------------------------- rules tab


def _error(name: str) -> rx.Component:
    return rx.cond(
        C.rule_errors.contains(name),
        rx.text(
            C.rule_errors[name], size="1", color=rx.color("red", 11), data_testid="field-error"
        ),
    )


def _label(text: str, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(text, size="2", weight="medium"),
        rx.cond(hint != "", _small(hint)),
        spacing="0",
    )


def _value(name: str) -> rx.Var:
    """The saved value of a dotted setting, as the form field's starting text."""
    return C.form_values[name]


def _number(name: str, label: str, hint: str = "", *, optional: bool = False) -> rx.Component:
    return rx.vstack(
        _label(label, hint),
        rx.input(
            name=name,
            default_value=_value(name),
            key=name + C.rules_version.to_string(),
            type="number",
            placeholder="off" if optional else "",
            width="120px",
            aria_label=label,
        ),
        _error(name),
        spacing="1",
    )


def _text(name: str, label: str, hint: str = "", *, rows: str = "3") -> rx.Component:
    return rx.vstack(
        _label(label, hint),
        rx.text_area(
            name=name,
            default_value=_value(name),
            key=name + C.rules_version.to_string(),
            rows=rows,
            width="100%",
            aria_label=label,
        ),
        _error(name),
        spacing="1",
        width="100%",
    )


def _switch(name: str, label: str) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.switch(
                name=name,
                default_checked=C.form_flags[name],
                key=name + C.rules_version.to_string(),
                aria_label=label,
                data_testid=f"switch-{name}",
            ),
            rx.text(label, size="2", weight="medium"),
            align="center",
            spacing="2",
        ),
        _error(name),
        spacing="1",
    )


def _sanction(name: str, label: str = "What happens") -> rx.Component:
    return rx.vstack(
        _label(label),
        rx.select.root(
            rx.select.trigger(width="200px"),
            rx.select.content(*[rx.select.item(text, value=v) for v, text in SANCTIONS.items()]),
            name=name,
            default_value=_value(name),
            key=name + C.rules_version.to_string(),
        ),
        _error(name),
        spacing="1",
    )


def _section(title: str, icon: str, explanation: str, *body: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.icon(icon, size=18), rx.heading(title, size="3"), align="center"),
            muted(explanation),
            *body,
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _row(*items: rx.Component) -> rx.Component:
    return rx.hstack(*items, spacing="5", wrap="wrap", align="start", width="100%")


EXPRESSION_HINT = (
    "You can use {{ member.name }}, {{ member.username }}, {{ chat.title }} and "
    "{{ community.name }}: they are filled in for each new member."
)


def _welcome() -> rx.Component:
    return _section(
        "Welcome message",
        "hand",
        "Greets everyone who joins one of the community's chats.",
        _switch("welcome.enabled", "Send a welcome message"),
        _text("welcome.message", "Message", EXPRESSION_HINT),
        _number(
            "welcome.delete_after_seconds",
            "Delete it after (seconds)",
            "Empty: keep it. 5 seconds to 1 day.",
            optional=True,
        ),
    )


def _warnings() -> rx.Component:
    return _section(
        "Warnings",
        "triangle-alert",
        "Warnings add up; at these counts the member is muted or banned by itself.",
        _row(
            _number("warnings.mute_at", "Mute at", "warnings (empty: never)", optional=True),
            _number("warnings.mute_minutes", "Mute for", "minutes"),
            _number("warnings.ban_at", "Ban at", "warnings (empty: never)", optional=True),
            _number("warnings.expire_days", "Expire after", "days (empty: never)", optional=True),
        ),
    )


def _antiflood() -> rx.Component:
    return _section(
        "Anti-flood",
        "waves",
        "Someone who sends too many messages too fast.",
        _switch("antiflood.enabled", "Stop flooding"),
        _row(
            _number("antiflood.messages", "More than", "messages"),
            _number("antiflood.seconds", "Within", "seconds"),
            _sanction("antiflood.action"),
            _number("antiflood.mute_minutes", "Mute for", "minutes, when muting"),
        ),
    )


def _antilink() -> rx.Component:
    return _section(
        "Links",
        "link",
        "Messages with links, except to the sites you allow.",
        _switch("antilink.enabled", "Remove links"),
        _switch("antilink.block_invites", "Also invites to other groups and servers"),
        _row(
            rx.box(
                _text(
                    "antilink.allowed_domains",
                    "Allowed sites",
                    "One per line, e.g. example.com (its subdomains too).",
                ),
                width="320px",
            ),
            _sanction("antilink.action"),
        ),
    )


def _banned_words() -> rx.Component:
    return _section(
        "Banned words",
        "ban",
        "Messages containing any of these words (whole words, any letter case).",
        _switch("banned_words.enabled", "Remove messages with banned words"),
        _row(
            rx.box(_text("banned_words.words", "Words", "One per line.", rows="4"), width="320px"),
            rx.vstack(
                _sanction("banned_words.action"),
                _switch("banned_words.regex", "Words are regular expressions (for experts)"),
                spacing="3",
            ),
        ),
    )


def _hold() -> rx.Component:
    return _section(
        "New-member hold",
        "hourglass",
        "New members cannot write until they press a button; those who don't are removed.",
        _switch("hold.enabled", "Hold new members"),
        _row(
            _number("hold.minutes", "Remove after", "minutes without pressing"),
            rx.vstack(
                _label("Button text"),
                rx.input(
                    name="hold.button_text",
                    default_value=_value("hold.button_text"),
                    key="button" + C.rules_version.to_string(),
                    width="220px",
                    aria_label="Button text",
                ),
                _error("hold.button_text"),
                spacing="1",
            ),
        ),
        _text("hold.message", "Message", EXPRESSION_HINT + " {{ minutes }} is the time limit."),
    )


def _earning_row(rule: EarningItem, index: rx.Var) -> rx.Component:
    prefix = "earning." + index.to_string()
    key = prefix + C.rules_version.to_string() + C.earning.length().to_string()
    where = "reputation.earning." + index.to_string()
    return rx.vstack(
        rx.hstack(
            rx.input(
                name=prefix + ".keywords",
                default_value=rule.keywords,
                key=key + "k",
                placeholder="thanks, thank you, спасибо",
                width="320px",
                aria_label="Keywords",
            ),
            muted("gives"),
            rx.input(
                name=prefix + ".points",
                default_value=rule.points,
                key=key + "p",
                type="number",
                width="72px",
                aria_label="Points",
            ),
            muted("points, at most"),
            rx.input(
                name=prefix + ".daily_cap",
                default_value=rule.daily_cap,
                key=key + "c",
                type="number",
                placeholder="no cap",
                width="88px",
                aria_label="Daily cap",
            ),
            muted("a day"),
            rx.icon_button(
                rx.icon("x", size=14),
                type="button",
                variant="ghost",
                color_scheme="gray",
                on_click=C.remove_earning_rule(index),
                aria_label="Remove this rule",
            ),
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            C.rule_errors.contains(where + ".keywords"),
            rx.text(C.rule_errors[where + ".keywords"], size="1", color=rx.color("red", 11)),
        ),
        rx.cond(
            C.rule_errors.contains(where + ".points"),
            rx.text(C.rule_errors[where + ".points"], size="1", color=rx.color("red", 11)),
        ),
        rx.cond(
            C.rule_errors.contains(where + ".daily_cap"),
            rx.text(C.rule_errors[where + ".daily_cap"], size="1", color=rx.color("red", 11)),
        ),
        spacing="1",
    )


def _reputation() -> rx.Component:
    return _section(
        "Reputation",
        "trophy",
        "When someone replies to a message with one of these words, the author of the "
        "message gets the points (at most the daily cap from each rule).",
        _switch("reputation.enabled", "Count reputation"),
        rx.foreach(C.earning, _earning_row),
        rx.button(
            rx.icon("plus", size=14),
            "Add a rule",
            type="button",
            variant="soft",
            size="1",
            on_click=C.add_earning_rule,
        ),
    )


def _log_chat() -> rx.Component:
    return _section(
        "Moderation log chat",
        "scroll-text",
        "Every warning, mute, kick and ban is also posted to this chat (e.g. your "
        "moderators' group).",
        rx.select.root(
            rx.select.trigger(width="360px", data_testid="log-chat"),
            rx.select.content(
                rx.select.item("No log chat", value=NO_CHAT), rx.foreach(C.log_chats, _choice)
            ),
            name="log_chat_id",
            default_value=_value("log_chat_id"),
            key="log" + C.rules_version.to_string(),
        ),
        _error("log_chat_id"),
    )


def _platform_text(item: PlatformText) -> rx.Component:
    prefix = "overrides." + item.platform
    key = prefix + C.rules_version.to_string()
    return rx.vstack(
        rx.hstack(
            rx.switch(
                name=prefix + ".enabled",
                checked=item.enabled,
                on_change=lambda on: C.toggle_platform_text(item.platform, on),
                aria_label="Different on " + item.platform,
            ),
            platform_icon(item.platform),
            rx.text("Different welcome and rules on " + item.platform, size="2", weight="medium"),
            align="center",
            spacing="2",
        ),
        rx.cond(
            item.enabled,
            rx.vstack(
                rx.text_area(
                    name=prefix + ".welcome",
                    default_value=item.welcome,
                    key=key + "w",
                    rows="2",
                    width="100%",
                    aria_label="Welcome message on " + item.platform,
                ),
                rx.text_area(
                    name=prefix + ".rules_text",
                    default_value=item.rules_text,
                    key=key + "r",
                    rows="2",
                    width="100%",
                    placeholder="Rules text on this platform",
                    aria_label="Rules on " + item.platform,
                ),
                spacing="2",
                width="100%",
                padding_left="44px",
            ),
        ),
        rx.cond(
            C.rule_errors.contains(prefix),
            rx.text(C.rule_errors[prefix], size="1", color=rx.color("red", 11)),
        ),
        spacing="2",
        width="100%",
    )


def _overrides() -> rx.Component:
    return _section(
        "Per platform",
        "split",
        "Where a platform needs other words (e.g. Discord mentions, WhatsApp without "
        "formatting), give it its own welcome message and rules text.",
        rx.foreach(C.platform_texts, _platform_text),
    )


def _rules_tab() -> rx.Component:
    return rx.form(
        rx.vstack(
            _section(
                "Rules text",
                "scroll",
                "What members are told the rules are (e.g. with /rules).",
                _text("rules_text", "Rules", rows="4"),
                rx.el.input(type="hidden", name="language", value=_value("language")),
            ),
            _welcome(),
            _warnings(),
            _antiflood(),
            _antilink(),
            _banned_words(),
            _hold(),
            _log_chat(),
            _reputation(),
            _overrides(),
            rx.hstack(
                rx.spacer(),
                rx.button(
                    rx.icon("save", size=16),
                    "Save rules",
                    type="submit",
                    size="3",
                    disabled=~C.can_edit,
                    data_testid="save-rules",
                ),
                width="100%",
                position="sticky",
                bottom="0",
                padding_y="12px",
                background=rx.color("gray", 1),
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=C.save_rules,
        width="100%",
    )


# --------------------------------------------------------------------------- settings tab


def _settings_tab() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Name and description", size="3"),
                    rx.input(
                        name="name",
                        default_value=C.name,
                        key="name" + C.name,
                        width="100%",
                        aria_label="Name",
                    ),
                    rx.text_area(
                        name="description",
                        default_value=C.description,
                        key="description" + C.description,
                        width="100%",
                        aria_label="Description",
                    ),
                    rx.hstack(
                        rx.spacer(),
                        rx.button("Save", type="submit", disabled=~C.can_edit),
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=C.save_settings,
            ),
            width="100%",
        ),
        rx.card(
            rx.vstack(
                rx.heading("Delete this community", size="3", color=rx.color("red", 11)),
                muted(
                    "Its chats are detached. Its members, warnings, moderation log and "
                    "reputation are deleted with it, or moved into another community."
                ),
                rx.button(
                    rx.icon("trash-2", size=16),
                    "Delete community…",
                    color_scheme="red",
                    variant="soft",
                    on_click=C.open_delete,
                    disabled=~C.is_admin,
                    data_testid="delete-community",
                ),
                rx.cond(~C.is_admin, _small("Only admins delete communities.")),
                spacing="3",
            ),
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


def _delete_dialog() -> rx.Component:
    return state_dialog(
        C,
        "Delete " + C.name + "?",
        "This cannot be undone.",
        rx.form(
            rx.vstack(
                _label("Its members, warnings, log and reputation"),
                rx.select.root(
                    rx.select.trigger(width="100%", data_testid="move-to"),
                    rx.select.content(
                        rx.select.item("Delete them too", value=DELETE_ALL),
                        rx.foreach(
                            C.move_choices,
                            lambda c: rx.select.item("Move them into " + c.name, value=c.id),
                        ),
                    ),
                    value=C.move_to,
                    on_change=C.pick_move_to,
                ),
                _label("Type the community's name to confirm", ""),
                rx.input(
                    name="confirm",
                    placeholder=C.name,
                    width="100%",
                    auto_complete="off",
                    data_testid="confirm-name",
                ),  # fmt: skip
                dialog_footer(rx.button("Delete", color_scheme="red", type="submit")),
                spacing="3",
                width="100%",
            ),
            on_submit=C.confirm_delete,
        ),
        open=C.delete_open,
    )


# --------------------------------------------------------------------------- the page


def _header() -> rx.Component:
    return page_header(
        C.name,
        rx.cond(C.description != "", C.description, "A community"),
        rx.link(
            rx.button(rx.icon("users", size=16), "Members (" + C.member_count.to_string() + ")",
                      variant="soft"),
            href="/communities/" + C.community_id.to_string() + "/members",
        ),
        rx.link(
            rx.button(rx.icon("shield", size=16), "Moderation", variant="soft"),
            href="/moderation?community=" + C.community_id.to_string(),
        ),
    )  # fmt: skip


def community_page() -> rx.Component:
    return shell(
        rx.link(
            rx.hstack(rx.icon("arrow-left", size=14), rx.text("Communities", size="2")),
            href="/communities",
            underline="none",
        ),
        rx.cond(
            C.missing,
            empty_state("users", "No such community", "It was deleted, or never existed."),
            rx.vstack(
                _header(),
                feedback(C),
                _viewer_note(C, "this community"),
                rx.tabs.root(
                    rx.tabs.list(
                        rx.tabs.trigger("Chats", value="chats", data_testid="tab-chats"),
                        rx.tabs.trigger("Rules", value="rules", data_testid="tab-rules"),
                        rx.tabs.trigger("Settings", value="settings", data_testid="tab-settings"),
                    ),
                    rx.tabs.content(_chats_tab(), value="chats", padding_top="16px"),
                    rx.tabs.content(_rules_tab(), value="rules", padding_top="16px"),
                    rx.tabs.content(_settings_tab(), value="settings", padding_top="16px"),
                    value=C.tab,
                    on_change=C.pick_tab,
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
        ),
        _picker_dialog(),
        _delete_dialog(),
    )

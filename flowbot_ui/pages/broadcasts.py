"""Broadcast (/broadcast): announcements sent to many chats at once. The history, the
composer (/broadcast/new, /broadcast/<id>/edit) and each broadcast's report
(/broadcast/<id>) with its live progress and every chat's result."""

from __future__ import annotations

import reflex as rx

from flowbot_ui.components.cards import dialog_footer, feedback, muted, state_dialog
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.components.message_preview import message_bubble
from flowbot_ui.components.table import data_table
from flowbot_ui.pages.members import platform_icon
from flowbot_ui.state.broadcasts import (
    ALL,
    PLATFORM_NAMES,
    TARGETS_SHOWN,
    BroadcastRow,
    BroadcastsState,
    ButtonItem,
    ChatOption,
    ComposerState,
    Option,
    ReportState,
    TargetRow,
)

H, C, R = BroadcastsState, ComposerState, ReportState
STATUS_LABELS = {
    "draft": ("Draft", "gray"),
    "scheduled": ("Scheduled", "blue"),
    "sending": ("Sending", "amber"),
    "sent": ("Sent", "green"),
    "partial": ("Partly sent", "orange"),
    "failed": ("Failed", "red"),
    "cancelled": ("Cancelled", "gray"),
}
TARGET_LABELS = {
    "pending": ("Waiting", "gray"),
    "sending": ("Sending", "amber"),
    "sent": ("Sent", "green"),
    "failed": ("Failed", "red"),
    "cancelled": ("Cancelled", "gray"),
}


def _chip(status: rx.Var, labels: dict[str, tuple[str, str]], **props: object) -> rx.Component:
    return rx.badge(
        rx.match(status, *[(k, text) for k, (text, _) in labels.items()], status),
        color_scheme=rx.match(status, *[(k, colour) for k, (_, colour) in labels.items()], "gray"),
        variant="soft",
        radius="full",
        **props,
    )


def _small(text: str | rx.Var, **props: object) -> rx.Component:
    return rx.text(text, size="1", color=rx.color("gray", 11), **props)


def _viewer_note(state: type[rx.State]) -> rx.Component:
    return rx.cond(
        ~state.can_edit & state.signed_in,
        rx.callout(
            "You can look but not send: composing and sending broadcasts needs the editor role.",
            icon="eye",
            color_scheme="gray",
            size="1",
        ),
    )


def _status_filter(value: rx.Var, on_change: rx.EventHandler, labels: dict) -> rx.Component:  # type: ignore[type-arg]
    return rx.select.root(
        rx.select.trigger(aria_label="Status", data_testid="status-filter", min_width="160px"),
        rx.select.content(
            rx.select.item("Any status", value=ALL),
            *[rx.select.item(text, value=key) for key, (text, _) in labels.items()],
        ),
        value=value,
        on_change=on_change,
    )


# --------------------------------------------------------------------------- the history


def _history_row(row: BroadcastRow) -> rx.Component:
    opens = rx.cond(row.status == "draft", f"/broadcast/{row.id}/edit", f"/broadcast/{row.id}")
    return rx.table.row(
        rx.table.cell(
            rx.link(
                rx.cond(row.title != "", row.title, "(no text yet)"),
                href=opens,
                weight="medium",
                data_testid="broadcast-title",
            )
        ),
        rx.table.cell(_chip(row.status, STATUS_LABELS, data_testid="broadcast-status")),
        rx.table.cell(row.targets),
        rx.table.cell(
            rx.hstack(
                rx.text(row.sent, color=rx.color("green", 11)),
                rx.text("/"),
                rx.text(row.failed, color=rx.cond(row.failed > 0, rx.color("red", 11), "inherit")),
                spacing="1",
            )
        ),
        rx.table.cell(row.duration),
        rx.table.cell(rx.vstack(rx.text(row.created), _small(row.finished), spacing="0")),
        rx.table.cell(row.by),
        data_testid="broadcast-row",
    )


def broadcasts_page() -> rx.Component:
    return shell(
        page_header(
            "Broadcast",
            "One message to many chats at once, on every platform.",
            rx.link(
                rx.button(
                    rx.icon("plus", size=16),
                    "New broadcast",
                    size="3",
                    disabled=~H.can_edit,
                    data_testid="new-broadcast",
                ),
                href="/broadcast/new",
            ),
        ),
        rx.vstack(
            feedback(H),
            _viewer_note(H),
            rx.hstack(_status_filter(H.status, H.pick_status, STATUS_LABELS), width="100%"),
            rx.cond(
                H.rows.length() > 0,
                rx.vstack(
                    data_table(
                        (
                            "Broadcast",
                            "Status",
                            "Chats",
                            "Sent / failed",
                            "Took",
                            "Created · finished",
                            "By",
                        ),
                        H.rows,
                        _history_row,
                    ),
                    rx.cond(
                        H.has_more,
                        rx.button("Show more", variant="soft", on_click=H.show_more),
                    ),
                    width="100%",
                    align="center",
                ),
                rx.cond(
                    H.loaded,
                    empty_state(
                        "megaphone",
                        rx.cond(H.status == ALL, "No broadcasts yet", "None with this status"),
                        "Write one message and send it to the chats of your communities on "
                        "Telegram, Discord and WhatsApp at once.",
                    ),
                ),
            ),
            spacing="4",
            width="100%",
        ),
    )


# --------------------------------------------------------------------------- the composer


def _label(text: str, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(text, size="2", weight="medium"),
        rx.cond(hint != "", _small(hint)),
        spacing="0",
    )


def _section(title: str, icon: str, *body: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.icon(icon, size=18), rx.heading(title, size="3"), align="center"),
            *body,
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _format_hint() -> rx.Component:
    marks = (
        ("**bold**", "bold"),
        ("_italic_", "italic"),
        ("~~crossed~~", "crossed out"),
        ("`code`", "code"),
        ("[label](https://…)", "link"),
    )
    return rx.hstack(
        *[
            rx.hstack(rx.code(mark, size="1"), _small(meaning), spacing="1", align="center")
            for mark, meaning in marks
        ],
        spacing="3",
        wrap="wrap",
    )


def _button_row(button: ButtonItem, index: int) -> rx.Component:
    return rx.hstack(
        rx.input(
            value=button.text,
            on_change=lambda v: C.set_button(index, "text", v),
            placeholder="Button text",
            aria_label="Button text",
            width="200px",
        ),
        rx.input(
            value=button.url,
            on_change=lambda v: C.set_button(index, "url", v),
            placeholder="https://",
            aria_label="Button link",
            flex="1",
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            type="button",
            variant="ghost",
            color_scheme="gray",
            on_click=C.remove_button(index),
            aria_label="Remove this button",
        ),
        align="center",
        width="100%",
        data_testid="button-row",
    )


def _override(platform: str) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            platform_icon(rx.Var.create(platform)),
            rx.text(PLATFORM_NAMES[platform], size="2", weight="medium"),
            align="center",
            spacing="2",
        ),
        rx.text_area(
            value=C.overrides.get(platform, ""),
            on_change=lambda v: C.set_override(platform, v),
            placeholder=f"Leave empty to send the message above on {PLATFORM_NAMES[platform]}",
            rows="3",
            width="100%",
            aria_label=f"Text on {PLATFORM_NAMES[platform]}",
        ),
        spacing="1",
        width="100%",
    )


def _message() -> rx.Component:
    # Controlled fields: Reflex debounces their changes and sends the last one as a field
    # loses focus, so clicking Save or Send right after typing still sends what was typed
    # (an extra .debounce() on the handler would delay it past the click).
    return _section(
        "Message",
        "message-square-text",
        _label("Title", "Only for you, in the history. Leave empty to use the first line."),
        rx.input(
            value=C.title,
            on_change=C.set_title,
            width="100%",
            aria_label="Title",
            data_testid="broadcast-title-input",
        ),
        _label("Text"),
        rx.text_area(
            value=C.text,
            on_change=C.set_text,
            rows="8",
            width="100%",
            placeholder="What everyone should read…",
            aria_label="Text",
            data_testid="broadcast-text",
        ),
        _format_hint(),
        _label("Picture or file", "A link to it (optional); it is sent with the message."),
        rx.input(
            value=C.media_url,
            on_change=C.set_media_url,
            placeholder="https://…/poster.jpg",
            width="100%",
            aria_label="Picture or file link",
        ),
        _label("Link buttons", "Shown under the message (on WhatsApp, as links in the text)."),
        rx.foreach(C.buttons, _button_row),
        rx.button(
            rx.icon("plus", size=14),
            "Add a button",
            type="button",
            variant="soft",
            size="1",
            on_click=C.add_button,
            data_testid="add-button",
        ),
        rx.button(
            rx.icon(rx.cond(C.overrides_open, "chevron-down", "chevron-right"), size=14),
            "Different text per platform",
            type="button",
            variant="ghost",
            size="1",
            on_click=C.toggle_overrides,
            data_testid="toggle-overrides",
        ),
        rx.cond(
            C.overrides_open,
            rx.vstack(*[_override(p) for p in PLATFORM_NAMES], spacing="3", width="100%"),
        ),
    )


def _check(label: rx.Var | str, checked: rx.Var, on_change, test_id: str) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.checkbox(
        label, checked=checked, on_change=on_change, aria_label=label, data_testid=test_id
    )


def _community_choice(option: Option) -> rx.Component:
    return _check(
        option.name,
        C.chosen_communities.contains(option.id),
        lambda on: C.toggle_community(option.id, on),
        "pick-community",
    )


def _chat_choice(chat: ChatOption) -> rx.Component:
    return rx.hstack(
        rx.checkbox(
            checked=C.chosen_chat_ids.contains(chat.id),
            on_change=lambda on: C.toggle_chat(chat.id, on),
            aria_label="Send to " + chat.title,
        ),
        platform_icon(chat.platform),
        rx.text(chat.title, size="2"),
        _small(chat.detail),
        align="center",
        spacing="2",
        data_testid="chat-choice",
    )


def _chosen_chat(chat: ChatOption) -> rx.Component:
    return rx.badge(
        platform_icon(chat.platform, size=12),
        chat.title,
        rx.icon("x", size=12, cursor="pointer", on_click=C.toggle_chat(chat.id, False)),
        variant="soft",
        radius="full",
    )


def _targets() -> rx.Component:
    return _section(
        "Who gets it",
        "users",
        _label("Communities", "Every chat attached to them."),
        rx.cond(
            C.community_options.length() > 0,
            rx.flex(rx.foreach(C.community_options, _community_choice), gap="16px", wrap="wrap"),
            _small("No communities yet: pick chats below."),
        ),
        _label("Only on", "Leave all unticked to send on every platform."),
        rx.hstack(
            *[
                _check(
                    name,
                    C.chosen_platforms.contains(platform),
                    lambda on, p=platform: C.toggle_platform(p, on),
                    f"pick-platform-{platform}",
                )
                for platform, name in PLATFORM_NAMES.items()
            ],
            spacing="4",
        ),
        _label("More chats", "Any chat your bots and accounts are in."),
        rx.cond(
            C.chosen_chats.length() > 0,
            rx.flex(rx.foreach(C.chosen_chats, _chosen_chat), gap="6px", wrap="wrap"),
        ),
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            value=C.chat_search,
            on_change=C.search_chats,
            placeholder="Search chats by name",
            width="100%",
            aria_label="Search chats",
        ),
        rx.scroll_area(
            rx.vstack(rx.foreach(C.chat_results, _chat_choice), spacing="2"),
            max_height="180px",
            type="auto",
        ),
        rx.callout(
            C.target_summary,
            icon="send",
            color_scheme=rx.cond(C.target_problem != "", "amber", "violet"),
            size="1",
            data_testid="target-summary",
        ),
        rx.cond(C.target_problem != "", _small(C.target_problem, data_testid="target-problem")),
    )


def _preview() -> rx.Component:
    return _section(
        "How it will look",
        "eye",
        rx.tabs.root(
            rx.tabs.list(
                *[
                    rx.tabs.trigger(name, value=platform, data_testid=f"preview-tab-{platform}")
                    for platform, name in PLATFORM_NAMES.items()
                ]
            ),
            *[
                rx.tabs.content(
                    rx.cond(
                        C.text != "",
                        message_bubble(
                            C.previews.get(platform, ""), data_testid=f"preview-{platform}"
                        ),
                        _small("Write the message to see it here."),
                    ),
                    value=platform,
                    padding_top="12px",
                )
                for platform in PLATFORM_NAMES
            ],
            value=C.preview_tab,
            on_change=C.pick_preview,
            width="100%",
        ),
        rx.cond(
            C.buttons.length() > 0,
            rx.flex(
                rx.foreach(
                    C.buttons,
                    lambda b: rx.badge(
                        rx.icon("external-link", size=12), b.text, size="2", variant="outline"
                    ),
                ),
                gap="6px",
                wrap="wrap",
            ),
        ),
    )


def _editor_button(
    state: type[rx.State],
    icon: str,
    label: str,
    on_click: rx.EventHandler,
    test_id: str,
    **props: object,
) -> rx.Component:
    """An action that changes something: shown to viewers too, but only editors can click."""
    return rx.button(
        rx.icon(icon, size=16),
        label,
        on_click=on_click,
        disabled=~state.can_edit,
        data_testid=test_id,
        **props,
    )


def _actions() -> rx.Component:
    return rx.hstack(
        _editor_button(C, "save", "Save draft", C.save_draft, "save-draft", variant="soft"),
        rx.cond(
            C.draft_id > 0,
            _editor_button(
                C,
                "trash-2",
                "Delete…",
                C.open_delete,
                "delete-draft",
                variant="ghost",
                color_scheme="red",
            ),
        ),
        rx.spacer(),
        _editor_button(
            C, "calendar-clock", "Schedule…", C.open_schedule, "schedule", variant="soft"
        ),
        _editor_button(C, "send", "Send now", C.send_now, "send-now", size="3"),
        width="100%",
        align="center",
        position="sticky",
        bottom="0",
        padding_y="12px",
        background=rx.color("gray", 1),
    )


def _schedule_dialog() -> rx.Component:
    return state_dialog(
        C,
        "Send later",
        "It goes out by itself at this time (" + C.time_zone + ").",
        rx.form(
            rx.vstack(
                rx.input(
                    type="datetime-local",
                    name="at",
                    width="100%",
                    aria_label="Send at",
                    data_testid="schedule-at",
                ),
                dialog_footer(
                    rx.button(rx.icon("calendar-check", size=16), "Schedule", type="submit")
                ),
                spacing="4",
                width="100%",
            ),
            on_submit=C.schedule,
        ),
        open=C.schedule_open,
    )


def _delete_dialog() -> rx.Component:
    return state_dialog(
        C,
        "Delete this broadcast?",
        "It has not been sent; it goes from the history. This cannot be undone.",
        dialog_footer(
            rx.button("Delete", color_scheme="red", on_click=C.delete, data_testid="confirm-delete")
        ),
        open=C.delete_open,
    )


def composer_page() -> rx.Component:
    return shell(
        rx.link(
            rx.hstack(rx.icon("arrow-left", size=14), rx.text("Broadcast", size="2")),
            href="/broadcast",
            underline="none",
        ),
        rx.cond(
            C.missing,
            empty_state("megaphone", "No such broadcast", "It was deleted, or never existed."),
            rx.vstack(
                page_header(
                    rx.cond(C.draft_id > 0, "Edit broadcast", "New broadcast"),
                    "Write it once; each platform gets it in its own format.",
                ),
                _viewer_note(C),
                rx.grid(
                    rx.vstack(_message(), _targets(), spacing="4", width="100%"),
                    rx.box(_preview(), position="sticky", top="16px"),
                    columns=rx.breakpoints(initial="1", lg="3fr 2fr"),
                    spacing="4",
                    align="start",
                    width="100%",
                ),
                feedback(C),
                _actions(),
                spacing="3",
                width="100%",
            ),
        ),
        _schedule_dialog(),
        _delete_dialog(),
    )


# --------------------------------------------------------------------------- the report


def _count(label: str, value: rx.Var, colour: str, test_id: str) -> rx.Component:
    return rx.vstack(
        rx.text(value, size="6", weight="bold", color=rx.color(colour, 11), data_testid=test_id),
        _small(label),
        spacing="0",
        align="center",
        min_width="88px",
    )


def _progress() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                _chip(R.status, STATUS_LABELS, size="2", data_testid="report-status"),
                rx.text(R.percent.to_string() + " %", weight="bold", data_testid="percent"),
                rx.spacer(),
                rx.cond(R.took != "", muted("Took " + R.took)),
                align="center",
                width="100%",
            ),
            rx.progress(value=R.percent, max=100, size="3", data_testid="progress"),
            rx.hstack(
                _count("chats", R.total, "gray", "count-total"),
                _count("sent", R.sent, "green", "count-sent"),
                _count("failed", R.failed, "red", "count-failed"),
                _count("waiting", R.pending, "amber", "count-pending"),
                rx.cond(
                    R.cancelled > 0, _count("cancelled", R.cancelled, "gray", "count-cancelled")
                ),
                spacing="5",
            ),
            rx.hstack(
                _small("Created " + R.created + rx.cond(R.by != "", " by " + R.by, "")),
                rx.cond(
                    R.scheduled != "", _small("· for " + R.scheduled, data_testid="scheduled-for")
                ),
                rx.cond(R.started != "", _small("· started " + R.started)),
                rx.cond(R.finished != "", _small("· finished " + R.finished)),
                spacing="1",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _target_row(row: TargetRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.hstack(platform_icon(row.platform), rx.text(row.title), align="center", spacing="2")
        ),
        rx.table.cell(_chip(row.status, TARGET_LABELS, data_testid="target-status")),
        rx.table.cell(rx.text(row.error, size="2", color=rx.color("red", 11))),
        rx.table.cell(row.sent),
        data_testid="target-row",
    )


def _report_actions() -> rx.Component:
    return rx.hstack(
        rx.cond(
            (R.status == "draft") | (R.status == "scheduled"),
            rx.link(
                rx.button(rx.icon("pencil", size=16), "Edit", variant="soft"),
                href="/broadcast/" + R.broadcast_id.to_string() + "/edit",
                data_testid="edit-broadcast",
            ),
        ),
        rx.cond(
            R.unfinished,
            _editor_button(
                R,
                "circle-stop",
                "Cancel",
                R.cancel,
                "cancel-broadcast",
                color_scheme="red",
                variant="soft",
            ),
        ),
        rx.cond(
            (R.failed > 0) & ~R.unfinished,
            _editor_button(R, "rotate-ccw", "Retry failed", R.retry_failed, "retry-failed"),
        ),
    )


def report_page() -> rx.Component:
    return shell(
        rx.link(
            rx.hstack(rx.icon("arrow-left", size=14), rx.text("Broadcast", size="2")),
            href="/broadcast",
            underline="none",
        ),
        rx.cond(
            R.missing,
            empty_state("megaphone", "No such broadcast", "It was deleted, or never existed."),
            rx.vstack(
                page_header(R.title, "Where it went and how it went.", _report_actions()),
                feedback(R),
                _progress(),
                rx.hstack(
                    rx.heading("Chats", size="4"),
                    rx.spacer(),
                    _status_filter(R.target_status, R.pick_target_status, TARGET_LABELS),
                    width="100%",
                    align="center",
                ),
                data_table(
                    ("Chat", "Result", "Platform's answer", "Sent at"), R.targets, _target_row
                ),
                rx.cond(
                    R.targets.length() >= TARGETS_SHOWN,
                    _small(
                        f"The first {TARGETS_SHOWN} are listed: pick a result above to see "
                        "the others, e.g. the failed ones."
                    ),
                ),
                spacing="4",
                width="100%",
            ),
        ),
    )

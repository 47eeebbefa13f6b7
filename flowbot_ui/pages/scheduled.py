"""Scheduled (/scheduled): messages that go out later or repeat, as an agenda by day in the
viewer's time zone, with the create/edit dialog (live cron preview), pause/resume, cancel and
each message's delivery history."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

import reflex as rx

from flowbot_ui.components.cards import (
    card_icon,
    dialog_footer,
    feedback,
    muted,
    state_dialog,
)
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.pages.members import platform_icon
from flowbot_ui.state.scheduled import (
    ONCE,
    REPEAT,
    VIEWS,
    AgendaItem,
    ChatChoice,
    DayGroup,
    DeliveryItem,
    ScheduledState,
)

S = ScheduledState
ZONES_LIST = "time-zones"
STATUS_COLORS = {"pending": "blue", "paused": "amber", "sent": "green", "failed": "red",
                 "cancelled": "gray"}  # fmt: skip
_EMPTY = empty_state(
    "calendar-clock",
    "Nothing scheduled",
    "Messages you schedule, once or on a repeating schedule, and those your flows' "
    "schedule_message nodes schedule, appear here by day.",
)


def _status(item: AgendaItem) -> rx.Component:
    return rx.badge(
        item.status,
        color_scheme=rx.match(item.status, *STATUS_COLORS.items(), "gray"),
        variant="soft",
        radius="full",
        data_testid="scheduled-status",
    )


def _action(icon: str, label: str, event: Any, name: str, **props: Any) -> rx.Component:
    """One small action button of a card (``name``-scheduled is its test id)."""
    return rx.button(rx.icon(icon, size=14), label, size="1", variant="soft", on_click=event,
                     data_testid=f"{name}-scheduled", **props)  # fmt: skip


def _actions(item: AgendaItem) -> rx.Component:
    paused, pending = item.status == "paused", item.status == "pending"
    locked = ~S.can_edit
    return rx.hstack(
        rx.cond(pending, _action("pause", "Pause", S.pause(item.id), "pause", disabled=locked)),
        rx.cond(paused, _action("play", "Resume", S.resume(item.id), "resume", disabled=locked)),
        rx.cond(
            pending | paused,
            rx.fragment(
                _action(
                    "pencil",
                    "Edit",
                    S.open_edit(item.id),
                    "edit",
                    color_scheme="gray",
                    disabled=locked,
                ),
                _action(
                    "x",
                    "Cancel",
                    S.ask_cancel(item.id),
                    "cancel",
                    color_scheme="red",
                    disabled=locked,
                ),
            ),
        ),  # fmt: skip
        _action("history", "History", S.open_history(item.id), "history", color_scheme="gray"),
        spacing="2",
        wrap="wrap",
    )


def _card(item: AgendaItem) -> rx.Component:
    return rx.card(
        rx.hstack(
            card_icon(rx.icon(rx.cond(item.repeats == "Once", "clock", "repeat"), size=20)),
            rx.vstack(
                rx.hstack(
                    rx.text(item.time, weight="bold", size="3", data_testid="scheduled-time"),
                    _status(item),
                    rx.cond(item.title != "", rx.text(item.title, weight="medium", size="2")),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                rx.text(item.preview, size="2", data_testid="scheduled-preview"),
                rx.hstack(
                    platform_icon(item.platform, size=14),
                    muted(item.chat, data_testid="scheduled-chat"),
                    rx.cond(item.community != "", muted(rx.text.span("· ", item.community))),
                    rx.cond(
                        item.media, rx.badge(rx.icon("image", size=12), "media", variant="outline")
                    ),  # fmt: skip
                    muted(item.repeats, data_testid="scheduled-repeats"),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                rx.cond(
                    item.flow_id > 0,
                    muted(
                        rx.text.span(
                            "Created by flow ",
                            rx.link(item.flow_name, href=f"/flows/{item.flow_id}"),
                        ),
                        data_testid="scheduled-flow",
                    ),
                ),
                rx.cond(
                    (item.status == "paused") & (item.repeats == "Once"),
                    muted(
                        "Resumed after its time has passed, it goes out at the next sweep "
                        "(within a minute)."
                    ),  # fmt: skip
                ),
                rx.cond(
                    item.last_error != "",
                    rx.text(
                        item.last_error,
                        size="2",
                        color=rx.color("red", 11),
                        data_testid="scheduled-error",
                    ),  # fmt: skip
                ),
                _actions(item),
                spacing="2",
                width="100%",
            ),
            align="start",
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="scheduled-card",
    )


def _day(group: DayGroup) -> rx.Component:
    return rx.vstack(
        rx.heading(group.label, size="4", data_testid="agenda-day"),
        rx.foreach(group.messages, _card),
        spacing="3",
        width="100%",
    )


# --------------------------------------------------------------------------- the dialog


def _labelled(label: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        *([muted(hint)] if hint else []),
        spacing="1",
        width="100%",
    )


def _chat_option(choice: ChatChoice) -> rx.Component:
    return rx.select.item(choice.name, value=choice.id)


def _cron_preview() -> rx.Component:
    return rx.vstack(
        rx.cond(
            S.cron_error != "",
            rx.text(S.cron_error, size="2", color=rx.color("red", 11), data_testid="cron-error"),
        ),
        rx.cond(
            S.cron_description != "",
            rx.text(S.cron_description, size="2", weight="medium", data_testid="cron-description"),
        ),
        rx.cond(
            S.cron_runs.length() > 0,
            rx.vstack(
                muted("Next 5 times:"),
                rx.foreach(
                    S.cron_runs, lambda run: rx.text(run, size="1", data_testid="cron-next-run")
                ),
                spacing="1",
            ),
        ),
        spacing="1",
        width="100%",
    )


def _schedule_fields() -> rx.Component:
    return rx.vstack(
        rx.segmented_control.root(
            rx.segmented_control.item("Once at", value=ONCE, data_testid="mode-once"),
            rx.segmented_control.item("Repeats", value=REPEAT, data_testid="mode-repeat"),
            value=S.f_mode,
            on_change=S.set_mode,
        ),
        rx.cond(
            S.f_mode == ONCE,
            _labelled(
                "Send at",
                rx.input(
                    type="datetime-local",
                    name="send_at",
                    default_value=S.f_once,
                    width="100%",
                    data_testid="send-at",
                ),  # fmt: skip
            ),
            _labelled(
                "Cron schedule",
                rx.input(
                    name="repeat_cron",
                    default_value=S.f_cron,
                    placeholder="0 9 * * MON",
                    on_change=S.set_cron.debounce(300),
                    width="100%",
                    data_testid="cron-input",
                ),  # fmt: skip
                "minute hour day-of-month month day-of-week",
            ),
        ),
        rx.cond(S.f_mode == REPEAT, _cron_preview()),
        _labelled(
            "Time zone",
            rx.el.input(
                name="timezone",
                default_value=S.f_zone,
                list=ZONES_LIST,
                on_change=S.set_zone.debounce(300),
                class_name="rt-reset rt-TextFieldInput",
                style={
                    "width": "100%",
                    "padding": "6px 8px",
                    "border": "1px solid var(--gray-7)",
                    "border_radius": "6px",
                },
                data_testid="time-zone",
            ),  # fmt: skip
            "Times above are read in this zone (your browser's by default).",
        ),
        rx.el.datalist(
            *[rx.el.option(value=z) for z in sorted(available_timezones())], id=ZONES_LIST
        ),  # fmt: skip
        spacing="3",
        width="100%",
    )


def _editor_dialog() -> rx.Component:
    return state_dialog(
        S,
        rx.cond(S.editing_id > 0, "Edit scheduled message", "New scheduled message"),
        "Post to one chat later, or on a repeating schedule.",
        rx.form(
            rx.vstack(
                _labelled(
                    "Chat",
                    rx.select.root(
                        rx.select.trigger(
                            placeholder="Pick a chat", width="100%", data_testid="chat-picker"
                        ),
                        rx.select.content(rx.foreach(S.chat_choices, _chat_option)),
                        value=S.f_chat,
                        on_change=S.set_chat,
                    ),  # fmt: skip
                ),
                _labelled(
                    "Title",
                    rx.input(
                        name="title", default_value=S.f_title, placeholder="Optional", width="100%"
                    ),
                ),  # fmt: skip
                _labelled(
                    "Message",
                    rx.text_area(
                        name="text",
                        default_value=S.f_text,
                        rows="5",
                        width="100%",
                        data_testid="scheduled-text",
                    ),  # fmt: skip
                    "**bold**, _italic_, ~~strike~~, `code`, [label](https://…): shown as "
                    "each platform formats it.",
                ),
                _labelled(
                    "Media URL",
                    rx.input(
                        name="media_url",
                        default_value=S.f_media,
                        placeholder="https://… (optional)",
                        width="100%",
                    ),
                ),  # fmt: skip
                _schedule_fields(),
                dialog_footer(
                    rx.button(
                        rx.icon("calendar-check", size=16),
                        "Save",
                        type="submit",
                        data_testid="save-scheduled",
                    )  # fmt: skip
                ),
                spacing="3",
                width="100%",
                key=S.form_key.to_string(),
            ),
            on_submit=S.save,
        ),
        open=S.editor_open,
        max_width="560px",
        data_testid="scheduled-dialog",
    )


def _cancel_dialog() -> rx.Component:
    return state_dialog(
        S,
        "Cancel this message?",
        "It will not be sent again; its delivery history stays.",
        dialog_footer(
            rx.button(
                "Cancel message",
                color_scheme="red",
                on_click=S.confirm_cancel,
                data_testid="confirm-cancel",
            )  # fmt: skip
        ),
        open=S.cancel_id > 0,
    )


def _delivery_row(row: DeliveryItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.due, size="2")),
        rx.table.cell(
            rx.cond(
                row.ok,
                rx.badge("sent", color_scheme="green"),
                rx.badge("failed", color_scheme="red"),
            ),  # fmt: skip
        ),
        rx.table.cell(rx.text(row.detail, size="2")),
        data_testid="delivery-row",
    )


def _history_dialog() -> rx.Component:
    return state_dialog(
        S,
        "Delivery history",
        S.history_title,
        rx.cond(
            S.history.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(*[rx.table.column_header_cell(h) for h in ("Due", "", "")])
                ),
                rx.table.body(rx.foreach(S.history, _delivery_row)),
                width="100%",
            ),
            muted("Not sent yet."),
        ),
        open=S.history_open,
        max_width="640px",
    )


def scheduled_page() -> rx.Component:
    return shell(
        page_header(
            "Scheduled",
            "Messages that go out later or repeat.",
            rx.button(
                rx.icon("plus", size=16),
                "New scheduled message",
                on_click=S.open_new,
                disabled=~S.can_edit,
                size="3",
                data_testid="new-scheduled",
            ),  # fmt: skip
        ),
        rx.vstack(
            feedback(S),
            rx.hstack(
                rx.select(
                    list(VIEWS), value=S.view, on_change=S.set_view, data_testid="scheduled-view"
                ),  # fmt: skip
                rx.spacer(),
                muted(
                    rx.text.span("Times in ", rx.cond(S.time_zone != "", S.time_zone, "UTC")),
                    data_testid="viewer-zone",
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                S.days.length() > 0,
                rx.vstack(rx.foreach(S.days, _day), spacing="5", width="100%"),
                rx.cond(S.loaded, _EMPTY),
            ),
            spacing="4",
            width="100%",
        ),
        _editor_dialog(),
        _cancel_dialog(),
        _history_dialog(),
    )

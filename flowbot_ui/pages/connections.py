"""Connections: the bots and accounts Flowbot drives, their live status, and their logins."""

from __future__ import annotations

from functools import partial

import reflex as rx

from engine.services.connections import RESTARTS_EXPLAINED
from flowbot_ui.components.cards import (
    active_switch,
    card_grid,
    card_icon,
    dialog_footer,
    fact,
    feedback,
    muted,
    state_dialog,
)
from flowbot_ui.components.forms import field
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.state.connections import ConnectionRow, ConnectionsState, LogRow

S = ConnectionsState
_dialog = partial(state_dialog, S)
_EMPTY = empty_state(
    "plug",
    "No connections yet",
    "Connect a Telegram bot, a Telegram account, a Discord bot or WhatsApp. "
    "Flows use them to listen and to act.",
)

# kind, label, icon, one line on what it is
KIND_CHOICES = (
    ("telegram_bot", "Telegram bot", "send", "A bot made with @BotFather."),
    ("telegram_user", "Telegram account", "circle-user-round", "Your own account (phone login)."),
    ("discord_bot", "Discord bot", "gamepad-2", "A bot from the Developer Portal."),
    ("whatsapp_user", "WhatsApp", "message-circle", "A phone, linked by QR code."),
)
STATUS_COLOURS = {
    "connected": "green",
    "connecting": "blue",
    "auth_required": "amber",
    "error": "red",
    "stopped": "gray",
    "paused": "gray",
}


def _kind_icon(kind: rx.Var, size: int = 20) -> rx.Component:
    icons = [(k, rx.icon(icon, size=size)) for k, _, icon, _ in KIND_CHOICES]
    return rx.match(kind, *icons, rx.icon("plug", size=size))


def connection_status_badge(status: rx.Var) -> rx.Component:
    return rx.badge(
        rx.cond(
            status == "connecting",
            rx.spinner(size="1"),
            rx.box(width="7px", height="7px", border_radius="50%", background="currentColor"),
        ),
        rx.match(status, ("auth_required", "auth required"), status),
        color_scheme=rx.match(status, *STATUS_COLOURS.items(), "gray"),
        variant="soft",
        radius="full",
        size="2",
        data_testid="connection-status",
        data_status=status,
    )


# --------------------------------------------------------------------------- the list


def _actions(row: ConnectionRow) -> rx.Component:
    locked = ~S.can_edit
    login = rx.match(
        row.kind,
        ("telegram_user", rx.menu.item(
            rx.icon("log-in", size=14), "Log in again",
            on_click=S.open_telegram_login(row.id), disabled=locked,
        )),
        ("whatsapp_user", rx.menu.item(
            rx.icon("qr-code", size=14), "Link a phone",
            on_click=S.open_whatsapp(row.id), disabled=locked,
        )),
        rx.fragment(
            rx.menu.item(
                rx.icon("key-round", size=14), "Replace token",
                on_click=S.open_token(row.id), disabled=locked,
            ),
            rx.menu.item(
                rx.icon("server", size=14), "API server URL",
                on_click=S.open_settings(row.id), disabled=locked,
            ),
        ),
    )  # fmt: skip
    return rx.hstack(
        active_switch(
            row.active,
            lambda on: S.set_active(row.id, on),
            disabled=locked,
            test_id="connection-active",
        ),
        rx.spacer(),
        rx.tooltip(
            rx.icon_button(
                rx.icon("rotate-cw", size=16),
                variant="soft",
                color_scheme="gray",
                on_click=S.restart(row.id),
                disabled=locked | ~row.active,
                aria_label="Restart",
            ),
            content="Restart the client",
        ),
        rx.button(
            rx.icon("scroll-text", size=16),
            "Log",
            variant="soft",
            color_scheme="gray",
            on_click=S.open_log(row.id),
        ),
        rx.menu.root(
            rx.menu.trigger(
                rx.icon_button(
                    rx.icon("ellipsis", size=16),
                    variant="soft",
                    color_scheme="gray",
                    aria_label="More actions",
                )
            ),
            rx.menu.content(
                login,
                rx.menu.separator(),
                rx.menu.item(
                    rx.icon("trash-2", size=14),
                    "Delete",
                    color_scheme="red",
                    on_click=S.open_delete(row.id),
                    disabled=locked,
                ),
            ),
        ),
        align="center",
        width="100%",
        spacing="2",
    )


def _error(row: ConnectionRow) -> rx.Component:
    """The plain sentence, when the next try is, and the client's own words behind Details."""
    return rx.callout.root(
        rx.callout.icon(rx.icon("triangle-alert", size=16)),
        rx.vstack(
            rx.text(row.error_summary, size="2", data_testid="connection-error"),
            rx.cond(
                row.next_retry != "",
                rx.text(f"Next try: {row.next_retry}", size="1", data_testid="connection-retry"),
            ),
            rx.el.details(
                rx.el.summary(rx.text("Details", size="1", as_="span")),
                rx.code(row.last_error, size="1", data_testid="connection-error-detail"),
            ),
            spacing="1",
            width="100%",
        ),
        color_scheme=rx.cond(row.status == "auth_required", "amber", "red"),
        size="1",
        width="100%",
    )


def _card(row: ConnectionRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                card_icon(_kind_icon(row.kind)),
                rx.vstack(
                    rx.heading(row.name, size="4", data_testid="connection-name"),
                    muted(
                        rx.cond(
                            row.username != "",
                            f"{row.kind_label} · @{row.username}",
                            row.kind_label,
                        )
                    ),
                    spacing="0",
                ),
                rx.spacer(),
                connection_status_badge(row.status),
                align="center",
                width="100%",
                spacing="3",
            ),
            rx.data_list.root(
                fact(
                    "ID",
                    rx.tooltip(
                        rx.code(row.instance_id, variant="ghost", data_testid="connection-id"),
                        content="Flows and the API name this connection by this number; "
                        "node settings list it by its name.",
                    ),
                ),
                fact(
                    "Credential",
                    rx.cond(
                        row.masked != "",
                        rx.code(row.masked, variant="ghost", data_testid="connection-credential"),
                        muted(rx.cond(row.has_token, "none", "set by logging in")),
                    ),
                ),
                fact(
                    "Connected since",
                    muted(rx.cond(row.connected_since != "", row.connected_since, "—")),
                ),
                fact(
                    "Restarts",
                    rx.tooltip(
                        rx.text(row.restarts, size="2", data_testid="connection-restarts"),
                        content=RESTARTS_EXPLAINED,
                    ),
                ),
                fact(
                    "Run by",
                    muted(rx.cond(row.lease_owner != "", row.lease_owner, "not running")),
                ),
                size="2",
                spacing="2",
            ),
            rx.cond(row.last_error != "", _error(row)),
            rx.separator(size="4"),
            _actions(row),
            spacing="3",
            width="100%",
        ),
        size="2",
        data_testid="connection-card",
    )


# --------------------------------------------------------------------------- dialogs


def _buttons(submit: str, *, icon: str = "check") -> rx.Component:
    return dialog_footer(rx.button(rx.icon(icon, size=16), submit, type="submit", loading=S.busy))


def _kind_picker() -> rx.Component:
    return rx.radio_cards.root(
        *[
            rx.radio_cards.item(
                rx.hstack(
                    rx.icon(icon, size=20, color=rx.color("accent", 10)),
                    rx.vstack(
                        rx.text(label, size="2", weight="bold"),
                        rx.text(hint, size="1", color=rx.color("gray", 11)),
                        spacing="0",
                        align="start",
                    ),
                    align="center",
                    width="100%",
                ),
                value=kind,
                data_testid=f"kind-{kind}",
            )
            for kind, label, icon, hint in KIND_CHOICES
        ],
        value=S.add_kind,
        on_value_change=S.pick_kind,
        columns="2",
        width="100%",
    )


def _api_server_field(current: rx.Var | str = "") -> rx.Component:
    """Optional: a local telegram-bot-api server, a compatible endpoint, a test fake."""
    return rx.vstack(
        field(
            "API server URL",
            "api_base_url",
            type="url",
            placeholder="empty: the platform's own API, e.g. http://127.0.0.1:8081",
            required=False,
            default_value=current,
        ),
        muted("Only for a local Bot API server or another compatible endpoint."),
        spacing="1",
        width="100%",
    )


def _kind_fields() -> rx.Component:
    token = field("Bot token", "token", type="password", placeholder="paste the token")
    return rx.match(
        S.add_kind,
        ("telegram_user", rx.vstack(
            rx.hstack(
                field("api_id", "api_id", placeholder="1234567"),
                field("api_hash", "api_hash", placeholder="32 hexadecimal characters"),
                width="100%",
            ),
            muted("From my.telegram.org → API development tools. You log in with your phone "
                   "number next."),
            width="100%",
        )),
        ("whatsapp_user", rx.callout(
            "No token: after adding, scan a QR code with the phone (WhatsApp → Linked devices).",
            icon="qr-code", size="1", width="100%",
        )),
        rx.vstack(
            token,
            muted(rx.cond(
                S.add_kind == "discord_bot",
                "Developer Portal → your application → Bot → Reset Token.",
                "Talk to @BotFather on Telegram: /newbot gives you the token.",
            )),
            rx.el.details(
                rx.el.summary(rx.text("Advanced", size="2", as_="span")),
                _api_server_field(),
                width="100%",
            ),
            width="100%",
        ),
    )  # fmt: skip


def _add_dialog() -> rx.Component:
    return _dialog(
        "Add connection",
        "Pick what to connect; credentials are stored encrypted and never shown again.",
        _kind_picker(),
        rx.form(
            rx.vstack(
                field("Name", "name", placeholder="e.g. Support bot"),
                _kind_fields(),
                _buttons("Add connection", icon="plus"),
                spacing="4",
                width="100%",
            ),
            on_submit=S.add_connection,
        ),
        open=S.add_open,
        max_width="560px",
        data_testid="add-dialog",
    )


def _token_dialog() -> rx.Component:
    return _dialog(
        "Replace token",
        f"A new token for {S.dialog_name}; the client restarts with it.",
        rx.form(
            rx.vstack(
                field("New token", "token", type="password"),
                _buttons("Replace token", icon="key-round"),
                spacing="4",
                width="100%",
            ),
            on_submit=S.replace_token,
        ),
        open=S.token_for > 0,
    )


def _settings_dialog() -> rx.Component:
    return _dialog(
        "API server URL",
        f"Where {S.dialog_name} sends its API calls; the client restarts with the change.",
        rx.form(
            rx.vstack(
                rx.box(_api_server_field(S.settings_url), key=S.settings_for, width="100%"),
                _buttons("Save"),
                spacing="4",
                width="100%",
            ),
            on_submit=S.save_settings,
        ),
        open=S.settings_for > 0,
        data_testid="settings-dialog",
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(f"Delete {S.dialog_name}?"),
            rx.alert_dialog.description(
                "The client stops and the credential and log are deleted. Flows that use this "
                "connection will fail until you pick another one.",
                size="2",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                # A plain button, not alert_dialog.action: its close would race the click.
                rx.button("Delete", color_scheme="red", on_click=S.confirm_delete),
                justify="end",
                padding_top="16px",
            ),
            max_width="440px",
        ),
        open=S.delete_for > 0,
        on_open_change=S.on_dialog_change,
    )


def _log_row(row: LogRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(muted(row.when, white_space="nowrap")),
        rx.table.cell(
            rx.badge(row.event, color_scheme=rx.cond(row.level == "error", "red", "gray"))
        ),
        rx.table.cell(rx.text(row.message, size="2")),
    )


def _log_dialog() -> rx.Component:
    return _dialog(
        f"Log · {S.dialog_name}",
        "The latest status changes and actions, newest first.",
        rx.cond(
            S.log_rows.length() > 0,
            rx.scroll_area(
                rx.table.root(
                    rx.table.body(rx.foreach(S.log_rows, _log_row)), size="1", width="100%"
                ),
                max_height="420px",
            ),
            muted("Nothing logged yet."),
        ),
        rx.hstack(
            rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
            justify="end",
            width="100%",
        ),
        open=S.log_for > 0,
        max_width="720px",
        data_testid="log-dialog",
    )


# --------------------------------------------------------------------------- login wizards


def _steps(current: rx.Var, steps: list[tuple[str, str]]) -> rx.Component:
    return rx.hstack(
        *[
            rx.badge(
                f"{i + 1}. {label}",
                variant=rx.cond(current == key, "solid", "soft"),
                color_scheme=rx.cond(current == key, "violet", "gray"),
                radius="full",
            )
            for i, (key, label) in enumerate(steps)
        ],
        spacing="2",
    )


def _step_form(intro: rx.Component, input_: rx.Component, submit: str, handler) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.form(
        rx.vstack(intro, input_, _buttons(submit, icon="arrow-right"), spacing="4", width="100%"),
        on_submit=handler,
        reset_on_submit=True,
    )


def _success(text: rx.Var | str, testid: str) -> rx.Component:
    return rx.vstack(
        rx.icon("circle-check", size=48, color=rx.color("green", 9)),
        rx.heading(text, size="4", text_align="center"),
        rx.dialog.close(rx.button("Done")),
        align="center",
        spacing="3",
        width="100%",
        padding="16px",
        data_testid=testid,
    )


def _telegram_wizard() -> rx.Component:
    return _dialog(
        "Log in to Telegram",
        f"Link {S.dialog_name}: Flowbot keeps the session encrypted; you can end it any time "
        "in Telegram under Settings → Devices.",
        _steps(S.tg_step, [("phone", "Phone"), ("code", "Code"), ("password", "Password")]),
        rx.match(
            S.tg_step,
            (
                "phone",
                _step_form(
                    muted("Telegram sends a login code to this number's Telegram app."),
                    field("Phone number", "phone", type="tel", placeholder="+49 151 2345678"),
                    "Send code",
                    S.telegram_send_code,
                ),
            ),
            (
                "code",
                _step_form(
                    muted("Enter the code Telegram just sent you (in the app or by SMS)."),
                    field("Login code", "code", placeholder="12345", auto_complete="one-time-code"),
                    "Sign in",
                    S.telegram_submit_code,
                ),
            ),
            (
                "password",
                _step_form(
                    muted(
                        rx.cond(
                            S.tg_hint != "",
                            f"This account has two-step verification. Hint: {S.tg_hint}",
                            "This account has two-step verification.",
                        )
                    ),
                    field(
                        "Cloud password",
                        "password",
                        type="password",
                        auto_complete="current-password",
                    ),
                    "Unlock",
                    S.telegram_submit_password,
                ),
            ),
            _success(f"Logged in as {S.tg_account}", "telegram-login-done"),
        ),  # fmt: skip
        open=S.tg_for > 0,
        data_testid="telegram-wizard",
    )


def _qr_panel() -> rx.Component:
    waiting = rx.vstack(
        rx.spinner(size="3"),
        rx.text("Waiting for a QR code from WhatsApp…", size="2", weight="medium"),
        muted(S.wa_message, text_align="center"),
        align="center",
        justify="center",
        spacing="3",
        height="100%",
        data_testid="qr-waiting",
    )
    return rx.center(
        rx.cond(
            S.wa_pair_code != "",
            rx.vstack(
                muted("On the phone: WhatsApp → Linked devices → Link with phone number:"),
                rx.code(S.wa_pair_code, size="8", weight="bold", data_testid="pair-code"),
                align="center",
                spacing="3",
            ),
            rx.cond(
                S.wa_qr != "",
                rx.image(
                    src=S.wa_qr,
                    width="256px",
                    height="256px",
                    alt="WhatsApp QR code",
                    data_testid="qr-image",
                ),
                waiting,
            ),
        ),  # fmt: skip
        width="100%",
        min_height="280px",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="12px",
        padding="12px",
    )


def _whatsapp_wizard() -> rx.Component:
    return _dialog(
        "Link WhatsApp",
        "On the phone: WhatsApp → Settings → Linked devices → Link a device, then scan. "
        "Codes refresh about every 20 seconds.",
        rx.cond(
            S.wa_status == "connected",
            _success("WhatsApp is linked", "whatsapp-linked"),
            rx.vstack(
                _qr_panel(),
                rx.form(
                    rx.hstack(
                        field(
                            "Or link with a phone number",
                            "phone",
                            type="tel",
                            placeholder="+49 151 2345678",
                        ),
                        rx.button(
                            "Get pairing code", type="submit", loading=S.busy, variant="soft"
                        ),
                        align="end",
                        width="100%",
                    ),
                    on_submit=S.whatsapp_pair,
                    width="100%",
                ),
                muted("Closing this window before linking pauses the connection."),
                spacing="4",
                width="100%",
            ),
        ),  # fmt: skip
        open=S.wa_for > 0,
        data_testid="whatsapp-wizard",
    )


# --------------------------------------------------------------------------- the page


def connections_page() -> rx.Component:
    return shell(
        page_header(
            "Connections",
            "Telegram, Discord and WhatsApp bots and accounts, and how they are doing now.",
            rx.button(
                rx.icon("plus", size=16),
                "Add connection",
                on_click=S.open_add,
                disabled=~S.can_edit,
                size="3",
            ),
        ),
        rx.vstack(feedback(S), card_grid(S, _card, _EMPTY), spacing="4", width="100%"),
        _add_dialog(),
        _token_dialog(),
        _settings_dialog(),
        _delete_dialog(),
        _log_dialog(),
        _telegram_wizard(),
        _whatsapp_wizard(),
    )

"""Webhooks: URLs other systems call to start a flow, with an optional signing secret."""

from __future__ import annotations

from functools import partial

import reflex as rx

from engine.services import webhooks as webhook_service
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
from flowbot_ui.components.code_copy import copy_button, snippet
from flowbot_ui.components.forms import field
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.state.webhooks import FlowChoice, WebhookRow, WebhooksState

S = WebhooksState
_dialog = partial(state_dialog, S, max_width="520px")
_EMPTY = empty_state(
    "webhook",
    "No webhooks yet",
    "Each webhook gets its own URL that starts a flow when called, with an "
    "optional HMAC signature secret.",
)


# --------------------------------------------------------------------------- the list


def _badges(row: WebhookRow) -> rx.Component:
    return rx.hstack(
        rx.badge(
            rx.cond(row.node_removed, "node removed", rx.cond(row.active, "active", "paused")),
            color_scheme=rx.cond(row.node_removed, "red", rx.cond(row.active, "green", "gray")),
            variant="soft",
            radius="full",
            data_testid="webhook-status",
        ),
        rx.badge(
            rx.cond(row.has_secret, rx.icon("lock", size=12), rx.icon("lock-open", size=12)),
            rx.cond(row.has_secret, "signed", "unsigned"),
            color_scheme=rx.cond(row.has_secret, "violet", "amber"),
            variant="soft",
            radius="full",
            data_testid="webhook-signing",
        ),
        spacing="2",
    )


def _wait_control(row: WebhookRow) -> rx.Component:
    locked = ~S.can_edit | (row.node_id != "")  # a node's endpoint waits as its node says
    return rx.hstack(
        rx.switch(
            checked=row.wait,
            on_change=lambda on: S.set_wait(row.id, on),
            disabled=locked,
            aria_label="Wait for the result",
            size="1",
        ),
        muted(rx.cond(row.wait, "answers with the result, up to", "answers at once (202)")),
        rx.cond(
            row.wait,
            rx.hstack(
                rx.input(
                    default_value=row.timeout.to_string(),
                    key=row.url + row.timeout.to_string(),
                    type="number",
                    min=1,
                    max=60,
                    on_blur=lambda value: S.set_timeout(row.id, value),
                    disabled=locked,
                    size="1",
                    width="64px",
                    aria_label="Wait timeout in seconds",
                ),
                muted("s"),
                align="center",
                spacing="1",
            ),
        ),
        align="center",
        spacing="2",
    )


def _actions(row: WebhookRow) -> rx.Component:
    locked = ~S.can_edit
    return rx.hstack(
        active_switch(
            row.active,
            lambda on: S.set_active(row.id, on),
            disabled=locked,
            test_id="webhook-active",
        ),
        rx.spacer(),
        rx.cond(
            (row.node_id == "") | row.has_secret,  # a node's endpoint is signed as it says
            rx.button(
                rx.icon("key-round", size=16),
                rx.cond(row.has_secret, "New secret", "Add secret"),
                variant="soft",
                on_click=S.new_secret(row.id),
                disabled=locked,
            ),
        ),
        rx.menu.root(
            rx.menu.trigger(
                rx.icon_button(
                    rx.icon("ellipsis", size=16),
                    variant="soft",
                    color_scheme="gray",
                    aria_label="More actions",
                    disabled=locked,
                )
            ),
            rx.menu.content(
                rx.menu.item(
                    rx.icon("refresh-cw", size=14), "New URL (rotate)", on_click=S.rotate(row.id)
                ),
                rx.cond(
                    row.has_secret & (row.node_id == ""),
                    rx.menu.item(
                        rx.icon("lock-open", size=14),
                        "Remove secret",
                        on_click=S.clear_secret(row.id),
                    ),
                ),
                rx.menu.separator(),
                rx.menu.item(
                    rx.icon("trash-2", size=14),
                    "Delete",
                    color_scheme="red",
                    on_click=S.open_delete(row.id),
                ),
            ),
        ),
        align="center",
        width="100%",
        spacing="2",
    )


def _owner(row: WebhookRow) -> rx.Component:
    """Which node of the flow owns the endpoint (its settings are set there), or none."""
    return rx.cond(
        row.node_id != "",
        rx.hstack(
            muted("· its Webhook trigger"),
            rx.code(row.node_id, size="1"),
            muted(rx.cond(row.node_removed, "(removed from the flow)", "sets name and options")),
            spacing="1",
            align="center",
            data_testid="webhook-node",
        ),
        muted("· made on this page", data_testid="webhook-node"),
    )


def _card(row: WebhookRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                card_icon(rx.icon("webhook", size=20)),
                rx.vstack(
                    rx.heading(row.name, size="4", data_testid="webhook-name"),
                    rx.hstack(
                        muted("starts"),
                        rx.link(
                            row.flow_name,
                            href=f"/flows/{row.flow_id}",
                            size="2",
                            data_testid="webhook-flow",
                        ),
                        _owner(row),
                        spacing="1",
                        align="center",
                    ),
                    spacing="0",
                ),
                rx.spacer(),
                _badges(row),
                align="center",
                width="100%",
                spacing="3",
            ),
            rx.hstack(
                rx.code(
                    row.url,
                    variant="soft",
                    size="2",
                    word_break="break-all",
                    flex="1",
                    min_width="0",
                    data_testid="webhook-url",
                ),
                copy_button(row.url, "URL"),
                align="center",
                width="100%",
            ),
            rx.data_list.root(
                fact("Calls", rx.text(row.calls, size="2", data_testid="webhook-calls")),
                fact("Last call", muted(row.last_call, data_testid="webhook-last-call")),
                fact("Response", _wait_control(row)),
                size="2",
                spacing="2",
            ),
            rx.box(
                rx.hstack(
                    muted(
                        rx.cond(
                            row.has_secret,
                            "Try it (signed with the secret in $WEBHOOK_SECRET):",
                            "Try it:",
                        ),
                        weight="medium",
                    ),
                    rx.spacer(),
                    copy_button(row.curl, "Example"),
                    align="center",
                    width="100%",
                ),
                snippet(row.curl, "bash", "webhook-curl", margin="4px 0 0 0"),
                width="100%",
            ),
            rx.separator(size="4"),
            _actions(row),
            spacing="3",
            width="100%",
        ),
        size="2",
        data_testid="webhook-card",
    )


# --------------------------------------------------------------------------- signing docs

_WINDOW_MINUTES = int(webhook_service.SIGNATURE_WINDOW.total_seconds()) // 60


def _signing_help() -> rx.Component:
    """How a sender signs, next to the webhooks that need it: the scheme, then the same
    call in Python and in the shell (both run against a real server in the tests)."""
    return rx.card(
        rx.el.details(
            rx.el.summary(
                rx.text("How to sign requests", size="3", weight="medium", as_="span"),
                cursor="pointer",
                data_testid="signing-summary",
            ),
            rx.vstack(
                muted(
                    "A webhook with a secret accepts only signed requests. Send two headers: "
                    f"{webhook_service.TIMESTAMP_HEADER}, the Unix time in seconds when you "
                    f"sign, and {webhook_service.SIGNATURE_HEADER}: "
                    f"{webhook_service.SIGNATURE_PREFIX}<hex>, the HMAC-SHA256, keyed with "
                    "the secret, of the timestamp, a dot and the raw body (timestamp.body)."
                ),
                muted(
                    f"A timestamp more than {_WINDOW_MINUTES} minutes away from the server's "
                    "clock is refused (401), and each signature is accepted once (a repeat "
                    "gets 409), so a captured request cannot be replayed. Sign every request, "
                    "retries included, when you send it; two identical bodies in the same "
                    "second need something that tells them apart, such as an event id."
                ),
                muted("Python (standard library only):", weight="medium"),
                snippet(
                    webhook_service.python_example(webhook_service.EXAMPLE_URL),
                    "python",
                    "signing-python",
                ),
                muted("Shell (curl and openssl):", weight="medium"),
                snippet(
                    webhook_service.curl_example(webhook_service.EXAMPLE_URL, signed=True),
                    "bash",
                    "signing-curl",
                ),
                spacing="2",
                padding_top="8px",
                width="100%",
            ),
        ),
        size="2",
        width="100%",
        data_testid="signing-help",
    )


def _feedback() -> rx.Component:
    return rx.vstack(
        feedback(S),
        rx.cond(
            ~S.can_edit & S.signed_in,
            rx.callout(
                "You can look but not change webhooks: that needs the editor role.",
                icon="eye",
                color_scheme="gray",
                size="1",
            ),
        ),
        width="100%",
    )


# --------------------------------------------------------------------------- dialogs


def _flow_item(flow: FlowChoice) -> rx.Component:
    return rx.select.item(flow.name, value=flow.id)


def _create_dialog() -> rx.Component:
    return _dialog(
        "New webhook",
        "A URL that starts a flow. The flow must be published before calls run it.",
        rx.form(
            rx.vstack(
                field("Name", "name", placeholder="e.g. Shop orders"),
                rx.vstack(
                    rx.text("Flow", size="2", weight="medium"),
                    rx.cond(
                        S.flows.length() > 0,
                        rx.select.root(
                            rx.select.trigger(
                                placeholder="Pick a flow", width="100%", data_testid="flow-select"
                            ),
                            rx.select.content(rx.foreach(S.flows, _flow_item)),
                            value=S.create_flow,
                            on_change=S.pick_flow,
                            size="3",
                        ),
                        muted("No flows yet: create one on the Flows page first."),
                    ),
                    spacing="1",
                    width="100%",
                ),
                dialog_footer(rx.button(rx.icon("plus", size=16), "Create webhook", type="submit")),
                spacing="4",
                width="100%",
            ),
            on_submit=S.create,
        ),
        open=S.create_open,
        data_testid="create-dialog",
    )


def _secret_dialog() -> rx.Component:
    return _dialog(
        f"Signing secret · {S.dialog_name}",
        "Copy it now: it is stored encrypted and never shown again. From now on calls need "
        "X-Flowbot-Timestamp and X-Flowbot-Signature (see How to sign requests on the page).",
        rx.hstack(
            rx.code(S.secret, size="3", word_break="break-all", data_testid="new-secret"),
            copy_button(S.secret, "Secret"),
            align="center",
            width="100%",
        ),
        muted("For the example on the card, keep it in your shell:"),
        rx.code_block(f"export WEBHOOK_SECRET='{S.secret}'", language="bash", wrap_long_lines=True),
        rx.hstack(
            rx.dialog.close(rx.button("I have copied it", data_testid="secret-done")),
            justify="end",
            width="100%",
        ),
        open=S.secret_for > 0,
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(f"Delete {S.dialog_name}?"),
            rx.alert_dialog.description(
                "Its URL stops working at once (404). The flow itself is kept.", size="2"
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


# --------------------------------------------------------------------------- the page


def webhooks_page() -> rx.Component:
    return shell(
        page_header(
            "Webhooks",
            "URLs other systems call to start flows.",
            rx.button(
                rx.icon("plus", size=16),
                "New webhook",
                on_click=S.open_create,
                disabled=~S.can_edit,
                size="3",
            ),
        ),
        rx.vstack(
            _feedback(), card_grid(S, _card, _EMPTY), _signing_help(), spacing="4", width="100%"
        ),
        _create_dialog(),
        _secret_dialog(),
        _delete_dialog(),
    )

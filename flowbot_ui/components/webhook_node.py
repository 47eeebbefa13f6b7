"""The Webhook trigger node's endpoint on its panel: URL, curl example, the secret once.

Rendered for every selected node and keyed by the node and the live version, so it loads
again when the selection changes or a publish makes (or changes) the endpoint.
"""

from __future__ import annotations

import reflex as rx

from flowbot_ui.components.cards import muted
from flowbot_ui.components.code_copy import copy_button, snippet
from flowbot_ui.state.editor import EditorState
from flowbot_ui.state.room import FlowRoom
from flowbot_ui.state.webhook_node import WebhookNodeState as S


def _secret() -> rx.Component:
    return rx.callout.root(
        rx.callout.text(
            "Signing secret — shown this once, store it now (as $WEBHOOK_SECRET for the example):",
            weight="medium",
        ),
        rx.hstack(
            rx.code(S.secret, word_break="break-all", data_testid="webhook-node-secret"),
            copy_button(S.secret, "Secret"),
            rx.button("I stored it", size="1", variant="soft", on_click=S.hide_secret),
            align="center",
            spacing="2",
        ),
        color_scheme="amber",
        size="1",
    )


def _endpoint() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Endpoint", size="2", weight="bold"),
            rx.badge(S.status, variant="soft", data_testid="webhook-node-status"),
            rx.spacer(),
            rx.link("Webhooks page", href="/webhooks", size="1"),
            align="center",
            width="100%",
        ),
        rx.hstack(
            rx.code(S.url, word_break="break-all", flex="1", data_testid="webhook-node-url"),
            copy_button(S.url, "URL"),
            align="center",
            width="100%",
        ),
        rx.cond(S.secret != "", _secret()),
        muted("Try it:"),
        snippet(S.curl, "bash", "webhook-node-curl"),
        spacing="2",
        width="100%",
    )


def webhook_node_panel() -> rx.Component:
    return rx.box(
        rx.cond(
            S.node_id != "",
            rx.cond(
                S.url != "",
                _endpoint(),
                muted(
                    "Publish the flow to get this node's URL.",
                    data_testid="webhook-node-unpublished",
                ),
            ),
        ),
        key=EditorState.selected_id + "@" + FlowRoom.live_version.to_string(),
        on_mount=S.load(EditorState.selected_id),
        width="100%",
    )

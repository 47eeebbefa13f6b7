"""Turn an HTTP call (a monitoring system, a form) into a Telegram message."""

from typing import Any

from engine.flow_templates.base import (
    Answers,
    FlowTemplate,
    Node,
    chain,
    telegram_bot,
    telegram_chat,
)

ALERT = "🔔 {{ trigger.data.body.text | default('Alert received') }}"


def build(answers: Answers) -> dict[str, Any]:
    return chain(
        Node("call", "webhook", {"endpoint_name": "alerts"}, 0),
        Node(
            "alert",
            "tg_send_message",
            {"instance_id": answers["telegram"], "chat_id": answers["chat"], "text": ALERT},
            1,
        ),
    )


TEMPLATE = FlowTemplate(
    id="webhook_alert",
    title="Webhook → Telegram alert",
    description="Anything that can call a URL (monitoring, a form, a script) posts an alert "
    "in a Telegram chat; the JSON body's “text” is the message.",
    icon="siren",
    needs=(telegram_bot(), telegram_chat("Alert chat")),
    build=build,
)

"""Approve requests to join a group with join requests on, and greet the new member."""

from typing import Any

from engine.flow_templates.base import Answers, FlowTemplate, Node, chain, telegram_bot


def build(answers: Answers) -> dict[str, Any]:
    return chain(
        Node("request", "tg_chat_join_request", {"instance_id": answers["telegram"]}, 0),
        Node("approve", "tg_approve_join_request", {}, 1),
        Node(
            "greet",
            "tg_send_message",
            {
                "chat_id": "{{trigger.user.id}}",
                "text": "Welcome to {{trigger.chat.title}}! Your request was approved.",
            },
            2,
        ),
    )


TEMPLATE = FlowTemplate(
    id="join_requests",
    title="Approve join requests",
    description="Approves everyone who asks to join a group or channel (join requests on) "
    "and sends them a welcome in private. The bot must be an admin there.",
    icon="user-check",
    needs=(telegram_bot(),),
    build=build,
)

"""/ping answers pong: the smallest flow, to check a bot is alive."""

from typing import Any

from engine.flow_templates.base import Answers, FlowTemplate, Node, chain, telegram_bot


def build(answers: Answers) -> dict[str, Any]:
    return chain(
        Node("ping", "tg_command", {"instance_id": answers["telegram"], "command": "ping"}, 0),
        Node("pong", "reply_in_place", {"text": "pong {{trigger.user.first_name}}"}, 1),
    )


TEMPLATE = FlowTemplate(
    id="ping",
    title="/ping → pong",
    description="Answers /ping with “pong” and the sender's name: a quick check the bot runs.",
    icon="radio",
    needs=(telegram_bot(),),
    build=build,
)

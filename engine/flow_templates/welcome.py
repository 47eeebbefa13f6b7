"""Welcome new members of a Telegram group by name."""

from typing import Any

from engine.flow_templates.base import Answers, FlowTemplate, Node, chain, telegram_bot


def build(answers: Answers) -> dict[str, Any]:
    return chain(
        Node("joined", "tg_member_joined", {"instance_id": answers["telegram"]}, 0),
        Node(
            "welcome",
            "tg_send_message",
            {
                "text": "Welcome, {{trigger.user.first_name}}! Please read the pinned rules "
                "and say hello."
            },
            1,
        ),
    )


TEMPLATE = FlowTemplate(
    id="welcome",
    title="Welcome new members",
    description="Greets everyone who joins a group the bot is in, by first name.",
    icon="hand",
    needs=(telegram_bot(),),
    build=build,
)

"""A reply saying "thanks" gives the person replied to a reputation point."""

from typing import Any

from engine.flow_templates.base import Answers, FlowTemplate, Node, chain, telegram_bot

THANKED = "{{trigger.data.reply_to_user.id}}"


def build(answers: Answers) -> dict[str, Any]:
    return chain(
        Node("message", "tg_message", {"instance_id": answers["telegram"]}, 0),
        Node("reply", "is_reply", {}, 1),
        Node(
            "thanks",
            "text_contains",
            {
                "text": "{{trigger.text}}",
                "values": ["thanks", "thank you", "thx"],
                "whole_word": True,
            },  # fmt: skip
            2,
        ),
        Node("point", "adjust_reputation", {"delta": 1, "user_id": THANKED, "reason": "thanks"}, 3),
        Node(
            "tell",
            "reply_in_place",
            {
                "text": "+1 for {{trigger.data.reply_to_user.first_name}} "
                "({{node.point.score | default('?')}} points)"
            },  # fmt: skip
            4,
        ),
    )


TEMPLATE = FlowTemplate(
    id="thanks_reputation",
    title="“Thanks” → reputation",
    description="Replying “thanks” to someone's message gives them a reputation point. Works "
    "in chats of a community with reputation switched on.",
    icon="heart-handshake",
    needs=(telegram_bot(),),
    build=build,
)

"""Delete messages with links and tell the sender why."""

from typing import Any

from engine.flow_templates.base import Answers, FlowTemplate, Node, chain, telegram_bot

LINK_PATTERN = r"(https?://|www\.|t\.me/)\S+"


def build(answers: Answers) -> dict[str, Any]:
    return chain(
        Node("message", "tg_message", {"instance_id": answers["telegram"]}, 0),
        Node("has_link", "text_regex", {"text": "{{trigger.text}}", "pattern": LINK_PATTERN}, 1),
        Node("delete", "tg_delete_message", {}, 2),
        Node(
            "warn",
            "tg_send_message",
            {
                "text": "{{trigger.user.first_name}}, links are not allowed here: your message "
                "was removed."
            },  # fmt: skip
            3,
        ),
    )


TEMPLATE = FlowTemplate(
    id="anti_link",
    title="Anti-link: delete and warn",
    description="Deletes messages that contain a link and tells the sender why. The bot must "
    "be an admin allowed to delete messages.",
    icon="link-2-off",
    needs=(telegram_bot(),),
    build=build,
)

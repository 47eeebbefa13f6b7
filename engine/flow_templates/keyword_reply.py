"""Answer a frequent question whenever its keywords come up."""

from typing import Any

from engine.flow_templates.base import Answers, FlowTemplate, Node, chain, telegram_bot


def build(answers: Answers) -> dict[str, Any]:
    return chain(
        Node("message", "tg_message", {"instance_id": answers["telegram"]}, 0),
        Node(
            "asks",
            "text_contains",
            {"text": "{{trigger.text}}", "values": ["opening hours", "when are you open"]},
            1,
        ),
        Node("answer", "tg_reply", {"text": "We are open Monday to Friday, 9:00–17:00."}, 2),
    )


TEMPLATE = FlowTemplate(
    id="keyword_reply",
    title="Keyword auto-reply",
    description="Replies with a set answer when a message mentions one of the keywords. Edit "
    "the keywords and the answer in the flow.",
    icon="message-square-reply",
    needs=(telegram_bot(),),
    build=build,
)

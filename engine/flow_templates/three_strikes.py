"""Count strikes per member (a blocked word) and mute at the third."""

from typing import Any

from engine.flow_templates.base import Answers, FlowTemplate, Node, Wire, graph, telegram_bot

BLOCKED_WORDS = ["casino", "free money", "crypto giveaway"]
STRIKES = 3
MUTE_SECONDS = 24 * 3600


def build(answers: Answers) -> dict[str, Any]:
    nodes = [
        Node("message", "tg_message", {"instance_id": answers["telegram"]}, 0),
        Node("blocked", "text_contains", {"text": "{{trigger.text}}", "values": BLOCKED_WORDS}, 1),
        Node("delete", "tg_delete_message", {}, 2),
        Node("strike", "counter", {"name": "strikes", "per": "user"}, 3),
        Node("remember", "set_variable", {"name": "strikes", "value": "{{node.strike.value}}"}, 4),
        Node("third", "variable_compare", {"name": "strikes", "op": ">", "value": STRIKES - 1}, 5),
        Node("mute", "tg_mute_member", {"duration_seconds": MUTE_SECONDS}, 6),
        Node(
            "muted",
            "tg_send_message",
            {"text": "{{trigger.user.first_name}} is muted for a day after three strikes."},
            7,
        ),
        Node(
            "warn",
            "tg_send_message",
            {
                "text": "{{trigger.user.first_name}}, strike {{node.strike.value}} of 3: that is "
                "not allowed here."
            },  # fmt: skip
            6,
            1,
        ),
    ]
    wires = [
        Wire("message", "blocked"),
        Wire("blocked", "delete", "true"),
        Wire("delete", "strike"),
        Wire("strike", "remember"),
        Wire("remember", "third"),
        Wire("third", "mute", "true"),
        Wire("mute", "muted"),
        Wire("third", "warn", "false"),
    ]
    return graph(nodes, wires)


TEMPLATE = FlowTemplate(
    id="three_strikes",
    title="Three strikes → mute",
    description="A message with a blocked word is deleted and counts as a strike; the third "
    "strike mutes the sender for a day. Edit the words in the “blocked” node.",
    icon="gavel",
    needs=(telegram_bot(),),
    build=build,
)

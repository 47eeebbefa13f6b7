"""Every morning, post the community's size and its most helpful members."""

from typing import Any

from engine.flow_templates.base import (
    Answers,
    FlowTemplate,
    Node,
    chain,
    community,
    telegram_bot,
    telegram_chat,
)

DIGEST = (
    "Good morning! {{node.members.rows[0].count}} members are in the community today."
    "{% if node.helpers.rows %} Most helpful: "
    "{% for r in node.helpers.rows %}{{ r.display_name or r.username or r.platform_user_id }}"
    "{% if not loop.last %}, {% endif %}{% endfor %}.{% endif %}"
)


def build(answers: Answers) -> dict[str, Any]:
    community_id = answers["community"]
    return chain(
        Node("morning", "schedule", {"cron": "0 9 * * *", "timezone": "UTC"}, 0),
        Node(
            "members",
            "db_query",
            {"query": "member_count", "params": {"community_id": community_id}},
            1,
        ),
        Node(
            "helpers",
            "db_query",
            {"query": "top_reputation", "params": {"community_id": community_id, "limit": 3}},
            2,
        ),
        Node(
            "post",
            "tg_send_message",
            {"instance_id": answers["telegram"], "chat_id": answers["chat"], "text": DIGEST},
            3,
        ),
    )


TEMPLATE = FlowTemplate(
    id="daily_digest",
    title="Daily digest",
    description="At 9:00 UTC posts how many members the community has and its three most "
    "helpful members (by reputation).",
    icon="newspaper",
    needs=(community(), telegram_bot(), telegram_chat("Post in")),
    build=build,
)

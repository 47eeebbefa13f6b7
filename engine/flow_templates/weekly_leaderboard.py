"""Every Sunday evening, post the community's reputation leaderboard."""

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

BOARD = (
    "🏆 Leaderboard of the week\n"
    "{% for r in node.top.rows %}{{ loop.index }}. "
    "{{ r.display_name or r.username or r.platform_user_id }}: {{ r.score }}\n"
    "{% else %}No points given yet: reply “thanks” to a helpful message!{% endfor %}"
)


def build(answers: Answers) -> dict[str, Any]:
    return chain(
        Node("sunday", "schedule", {"cron": "0 18 * * 0", "timezone": "UTC"}, 0),
        Node(
            "top",
            "db_query",
            {
                "query": "top_reputation",
                "params": {"community_id": answers["community"], "limit": 10},
            },  # fmt: skip
            1,
        ),
        Node(
            "post",
            "tg_send_message",
            {"instance_id": answers["telegram"], "chat_id": answers["chat"], "text": BOARD},
            2,
        ),
    )


TEMPLATE = FlowTemplate(
    id="weekly_leaderboard",
    title="Weekly leaderboard",
    description="On Sundays at 18:00 UTC posts the ten members with the most reputation.",
    icon="trophy",
    needs=(community(), telegram_bot(), telegram_chat("Post in")),
    build=build,
)

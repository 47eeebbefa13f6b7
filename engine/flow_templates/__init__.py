"""The "New flow" gallery: ready flows a community admin wants, in the order shown.

Each template is one module; adding one is adding its module to TEMPLATES.
"""

from __future__ import annotations

from engine.flow_templates import (
    anti_link,
    channel_to_discord,
    daily_digest,
    github_to_discord,
    join_requests,
    keyword_reply,
    ping,
    thanks_reputation,
    three_strikes,
    webhook_alert,
    weekly_leaderboard,
    welcome,
)
from engine.flow_templates.base import Answers, FlowTemplate, Need

TEMPLATES: dict[str, FlowTemplate] = {
    module.TEMPLATE.id: module.TEMPLATE
    for module in (
        welcome,
        ping,
        keyword_reply,
        anti_link,
        three_strikes,
        join_requests,
        thanks_reputation,
        weekly_leaderboard,
        daily_digest,
        channel_to_discord,
        webhook_alert,
        github_to_discord,
    )
}


class UnknownTemplate(KeyError):
    def __str__(self) -> str:
        return f"There is no template {self.args[0]!r}."


def get_template(template_id: str) -> FlowTemplate:
    try:
        return TEMPLATES[template_id]
    except KeyError:
        raise UnknownTemplate(template_id) from None


__all__ = ["TEMPLATES", "Answers", "FlowTemplate", "Need", "UnknownTemplate", "get_template"]

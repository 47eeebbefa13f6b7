"""GitHub's repository webhooks (pushes, issues, pull requests) as Discord messages."""

from typing import Any

from engine.flow_templates.base import (
    Answers,
    FlowTemplate,
    Node,
    chain,
    discord_bot,
    discord_channel,
)

BODY = "trigger.data.body"
MESSAGE = (
    "**{{ " + BODY + ".sender.login | default('Someone') }}**: "
    "{{ trigger.data.headers['x-github-event'] | default('event') }} on "
    "{{ " + BODY + ".repository.full_name | default('a repository') }}"
    "{% if " + BODY + ".head_commit %} — {{ " + BODY + ".head_commit.message }}{% endif %}"
)


def build(answers: Answers) -> dict[str, Any]:
    return chain(
        Node("github", "webhook", {"endpoint_name": "github"}, 0),
        Node(
            "announce",
            "dc_send_message",
            {
                "instance_id": answers["discord"],
                "channel_id": answers["discord_channel"],
                "content": MESSAGE,
            },
            1,
        ),
    )


TEMPLATE = FlowTemplate(
    id="github_to_discord",
    title="GitHub webhook → Discord message",
    description="Point a GitHub repository's webhook (JSON) at this flow's URL: each push, "
    "issue or pull request is announced in the Discord channel.",
    icon="git-pull-request",
    needs=(discord_bot(), discord_channel()),
    build=build,
)

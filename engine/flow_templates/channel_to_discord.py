"""Mirror every post of a Telegram channel into a Discord channel."""

from typing import Any

from engine.flow_templates.base import (
    Answers,
    FlowTemplate,
    Node,
    chain,
    discord_bot,
    discord_channel,
    telegram_bot,
    telegram_chat,
)


def build(answers: Answers) -> dict[str, Any]:
    return chain(
        Node(
            "post",
            "tg_channel_post",
            {"instance_id": answers["telegram"], "chat_id": answers["chat"]},
            0,
        ),
        Node(
            "mirror",
            "dc_send_message",
            {
                "instance_id": answers["discord"],
                "channel_id": answers["discord_channel"],
                "content": "{{trigger.text}}",
            },
            1,
        ),
    )


TEMPLATE = FlowTemplate(
    id="channel_to_discord",
    title="Cross-post a Telegram channel to Discord",
    description="Every new post of the Telegram channel appears in the Discord channel.",
    icon="share-2",
    needs=(
        telegram_bot(),
        telegram_chat("Telegram channel", "channel"),
        discord_bot(),
        discord_channel(),
    ),
    build=build,
)

"""The bot configuration's answers sent on Discord.

A slash command or a button click is answered through its interaction (a menu opened from a
menu edits the clicked message in place); a keyword or regex answer to a plain message is
posted in the channel, quoting the message, in a thread on it, or privately. Canned answers
never ping: member names and other data rendered into them could read ``@everyone``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import hikari

from connectors.discord_bot.commands import describe
from connectors.discord_bot.interactions import Interaction, send_late
from engine.bot_config.answers import Reply, ReplyButton
from engine.bot_config.document import MediaKind, ReplyMode
from engine.message_format import render

log = logging.getLogger(__name__)

Schedule = Callable[[Coroutine[Any, Any, None]], None]
THREAD_NAME_LIMIT = 100
NO_PINGS: dict[str, Any] = {
    "mentions_everyone": False,
    "user_mentions": False,
    "role_mentions": False,
}


def has_content(reply: Reply) -> bool:
    """A reply that only starts a flow has nothing to send (the flow answers)."""
    return bool(reply.text or reply.buttons or reply.media)


def action_rows(
    rest: hikari.api.RESTClient, rows: list[list[ReplyButton]]
) -> list[hikari.api.MessageActionRowBuilder]:
    """Link buttons for URLs, grey buttons carrying the ``fb:`` payload (publishing keeps
    rows within Discord's five buttons)."""
    built = []
    for row in rows:
        builder = rest.build_message_action_row()
        for button in row:
            if button.url:
                builder.add_link_button(button.url, label=button.label)
            else:
                builder.add_interactive_button(
                    hikari.ButtonStyle.SECONDARY, button.data or "", label=button.label
                )
        built.append(builder)
    return built


def message_body(rest: hikari.api.RESTClient, reply: Reply) -> dict[str, Any]:
    """Content, buttons and media as create_message / create_interaction_response take them:
    a photo is shown as the embed's image, other media as their link under the text."""
    content = render(reply.text, "discord")
    body: dict[str, Any] = {"components": action_rows(rest, reply.buttons), **NO_PINGS}
    media = reply.media
    if media is not None and media.kind is MediaKind.photo:
        body["embed"] = hikari.Embed().set_image(media.url)
    elif media is not None:
        content = f"{content}\n{media.url}" if content else media.url
    body["content"] = content
    return body


async def answer_interaction(
    rest: hikari.api.RESTClient,
    interaction: hikari.CommandInteraction | hikari.ComponentInteraction,
    reply: Reply,
    schedule: Schedule,
) -> None:
    """Answer a slash command or a click: a menu opened from a menu replaces the clicked
    message (MESSAGE_UPDATE), anything else is a new message; a private answer is one only
    the member sees."""
    response_type = hikari.ResponseType.MESSAGE_UPDATE if reply.edit else None
    flags = hikari.MessageFlag.EPHEMERAL if reply.mode is ReplyMode.dm else hikari.UNDEFINED
    await rest.create_interaction_response(
        interaction.id,
        interaction.token,
        response_type or hikari.ResponseType.MESSAGE_CREATE,
        flags=flags,
        **message_body(rest, reply),
    )
    if reply.delete_after_seconds and not reply.edit:
        application, token = interaction.application_id, interaction.token
        schedule(
            _later(
                reply.delete_after_seconds,
                lambda: rest.delete_interaction_response(application, token),
            )
        )


async def answer_late(
    rest: hikari.api.RESTClient, interaction: Interaction, reply: Reply, schedule: Schedule
) -> None:
    """The configured answer to an interaction the connector acknowledged first (a slow
    database): it replaces the thinking message, or the clicked one for a menu. A
    self-deleting answer goes after its delay whether it became the original response or
    a follow-up."""
    body = message_body(rest, reply)
    late = await send_late(
        rest, interaction, body, update=reply.edit, ephemeral=reply.mode is ReplyMode.dm
    )
    if reply.delete_after_seconds and not reply.edit:
        application, token = interaction.application_id, interaction.token

        async def delete() -> None:
            if late.original:
                await rest.delete_interaction_response(application, token)
            else:
                await rest.delete_webhook_message(application, token, late.message)

        schedule(_later(reply.delete_after_seconds, delete))


async def answer_message(
    rest: hikari.api.RESTClient, message: hikari.Message, reply: Reply, schedule: Schedule
) -> None:
    """Post the answer to a member's message where the response's reply mode says."""
    body = message_body(rest, reply)
    channel: hikari.Snowflakeish = message.channel_id
    if reply.mode is ReplyMode.dm:
        channel = (await rest.create_dm_channel(message.author.id)).id
    elif reply.mode is ReplyMode.thread and message.guild_id is not None:
        name = (message.content or "").split("\n", 1)[0][:THREAD_NAME_LIMIT] or reply.source
        thread = await rest.create_message_thread(message.channel_id, message.id, name)
        channel = thread.id
    elif reply.mode in (ReplyMode.reply, ReplyMode.thread):  # no threads in DMs: quote
        body["reply"] = message.id
    sent = await rest.create_message(channel, **body)
    if reply.delete_after_seconds:
        schedule(_later(reply.delete_after_seconds, lambda: rest.delete_message(channel, sent)))


async def _later(seconds: int, delete: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Delete-after: the answer disappears on its own; one a moderator removed first is
    only noted."""
    await asyncio.sleep(seconds)
    try:
        await delete()
    except hikari.HikariError as error:
        log.info("answer not deleted after %ss: %s", seconds, describe(error))

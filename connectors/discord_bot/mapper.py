"""hikari events → PlatformEvents for the ``dc_*`` triggers (see engine/nodes/triggers.py).

Each function returns the event a flow sees as ``{{trigger}}``, shaped like the trigger's
example payload; ``map_event`` picks the one for a hikari event, or None for events no
trigger listens to.
"""

from __future__ import annotations

from typing import Any

import hikari

from engine.platform_event import EventChat, EventUser, PlatformEvent, platform_event, timestamp_key

CONNECTOR = "discord_bot"


def event_user(user: hikari.PartialUser, member: hikari.Member | None = None) -> EventUser:
    """Discord has no first name: the name people see stands in for it, so
    ``{{trigger.user.first_name}}`` greets people the same way on every platform."""
    display = member.display_name if member is not None else None
    name = display or _global_name(user) or _text(user.username)
    return EventUser(
        id=str(user.id),
        username=user.username if user.username is not hikari.UNDEFINED else None,
        first_name=name,
        display_name=name,
        is_bot=bool(user.is_bot) if user.is_bot is not hikari.UNDEFINED else False,
    )


def _global_name(user: hikari.PartialUser) -> str | None:
    name = getattr(user, "global_name", None)
    return name if isinstance(name, str) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def channel_chat(
    app: hikari.RESTAware, channel_id: hikari.Snowflake, guild_id: hikari.Snowflake | None
) -> EventChat:
    """A guild channel (``guild``) or a DM (``dm``), titled from the cache when it is there."""
    title = None
    cache = getattr(app, "cache", None)
    if cache is not None and guild_id is not None:
        channel = cache.get_guild_channel(channel_id) or cache.get_thread(channel_id)
        title = channel.name if channel is not None else None
    return EventChat(
        id=str(channel_id),
        type="guild" if guild_id is not None else "dm",
        title=title,
        guild_id=str(guild_id) if guild_id is not None else None,
    )


def guild_chat(app: hikari.RESTAware, guild_id: hikari.Snowflake) -> EventChat:
    cache = getattr(app, "cache", None)
    guild = cache.get_guild(guild_id) if cache is not None else None
    return EventChat(
        id=str(guild_id),
        type="guild",
        title=guild.name if guild is not None else None,
        guild_id=str(guild_id),
    )


def message_created(event: hikari.MessageCreateEvent, instance_id: int | None) -> PlatformEvent:
    message = event.message
    guild_id = getattr(event, "guild_id", None)
    member = getattr(event, "member", None)
    reference = message.referenced_message or None
    # a referenced message may come without its author (deleted, or not cached)
    quoted = reference.author if reference is not None else None
    return platform_event(
        CONNECTOR,
        instance_id,
        "dc_message",
        str(message.id),
        chat=channel_chat(event.app, event.channel_id, guild_id),
        user=event_user(message.author, member),
        message_id=str(message.id),
        text=message.content or "",
        reply_to_message_id=str(reference.id) if reference else None,
        occurred_at=message.timestamp,
        data={
            "attachments": [a.url for a in message.attachments],
            # whom the message answers (reputation rules credit them)
            **(
                {"reply_to_user": event_user(quoted).model_dump()}
                if isinstance(quoted, hikari.PartialUser)
                else {}
            ),
        },
    )


def _option_values(options: Any) -> dict[str, Any]:
    """Slash command options as {name: value}, sub-commands flattened into their options."""
    values: dict[str, Any] = {}
    for option in options or ():
        if option.options:
            values.update(_option_values(option.options))
        elif option.value is not None:
            value = option.value
            values[option.name] = str(value) if isinstance(value, hikari.Snowflake) else value
    return values


def _interaction_user(interaction: hikari.PartialInteraction) -> EventUser:
    """Interactions carry the member's client language (``de``, ``en-US``): the bot's
    configured answers pick their language from it."""
    member = getattr(interaction, "member", None)
    user = member.user if member is not None else interaction.user
    found = event_user(user, member)
    locale = getattr(interaction, "locale", None)
    return found.model_copy(update={"language": str(locale)}) if locale else found


def slash_command(interaction: hikari.CommandInteraction, instance_id: int | None) -> PlatformEvent:
    options = _option_values(interaction.options)
    text = " ".join(
        [f"/{interaction.command_name}", *(f"{key}:{value}" for key, value in options.items())]
    )
    return platform_event(
        CONNECTOR,
        instance_id,
        "dc_slash_command",
        str(interaction.id),
        chat=channel_chat(interaction.app, interaction.channel_id, interaction.guild_id),
        user=_interaction_user(interaction),
        text=text,
        command=interaction.command_name,
        args=[str(value) for value in options.values()],
        occurred_at=interaction.created_at,
        data={
            "interaction_id": str(interaction.id),
            "interaction_token": interaction.token,
            "options": options,
        },
    )


def button_click(
    interaction: hikari.ComponentInteraction, instance_id: int | None
) -> PlatformEvent:
    return platform_event(
        CONNECTOR,
        instance_id,
        "dc_button_click",
        str(interaction.id),
        chat=channel_chat(interaction.app, interaction.channel_id, interaction.guild_id),
        user=_interaction_user(interaction),
        message_id=str(interaction.message.id),
        occurred_at=interaction.created_at,
        data={
            "custom_id": interaction.custom_id,
            "interaction_id": str(interaction.id),
            "interaction_token": interaction.token,
        },
    )


def member_joined(event: hikari.MemberCreateEvent, instance_id: int | None) -> PlatformEvent:
    member = event.member
    return platform_event(
        CONNECTOR,
        instance_id,
        "dc_member_join",
        f"{event.guild_id}:{event.user_id}:{timestamp_key(member.joined_at)}",
        chat=guild_chat(event.app, event.guild_id),
        user=event_user(member.user, member),
    )


def member_left(event: hikari.MemberDeleteEvent, instance_id: int | None) -> PlatformEvent:
    return platform_event(
        CONNECTOR,
        instance_id,
        "dc_member_leave",
        f"{event.guild_id}:{event.user_id}:{timestamp_key()}",
        chat=guild_chat(event.app, event.guild_id),
        user=event_user(event.user, event.old_member),
    )


def member_updated(
    event: hikari.MemberUpdateEvent, instance_id: int | None
) -> PlatformEvent | None:
    """Roles or nickname changed; None when neither did (avatar, boosts...) or when the old
    state is unknown (not cached), since then nothing can be said about what changed."""
    new, old = event.member, event.old_member
    if old is None:
        return None
    added = sorted(str(r) for r in set(new.role_ids) - set(old.role_ids))
    removed = sorted(str(r) for r in set(old.role_ids) - set(new.role_ids))
    if not added and not removed and old.nickname == new.nickname:
        return None
    return platform_event(
        CONNECTOR,
        instance_id,
        "dc_member_update",
        f"{event.guild_id}:{event.user_id}:{timestamp_key()}",
        chat=guild_chat(event.app, event.guild_id),
        user=event_user(new.user, new),
        data={
            "added_roles": added,
            "removed_roles": removed,
            "old_nickname": old.nickname,
            "new_nickname": new.nickname,
        },
    )


def reaction_added(event: hikari.ReactionAddEvent, instance_id: int | None) -> PlatformEvent:
    guild_id = getattr(event, "guild_id", None)
    member = getattr(event, "member", None)
    user = (
        event_user(member.user, member) if member is not None else EventUser(id=str(event.user_id))
    )
    emoji_id = str(event.emoji_id) if event.emoji_id is not None else None
    return platform_event(
        CONNECTOR,
        instance_id,
        "dc_reaction_add",
        f"{event.message_id}:{event.user_id}:{emoji_id or event.emoji_name}:{timestamp_key()}",
        chat=channel_chat(event.app, event.channel_id, guild_id),
        user=user,
        message_id=str(event.message_id),
        data={"emoji": event.emoji_name, "emoji_id": emoji_id},
    )


def message_deleted(event: hikari.MessageDeleteEvent, instance_id: int | None) -> PlatformEvent:
    guild_id = getattr(event, "guild_id", None)
    old = event.old_message
    return platform_event(
        CONNECTOR,
        instance_id,
        "dc_message_delete",
        str(event.message_id),
        chat=channel_chat(event.app, event.channel_id, guild_id),
        message_id=str(event.message_id),
        data={"cached_text": old.content if old is not None else None},
    )


def map_event(event: hikari.Event, instance_id: int | None) -> PlatformEvent | None:
    """The PlatformEvent for one hikari event, or None if no dc_* trigger wants it."""
    match event:
        case hikari.MessageCreateEvent():
            return message_created(event, instance_id)
        case hikari.InteractionCreateEvent(interaction=hikari.CommandInteraction() as command):
            return slash_command(command, instance_id)
        case hikari.InteractionCreateEvent(interaction=hikari.ComponentInteraction() as click):
            if click.component_type == hikari.ComponentType.BUTTON:
                return button_click(click, instance_id)
            return None
        case hikari.MemberCreateEvent():
            return member_joined(event, instance_id)
        case hikari.MemberDeleteEvent():
            return member_left(event, instance_id)
        case hikari.MemberUpdateEvent():
            return member_updated(event, instance_id)
        case hikari.ReactionAddEvent():
            return reaction_added(event, instance_id)
        case hikari.MessageDeleteEvent():
            return message_deleted(event, instance_id)
    return None


# The hikari event types the connector subscribes to (base types cover guild and DM).
SUBSCRIBED: tuple[type[hikari.Event], ...] = (
    hikari.MessageCreateEvent,
    hikari.InteractionCreateEvent,
    hikari.MemberCreateEvent,
    hikari.MemberDeleteEvent,
    hikari.MemberUpdateEvent,
    hikari.ReactionAddEvent,
    hikari.MessageDeleteEvent,
)

"""The guilds and channels the bot is in: chat_seen events and the list_* pool actions.

The gateway says where the bot is: GUILD_CREATE (on connect and when it is added) carries
the guild with its channels, roles and the bot's own member; GUILD_UPDATE, role changes and
the bot's own member updates may change its title or the bot's rights; channel
create/update/delete keep the channels current. Everything is read from hikari's cache,
which hikari updates before it dispatches an event. Text channels (and announcement
channels, which are text channels too) are chats of type "text"; voice and stage channels
are chats too, of types "guild_voice" and "guild_stage" (engine.chat_discovery
VOICE_CHAT_TYPES), so voice pickers can offer them; categories and threads are not chats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import hikari
from hikari.api import RESTClient

from connectors.discord_bot.mapper import CONNECTOR, event_user
from connectors.kit.convert import to_int
from engine.chat_discovery import (
    ListChatsParams,
    ListMembersParams,
    MemberRole,
    chat_entry,
    chat_seen,
    member_entry,
)
from engine.platform_event import EventChat, PlatformEvent, timestamp_key

# The chat type each discovered kind of channel is recorded as.
CHANNEL_CHAT_TYPES: dict[hikari.ChannelType | int, str] = {
    hikari.ChannelType.GUILD_TEXT: "text",
    hikari.ChannelType.GUILD_NEWS: "text",
    hikari.ChannelType.GUILD_VOICE: "guild_voice",
    hikari.ChannelType.GUILD_STAGE: "guild_stage",
}
# The rights a community's moderation needs, as chat_seen's bot_rights reports them.
RIGHTS = {
    "administrator": hikari.Permissions.ADMINISTRATOR,
    "manage_guild": hikari.Permissions.MANAGE_GUILD,
    "manage_channels": hikari.Permissions.MANAGE_CHANNELS,
    "manage_roles": hikari.Permissions.MANAGE_ROLES,
    "manage_messages": hikari.Permissions.MANAGE_MESSAGES,
    "kick_members": hikari.Permissions.KICK_MEMBERS,
    "ban_members": hikari.Permissions.BAN_MEMBERS,
    "moderate_members": hikari.Permissions.MODERATE_MEMBERS,
}
# (bot_is_admin, bot_rights); (None, {}) when they cannot be told.
Rights = tuple[bool | None, dict[str, bool]]


def guild_permissions(
    owner_id: hikari.Snowflake,
    guild_id: hikari.Snowflake,
    roles: Mapping[hikari.Snowflake, hikari.Role],
    user_id: hikari.Snowflake,
    role_ids: Iterable[hikari.Snowflake],
) -> hikari.Permissions:
    """A member's guild-wide permissions: the owner and administrators have them all,
    anyone else the union of @everyone (the role whose id is the guild's) and their roles."""
    if user_id == owner_id:
        return hikari.Permissions.all_permissions()
    granted = hikari.Permissions.NONE
    for role_id in (guild_id, *role_ids):
        if (role := roles.get(role_id)) is not None:
            granted |= role.permissions
    if granted & hikari.Permissions.ADMINISTRATOR:
        return hikari.Permissions.all_permissions()
    return granted


def rights_of(permissions: hikari.Permissions) -> Rights:
    rights = {name: bool(permissions & flag) for name, flag in RIGHTS.items()}
    return rights["administrator"], rights


def _guild_chat(guild: hikari.PartialGuild) -> EventChat:
    return EventChat(id=str(guild.id), type="guild", title=guild.name)


def _channel_chat(channel: hikari.GuildChannel) -> EventChat:
    return EventChat(
        id=str(channel.id),
        type=CHANNEL_CHAT_TYPES[channel.type],
        title=channel.name,
        guild_id=str(channel.guild_id),
    )


def _seen(instance_id: int | None, chat: EventChat, rights: Rights, **data: Any) -> PlatformEvent:
    is_admin, bot_rights = rights
    unique = f"{chat.id}:{timestamp_key()}"
    return chat_seen(
        CONNECTOR, instance_id, chat, unique, bot_is_admin=is_admin, bot_rights=bot_rights, **data
    )


def guild_seen(
    app: hikari.CacheAware,
    guild_id: hikari.Snowflake,
    instance_id: int | None,
    me_id: hikari.Snowflake | None,
) -> list[PlatformEvent]:
    """The guild (with its member count) and each of its text and voice channels, as cached."""
    guild = app.cache.get_guild(guild_id)
    if guild is None:
        return []
    rights = cached_rights(app, guild_id, me_id)
    events = [_seen(instance_id, _guild_chat(guild), rights, member_count=guild.member_count)]
    channels = app.cache.get_guild_channels_view_for_guild(guild_id).values()
    for channel in sorted(channels, key=lambda c: (getattr(c, "position", 0), c.id)):
        if channel.type in CHANNEL_CHAT_TYPES:
            events.append(_seen(instance_id, _channel_chat(channel), rights))
    return events


def guild_left(event: hikari.GuildLeaveEvent, instance_id: int | None) -> list[PlatformEvent]:
    old = event.old_guild
    chat = EventChat(id=str(event.guild_id), type="guild", title=old.name if old else None)
    return [_seen(instance_id, chat, (None, {}), gone=True)]


def cached_rights(
    app: hikari.CacheAware, guild_id: hikari.Snowflake, me_id: hikari.Snowflake | None
) -> Rights:
    """The bot's rights in a guild from hikari's cache; unknown when not cached."""
    guild = app.cache.get_guild(guild_id)
    me = app.cache.get_member(guild_id, me_id) if me_id is not None else None
    if guild is None or me is None:
        return None, {}
    roles = app.cache.get_roles_view_for_guild(guild_id)
    return rights_of(guild_permissions(guild.owner_id, guild_id, roles, me.id, me.role_ids))


def channel_changed(
    event: hikari.GuildChannelEvent, instance_id: int | None, me_id: hikari.Snowflake | None
) -> list[PlatformEvent]:
    """A text or voice channel created, renamed or deleted (``gone``); other channels
    (categories, threads) are no chats."""
    channel = getattr(event, "channel", None)
    if channel is None or channel.type not in CHANNEL_CHAT_TYPES:
        return []
    gone = isinstance(event, hikari.GuildChannelDeleteEvent)
    assert isinstance(event.app, hikari.CacheAware)
    rights: Rights = (None, {}) if gone else cached_rights(event.app, event.guild_id, me_id)
    return [_seen(instance_id, _channel_chat(channel), rights, gone=gone)]


def map_discovery(
    event: hikari.Event, instance_id: int | None, me_id: hikari.Snowflake | None
) -> list[PlatformEvent]:
    """The chat_seen events of one gateway event (empty for events that say nothing).

    A guild is (re)discovered whole when it becomes visible, is renamed, or when the bot's
    rights there may have changed (its roles, or any role's permissions)."""
    app = event.app
    assert isinstance(app, hikari.CacheAware)
    match event:
        case hikari.GuildLeaveEvent():
            return guild_left(event, instance_id)
        case hikari.GuildChannelEvent():
            return channel_changed(event, instance_id, me_id)
        case hikari.MemberUpdateEvent() if event.user_id != me_id:
            return []
        case (
            hikari.GuildAvailableEvent()
            | hikari.GuildJoinEvent()
            | hikari.GuildUpdateEvent()
            | hikari.MemberUpdateEvent()
            | hikari.RoleEvent()
        ):
            return guild_seen(app, event.guild_id, instance_id, me_id)
    return []


SUBSCRIBED: tuple[type[hikari.Event], ...] = (
    hikari.GuildAvailableEvent,
    hikari.GuildJoinEvent,
    hikari.GuildUpdateEvent,
    hikari.GuildLeaveEvent,
    hikari.GuildChannelCreateEvent,
    hikari.GuildChannelUpdateEvent,
    hikari.GuildChannelDeleteEvent,
    hikari.MemberUpdateEvent,
    hikari.RoleCreateEvent,
    hikari.RoleUpdateEvent,
    hikari.RoleDeleteEvent,
)


# -- pool actions -----------------------------------------------------------------------------


async def _guild_of(rest: RESTClient, chat_id: str) -> hikari.RESTGuild:
    """The guild ``chat_id`` names, or the guild of the text channel it names."""
    snowflake = hikari.Snowflake(to_int(chat_id, "chat_id"))
    try:
        return await rest.fetch_guild(snowflake)
    except hikari.NotFoundError:
        channel = await rest.fetch_channel(snowflake)
        if not isinstance(channel, hikari.GuildChannel):
            raise
        return await rest.fetch_guild(channel.guild_id)


def _role(guild: hikari.RESTGuild, member: hikari.Member) -> MemberRole:
    if member.id == guild.owner_id:
        return "owner"
    permissions = guild_permissions(
        guild.owner_id, guild.id, guild.roles, member.id, member.role_ids
    )
    return "admin" if permissions & hikari.Permissions.ADMINISTRATOR else "member"


async def list_members(rest: RESTClient, params: ListMembersParams) -> dict[str, Any]:
    """Every member of the guild (or of a text channel's guild), with owner/admin roles."""
    guild = await _guild_of(rest, params.chat_id)
    members = [
        member_entry(event_user(member.user, member), _role(guild, member))
        async for member in rest.fetch_members(guild.id)
    ]
    return {"members": members}


async def list_chats(rest: RESTClient, params: ListChatsParams) -> dict[str, Any]:
    """Every guild the bot is in and each guild's text and voice channels."""
    chats: list[dict[str, Any]] = []
    async for guild in rest.fetch_my_guilds():
        is_admin, _ = rights_of(
            hikari.Permissions.all_permissions() if guild.is_owner else guild.my_permissions
        )
        chats.append(
            chat_entry(
                _guild_chat(guild),
                member_count=guild.approximate_member_count,
                bot_is_admin=is_admin,
            )
        )
        channels = await rest.fetch_guild_channels(guild.id)
        for channel in sorted(channels, key=lambda c: (getattr(c, "position", 0), c.id)):
            if channel.type in CHANNEL_CHAT_TYPES:
                chats.append(chat_entry(_channel_chat(channel), bot_is_admin=is_admin))
    return {"chats": chats}

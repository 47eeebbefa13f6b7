"""Discord actions: every ``dc_*`` node through hikari's REST client.

Handlers receive a ``hikari.api.RESTClient`` (``GatewayBot.rest`` in production, a
``RESTApp`` client in tests) and the node's own params model, convert ids to snowflakes and
durations to times, and return JSON-able results. hikari retries 429s within its limits
itself; what it still raises becomes an :class:`ActionError` in :func:`execute_action`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

import hikari
from hikari.api import RESTClient

from connectors.discord_bot import discovery
from connectors.discord_bot.interactions import Interaction, send_late
from connectors.kit.actions import ActionRegistry
from connectors.kit.catalogue import node_action
from connectors.kit.convert import invalid, seconds_from_now, to_datetime, to_int
from engine.action_errors import ActionError, ErrorKind
from engine.chat_discovery import LIST_CHATS, LIST_MEMBERS, ListChatsParams, ListMembersParams
from engine.nodes import discord_bot as p

actions: ActionRegistry[RESTClient] = ActionRegistry("discord_bot")
actions.action(LIST_MEMBERS, ListMembersParams)(discovery.list_members)
actions.action(LIST_CHATS, ListChatsParams)(discovery.list_chats)
UNDEFINED = hikari.UNDEFINED


def snowflake(value: str, field: str) -> hikari.Snowflake:
    return hikari.Snowflake(to_int(value, field))


def _reason(params: Any) -> Any:
    return params.reason if getattr(params, "reason", None) else UNDEFINED


def _or_undefined(value: Any) -> Any:
    return UNDEFINED if value is None else value


def _color(value: str | None, field: str) -> hikari.Color | None:
    if value is None:
        return None
    try:
        return hikari.Color.of(value)
    except (ValueError, TypeError):
        raise invalid(field, f"expected #RRGGBB, got {value!r}") from None


def build_embed(spec: p.DiscordEmbed) -> hikari.Embed:
    embed = hikari.Embed(
        title=spec.title,
        description=spec.description,
        url=spec.url,
        color=_color(spec.color, "embed.color"),
    )
    if spec.image_url:
        embed.set_image(spec.image_url)
    if spec.thumbnail_url:
        embed.set_thumbnail(spec.thumbnail_url)
    if spec.footer:
        embed.set_footer(spec.footer)
    for field in spec.fields:
        embed.add_field(field.name, field.value, inline=field.inline)
    return embed


def _body(params: p.MessageBody) -> dict[str, Any]:
    """content/embed/mentions keyword arguments shared by create, edit and respond.

    hikari sends ``allowed_mentions`` from these: with all False, ``{"parse": []}``.
    """
    return {
        "content": _or_undefined(params.content),
        "embed": build_embed(params.embed) if params.embed else UNDEFINED,
        "mentions_everyone": params.mentions_everyone,
        "user_mentions": params.mentions_users,
        "role_mentions": params.mentions_roles,
    }


def _sent(message: hikari.Message) -> dict[str, Any]:
    return {"message_id": str(message.id), "channel_id": str(message.channel_id)}


InteractiveStyle = Literal[
    hikari.ButtonStyle.PRIMARY,
    hikari.ButtonStyle.SECONDARY,
    hikari.ButtonStyle.SUCCESS,
    hikari.ButtonStyle.DANGER,
]
_BUTTON_STYLES: dict[str, InteractiveStyle] = {
    "primary": hikari.ButtonStyle.PRIMARY,
    "secondary": hikari.ButtonStyle.SECONDARY,
    "success": hikari.ButtonStyle.SUCCESS,
    "danger": hikari.ButtonStyle.DANGER,
}


def _button_rows(rest: RESTClient, rows: Sequence[Sequence[p.DiscordButton]]) -> list[Any]:
    built = []
    for row in rows:
        builder = rest.build_message_action_row()
        for button in row:
            label, emoji = button.label, button.emoji or UNDEFINED
            if button.style == "link":
                builder.add_link_button(
                    button.url or "", label=label, emoji=emoji, is_disabled=button.disabled
                )
            else:
                builder.add_interactive_button(
                    _BUTTON_STYLES[button.style], button.custom_id or "",
                    label=label, emoji=emoji, is_disabled=button.disabled,
                )  # fmt: skip
        built.append(builder)
    return built


def _emoji(value: str) -> dict[str, Any]:
    """``"👍"`` or a custom emoji as ``name:id`` → add_reaction's emoji/emoji_id arguments."""
    text = value.strip().removeprefix("<").removesuffix(">").removeprefix("a:")
    name, sep, emoji_id = text.rpartition(":")
    if sep and name and emoji_id.isdigit():
        return {"emoji": name, "emoji_id": int(emoji_id)}
    return {"emoji": value.strip()}


# -- messages ---------------------------------------------------------------------------------


@actions.action(*node_action("dc_send_message"))
async def send_message(rest: RESTClient, params: p.SendMessageParams) -> dict[str, Any]:
    channel = snowflake(params.channel_id, "channel_id")
    return _sent(await rest.create_message(channel, tts=params.tts, **_body(params)))


@actions.action(*node_action("dc_reply"))
async def reply(rest: RESTClient, params: p.ReplyParams) -> dict[str, Any]:
    message = await rest.create_message(
        snowflake(params.channel_id, "channel_id"),
        reply=snowflake(params.message_id, "message_id"),
        mentions_reply=params.mentions_reply,
        **_body(params),
    )
    return _sent(message)


@actions.action(*node_action("dc_send_embed"))
async def send_embed(rest: RESTClient, params: p.SendEmbedParams) -> dict[str, Any]:
    channel = snowflake(params.channel_id, "channel_id")
    return _sent(await rest.create_message(channel, **_body(params)))


@actions.action(*node_action("dc_send_buttons"))
async def send_buttons(rest: RESTClient, params: p.SendButtonsParams) -> dict[str, Any]:
    message = await rest.create_message(
        snowflake(params.channel_id, "channel_id"),
        components=_button_rows(rest, params.buttons),
        **_body(params),
    )
    return _sent(message)


@actions.action(*node_action("dc_edit_message"))
async def edit_message(rest: RESTClient, params: p.EditMessageParams) -> dict[str, Any]:
    message = await rest.edit_message(
        snowflake(params.channel_id, "channel_id"),
        snowflake(params.message_id, "message_id"),
        **_body(params),
    )
    return _sent(message)


@actions.action(*node_action("dc_delete_message"))
async def delete_message(rest: RESTClient, params: p.DeleteMessageParams) -> dict[str, Any]:
    await rest.delete_message(
        snowflake(params.channel_id, "channel_id"),
        snowflake(params.message_id, "message_id"),
        reason=_reason(params),
    )
    return {"deleted": True}


@actions.action(*node_action("dc_bulk_delete"))
async def bulk_delete(rest: RESTClient, params: p.BulkDeleteParams) -> dict[str, Any]:
    channel = snowflake(params.channel_id, "channel_id")
    if params.message_ids:
        ids = [snowflake(m, "message_ids") for m in params.message_ids]
    else:
        ids = [m.id async for m in rest.fetch_messages(channel).limit(params.count or 0)]
    if ids:
        try:
            await rest.delete_messages(channel, ids, reason=_reason(params))
        except hikari.BulkDeleteError as error:
            raise _bulk_delete_failed(error, ids) from error
    return {"deleted": len(ids), "message_ids": [str(i) for i in ids]}


# Discord's code for "You can only bulk delete messages that are under 14 days old".
TOO_OLD_TO_BULK_DELETE = 50034


def _bulk_delete_failed(error: hikari.BulkDeleteError, ids: list[hikari.Snowflake]) -> ActionError:
    """How many messages stayed and why, in the kind of the refusal behind it.

    hikari raises BulkDeleteError (not an HTTP error) whatever stopped the deletion, so
    without this a plain refusal such as "older than 14 days" looked like an outage and
    counted against the circuit breaker.
    """
    deleted = {int(m) for m in error.deleted_messages}
    left = [str(i) for i in ids if int(i) not in deleted]
    cause = error.__cause__
    why = map_error(cause) if isinstance(cause, hikari.HTTPError) else None
    reason = why.message if why else str(cause or error)
    if isinstance(cause, hikari.HTTPResponseError) and cause.code == TOO_OLD_TO_BULK_DELETE:
        reason = (
            "Discord bulk-deletes only messages under 14 days old; "
            "delete older ones one at a time with Delete message"
        )
    return ActionError(
        why.kind if why else ErrorKind.platform,
        f"{len(left)} of {len(ids)} messages could not be deleted: {reason}",
        retry_after=why.retry_after if why else None,
        details={"deleted": len(deleted), "not_deleted": left},
    )


@actions.action(*node_action("dc_add_reaction"))
async def add_reaction(rest: RESTClient, params: p.ReactionParams) -> dict[str, Any]:
    await rest.add_reaction(
        snowflake(params.channel_id, "channel_id"),
        snowflake(params.message_id, "message_id"),
        **_emoji(params.emoji),
    )
    return {"ok": True}


@actions.action(*node_action("dc_remove_reaction"))
async def remove_reaction(rest: RESTClient, params: p.RemoveReactionParams) -> dict[str, Any]:
    channel = snowflake(params.channel_id, "channel_id")
    message = snowflake(params.message_id, "message_id")
    if params.user_id is None:
        await rest.delete_my_reaction(channel, message, **_emoji(params.emoji))
    else:
        user = snowflake(params.user_id, "user_id")
        await rest.delete_reaction(channel, message, user, **_emoji(params.emoji))
    return {"ok": True}


@actions.action(*node_action("dc_pin_message"))
async def pin_message(rest: RESTClient, params: p.DiscordMessage) -> dict[str, Any]:
    await rest.pin_message(
        snowflake(params.channel_id, "channel_id"), snowflake(params.message_id, "message_id")
    )
    return {"ok": True}


@actions.action(*node_action("dc_unpin_message"))
async def unpin_message(rest: RESTClient, params: p.DiscordMessage) -> dict[str, Any]:
    await rest.unpin_message(
        snowflake(params.channel_id, "channel_id"), snowflake(params.message_id, "message_id")
    )
    return {"ok": True}


@actions.action(*node_action("dc_create_thread"))
async def create_thread(rest: RESTClient, params: p.CreateThreadParams) -> dict[str, Any]:
    channel = snowflake(params.channel_id, "channel_id")
    options: dict[str, Any] = {
        "auto_archive_duration": timedelta(minutes=params.auto_archive_minutes),
        "rate_limit_per_user": params.rate_limit_per_user,
        "reason": _reason(params),
    }
    thread: hikari.GuildThreadChannel
    if params.message_id:
        message = snowflake(params.message_id, "message_id")
        thread = await rest.create_message_thread(channel, message, params.name, **options)
    else:
        kind = (
            hikari.ChannelType.GUILD_PRIVATE_THREAD
            if params.private
            else hikari.ChannelType.GUILD_PUBLIC_THREAD
        )
        thread = await rest.create_thread(channel, kind, params.name, **options)
    return {"thread_id": str(thread.id), "name": thread.name}


@actions.action(*node_action("dc_send_dm"))
async def send_dm(rest: RESTClient, params: p.SendDmParams) -> dict[str, Any]:
    dm = await rest.create_dm_channel(snowflake(params.user_id, "user_id"))
    return _sent(await rest.create_message(dm.id, **_body(params)))


_RESPONSE_TYPES = {
    "message_create": hikari.ResponseType.MESSAGE_CREATE,
    "deferred_message_create": hikari.ResponseType.DEFERRED_MESSAGE_CREATE,
    "message_update": hikari.ResponseType.MESSAGE_UPDATE,
    "deferred_message_update": hikari.ResponseType.DEFERRED_MESSAGE_UPDATE,
}


@actions.action(*node_action("dc_respond_interaction"))
async def respond_interaction(
    rest: RESTClient, params: p.RespondInteractionParams
) -> dict[str, Any]:
    response = await rest.create_interaction_response(
        snowflake(params.interaction_id, "interaction_id"),
        params.interaction_token,
        _RESPONSE_TYPES[params.response_type],
        flags=hikari.MessageFlag.EPHEMERAL if params.ephemeral else UNDEFINED,
        **_body(params),
    )
    message = response.resource.message if response.resource else None
    return {"ok": True, "message_id": str(message.id) if message else None}


async def respond_late(
    rest: RESTClient, interaction: Interaction, raw: Mapping[str, Any]
) -> dict[str, Any]:
    """A flow's respond_interaction after the connector acknowledged the interaction: the
    same params, sent as an edit of the acknowledgement or a follow-up."""
    params = actions.validate("respond_interaction", raw)
    assert isinstance(params, p.RespondInteractionParams)
    update = params.response_type == "message_update"
    try:
        sent = await send_late(
            rest, interaction, _body(params), update=update, ephemeral=params.ephemeral
        )
    except hikari.HikariError as error:
        raise map_error(error) from error
    return {"ok": True, "message_id": str(sent.message.id)}


# -- members ----------------------------------------------------------------------------------


def _member(params: p.DiscordMember) -> tuple[hikari.Snowflake, hikari.Snowflake]:
    return snowflake(params.guild_id, "guild_id"), snowflake(params.user_id, "user_id")


@actions.action(*node_action("dc_kick_member"))
async def kick_member(rest: RESTClient, params: p.MemberAction) -> dict[str, Any]:
    await rest.kick_user(*_member(params), reason=_reason(params))
    return {"ok": True}


@actions.action(*node_action("dc_ban_member"))
async def ban_member(rest: RESTClient, params: p.BanParams) -> dict[str, Any]:
    await rest.ban_user(
        *_member(params),
        delete_message_seconds=params.delete_message_seconds,
        reason=_reason(params),
    )
    return {"ok": True}


@actions.action(*node_action("dc_unban_member"))
async def unban_member(rest: RESTClient, params: p.MemberAction) -> dict[str, Any]:
    await rest.unban_user(*_member(params), reason=_reason(params))
    return {"ok": True}


@actions.action(*node_action("dc_timeout_member"))
async def timeout_member(rest: RESTClient, params: p.TimeoutParams) -> dict[str, Any]:
    until = seconds_from_now(params.duration_seconds)
    await rest.edit_member(
        *_member(params), communication_disabled_until=until, reason=_reason(params)
    )
    return {"until": until.isoformat()}


@actions.action(*node_action("dc_remove_timeout"))
async def remove_timeout(rest: RESTClient, params: p.MemberAction) -> dict[str, Any]:
    await rest.edit_member(
        *_member(params), communication_disabled_until=None, reason=_reason(params)
    )
    return {"ok": True}


@actions.action(*node_action("dc_add_role"))
async def add_role(rest: RESTClient, params: p.RoleMemberParams) -> dict[str, Any]:
    role = snowflake(params.role_id, "role_id")
    await rest.add_role_to_member(*_member(params), role, reason=_reason(params))
    return {"ok": True}


@actions.action(*node_action("dc_remove_role"))
async def remove_role(rest: RESTClient, params: p.RoleMemberParams) -> dict[str, Any]:
    role = snowflake(params.role_id, "role_id")
    await rest.remove_role_from_member(*_member(params), role, reason=_reason(params))
    return {"ok": True}


@actions.action(*node_action("dc_set_nickname"))
async def set_nickname(rest: RESTClient, params: p.NicknameParams) -> dict[str, Any]:
    member = await rest.edit_member(
        *_member(params), nickname=params.nickname, reason=_reason(params)
    )
    return {"nickname": member.nickname}


@actions.action(*node_action("dc_move_member"))
async def move_member(rest: RESTClient, params: p.MoveMemberParams) -> dict[str, Any]:
    channel = (
        snowflake(params.voice_channel_id, "voice_channel_id") if params.voice_channel_id else None
    )
    await rest.edit_member(*_member(params), voice_channel=channel, reason=_reason(params))
    return {"ok": True}


# -- roles and channels -----------------------------------------------------------------------


def _permissions(names: list[str]) -> hikari.Permissions:
    flags = hikari.Permissions.NONE
    for name in names:
        try:
            flags |= hikari.Permissions[name.strip().upper()]
        except KeyError:
            raise invalid("permissions", f"unknown permission {name!r}") from None
    return flags


@actions.action(*node_action("dc_create_role"))
async def create_role(rest: RESTClient, params: p.CreateRoleParams) -> dict[str, Any]:
    role = await rest.create_role(
        snowflake(params.guild_id, "guild_id"),
        name=params.name,
        permissions=_permissions(params.permissions),
        color=_or_undefined(_color(params.color, "color")),
        hoist=params.hoist,
        mentionable=params.mentionable,
        reason=_reason(params),
    )
    return {"role_id": str(role.id), "name": role.name}


@actions.action(*node_action("dc_delete_role"))
async def delete_role(rest: RESTClient, params: p.DeleteRoleParams) -> dict[str, Any]:
    await rest.delete_role(
        snowflake(params.guild_id, "guild_id"),
        snowflake(params.role_id, "role_id"),
        reason=_reason(params),
    )
    return {"ok": True}


def _channel_settings(params: p.ChannelSettings) -> dict[str, Any]:
    """The settings an admin set, in hikari's names; the rest stays as Discord has it."""
    settings = {
        "topic": params.topic,
        "nsfw": params.nsfw,
        "rate_limit_per_user": params.rate_limit_per_user,
        "position": params.position,
    }
    if params.parent_category_id:
        settings["category"] = snowflake(params.parent_category_id, "parent_category_id")
    return {key: value for key, value in settings.items() if value is not None}


# What each kind of channel accepts besides name, position, category and reason.
_CHANNEL_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "text": ("create_guild_text_channel", ("topic", "nsfw", "rate_limit_per_user")),
    "announcement": ("create_guild_news_channel", ("topic", "nsfw", "rate_limit_per_user")),
    "forum": ("create_guild_forum_channel", ("topic", "nsfw", "rate_limit_per_user")),
    "voice": ("create_guild_voice_channel", ()),
    "stage": ("create_guild_stage_channel", ()),
    "category": ("create_guild_category", ()),
}


@actions.action(*node_action("dc_create_channel"))
async def create_channel(rest: RESTClient, params: p.CreateChannelParams) -> dict[str, Any]:
    method, accepted = _CHANNEL_KINDS[params.type]
    settings = _channel_settings(params)
    allowed = {*accepted, "position"} | ({"category"} if params.type != "category" else set())
    create = getattr(rest, method)
    channel = await create(
        snowflake(params.guild_id, "guild_id"),
        params.name,
        reason=_reason(params),
        **{key: value for key, value in settings.items() if key in allowed},
    )
    return {"channel_id": str(channel.id), "name": channel.name}


@actions.action(*node_action("dc_edit_channel"))
async def edit_channel(rest: RESTClient, params: p.EditChannelParams) -> dict[str, Any]:
    settings = _channel_settings(params)
    if "category" in settings:
        settings["parent_category"] = settings.pop("category")
    if params.name is not None:
        settings["name"] = params.name
    channel = await rest.edit_channel(
        snowflake(params.channel_id, "channel_id"), reason=_reason(params), **settings
    )
    return {"channel_id": str(channel.id), "name": channel.name}


@actions.action(*node_action("dc_delete_channel"))
async def delete_channel(rest: RESTClient, params: p.DeleteChannelParams) -> dict[str, Any]:
    await rest.delete_channel(snowflake(params.channel_id, "channel_id"), reason=_reason(params))
    return {"ok": True}


@actions.action(*node_action("dc_create_invite"))
async def create_invite(rest: RESTClient, params: p.CreateInviteParams) -> dict[str, Any]:
    invite = await rest.create_invite(
        snowflake(params.channel_id, "channel_id"),
        max_age=params.max_age,
        max_uses=params.max_uses,
        temporary=params.temporary,
        unique=params.unique,
        reason=_reason(params),
    )
    return {"code": invite.code, "url": f"https://discord.gg/{invite.code}"}


@actions.action(*node_action("dc_create_event"))
async def create_event(rest: RESTClient, params: p.CreateEventParams) -> dict[str, Any]:
    guild = snowflake(params.guild_id, "guild_id")
    start = to_datetime(params.start_time, "start_time")
    end = to_datetime(params.end_time, "end_time") if params.end_time else None
    common = {"description": _or_undefined(params.description), "reason": _reason(params)}
    event: hikari.ScheduledEvent
    if params.entity_type == "external":
        assert end is not None and params.location  # the params model requires both
        event = await rest.create_external_event(
            guild, params.name, params.location, start, end, **common
        )
    else:
        create = (
            rest.create_voice_event if params.entity_type == "voice" else rest.create_stage_event
        )
        channel = snowflake(params.channel_id or "", "channel_id")
        event = await create(
            guild, channel, params.name, start, end_time=_or_undefined(end), **common
        )
    return {"event_id": str(event.id), "name": event.name}


@actions.action(*node_action("dc_set_slowmode"))
async def set_slowmode(rest: RESTClient, params: p.SlowmodeParams) -> dict[str, Any]:
    await rest.edit_channel(
        snowflake(params.channel_id, "channel_id"),
        rate_limit_per_user=params.seconds,
        reason=_reason(params),
    )
    return {"seconds": params.seconds}


# -- errors -----------------------------------------------------------------------------------


def _describe(error: hikari.HTTPResponseError) -> str:
    code = f" (Discord code {error.code})" if error.code else ""
    return f"{error.message or error.status}{code}"


def map_error(error: Exception) -> ActionError:
    """hikari's exception → the structured error the pool API returns."""
    if isinstance(error, hikari.RateLimitTooLongError):
        return ActionError(
            ErrorKind.rate_limited,
            f"Discord rate limit: retry in {error.retry_after:.0f}s",
            retry_after=error.retry_after,
        )
    if isinstance(error, hikari.ForbiddenError):
        return ActionError(
            ErrorKind.platform, f"Discord refused: missing permission or access: {_describe(error)}"
        )
    if isinstance(error, hikari.NotFoundError):
        return ActionError(ErrorKind.platform, f"Discord: not found: {_describe(error)}")
    if isinstance(error, hikari.BadRequestError):
        details = {"errors": error.errors} if error.errors else None
        return ActionError(
            ErrorKind.platform, f"Discord rejected the request: {_describe(error)}", details=details
        )
    if isinstance(error, hikari.UnauthorizedError):
        return ActionError(ErrorKind.unavailable, "Discord rejected the bot token")
    if isinstance(error, hikari.InternalServerError):
        return ActionError(ErrorKind.unavailable, f"Discord is having trouble: {_describe(error)}")
    if isinstance(error, hikari.HTTPResponseError):
        return ActionError(ErrorKind.platform, f"Discord error: {_describe(error)}")
    if isinstance(error, hikari.HTTPError | hikari.ComponentStateConflictError):
        return ActionError(ErrorKind.unavailable, f"Discord unreachable: {error}")
    raise error


async def execute_action(rest: RESTClient, name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Run one action; platform failures come back as ActionError, never as hikari's."""
    try:
        return await actions.execute(rest, name, params)
    except ActionError:
        raise
    except hikari.HikariError as error:
        raise map_error(error) from error

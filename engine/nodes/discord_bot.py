"""Discord bot actions (see NODES.md): each maps to hikari ``RESTClient`` calls.

Params mirror the REST method's parameters (``create_message``, ``ban_user``,
``edit_member``...). Snowflakes are ``str``: they may hold ``{{ }}`` expressions
and are too large for JavaScript numbers anyway. Moderation and server changes
take an optional ``reason`` that Discord shows in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from engine.nodes.base import (
    ChatRef,
    ConnectionRef,
    NodeParams,
    NodePlatform,
    ServerRef,
    VoiceChannelRef,
    acting_instance_field,
)
from engine.nodes.registry import platform_action_declarer

# --- Shared params --------------------------------------------------------------------------


class DiscordParams(NodeParams):
    instance_id: ConnectionRef | None = acting_instance_field("Discord bot")


class DiscordChannel(DiscordParams):
    channel_id: ChatRef = Field(
        default="{{trigger.chat.id}}",
        description="The channel (or thread) id",
        examples=["{{trigger.chat.id}}", "1123456789012345678"],
    )


class DiscordMessage(DiscordChannel):
    message_id: str = Field(
        default="{{trigger.message_id}}",
        description="The message it acts on",
        examples=["{{trigger.message_id}}", "{{node.send_1.message_id}}"],
    )


class DiscordGuild(DiscordParams):
    guild_id: ServerRef = Field(
        default="{{trigger.chat.guild_id}}",
        description="The server (guild) id",
        examples=["{{trigger.chat.guild_id}}", "1098765432109876543"],
    )


class DiscordMember(DiscordGuild):
    user_id: str = Field(
        default="{{trigger.user.id}}",
        description="The member it acts on",
        examples=["{{trigger.user.id}}", "287654321098765432"],
    )


class Audited(NodeParams):
    reason: str | None = Field(
        default=None,
        max_length=512,
        description="Why; shown in the server's audit log",
        examples=[None, "Spam"],
    )


class MemberAction(Audited, DiscordMember):
    pass


class EmbedField(NodeParams):
    name: str = Field(min_length=1, max_length=256, description="Field title", examples=["Rank"])
    value: str = Field(
        min_length=1, max_length=1024, description="Field text", examples=["{{context.rank}}"]
    )
    inline: bool = Field(
        default=False, description="Show next to the previous field", examples=[True]
    )


class DiscordEmbed(NodeParams):
    """A rich card; connectors build ``hikari.Embed`` from it."""

    title: str | None = Field(
        default=None, max_length=256, description="Heading", examples=["Welcome!"]
    )
    description: str | None = Field(
        default=None,
        max_length=4096,
        description="Main text (Markdown)",
        examples=["Read **#rules** first, {{trigger.user.display_name}}."],
    )
    url: str | None = Field(
        default=None, description="Link on the title", examples=["https://example.org"]
    )
    color: str | None = Field(
        default=None,
        description="Colour of the side bar, as #RRGGBB",
        examples=["#5865F2"],
    )
    image_url: str | None = Field(
        default=None, description="Large picture", examples=["https://example.org/banner.png"]
    )
    thumbnail_url: str | None = Field(
        default=None, description="Small picture at the top right", examples=[None]
    )
    footer: str | None = Field(
        default=None, max_length=2048, description="Small text at the bottom", examples=["Flowbot"]
    )
    fields: list[EmbedField] = Field(
        default_factory=list,
        max_length=25,
        description="Name/value pairs (up to 25)",
        examples=[[{"name": "Rank", "value": "Gold", "inline": True}]],
    )


def _content_field(required: bool) -> Any:
    return Field(
        default=... if required else None,
        min_length=1,
        max_length=2000,
        description="The message text (up to 2000 characters, Markdown)",
        examples=["Welcome, {{trigger.user.display_name}}!"],
    )


class MessageBody(NodeParams):
    """Text and/or an embed; most messages need at least one of them."""

    content: str | None = _content_field(required=False)
    embed: DiscordEmbed | None = Field(
        default=None, description="A rich card shown with the message", examples=[None]
    )
    # Discord pings nobody unless told: by default a mention in the text is only a link.
    mentions_users: bool = Field(
        default=False, description="Let @user mentions in the text ping them", examples=[True]
    )
    mentions_roles: bool = Field(
        default=False, description="Let @role mentions in the text ping the role", examples=[False]
    )
    mentions_everyone: bool = Field(
        default=False, description="Let @everyone and @here in the text ping", examples=[False]
    )

    def _needs_body(self) -> bool:
        return True

    @model_validator(mode="after")
    def _has_body(self) -> Self:
        if self._needs_body() and not self.content and self.embed is None:
            raise ValueError("set content, an embed, or both")
        return self


class DiscordButton(NodeParams):
    label: str = Field(
        min_length=1, max_length=80, description="Text on the button", examples=["Join"]
    )
    style: Literal["primary", "secondary", "success", "danger", "link"] = Field(
        default="primary",
        description="Colour: blurple, grey, green, red; a link button opens a URL",
        examples=["success"],
    )
    custom_id: str | None = Field(
        default=None,
        max_length=100,
        description="Sent back as {{trigger.data.custom_id}} when clicked (not for links)",
        examples=["role:announcements"],
    )
    url: str | None = Field(
        default=None, description="Link buttons only: the URL to open", examples=[None]
    )
    emoji: str | None = Field(default=None, description="Emoji before the label", examples=["📢"])
    disabled: bool = Field(default=False, description="Shown greyed out", examples=[False])

    @model_validator(mode="after")
    def _link_or_custom_id(self) -> Self:
        if (self.style == "link") != (self.url is not None) or (self.url is None) == (
            self.custom_id is None
        ):
            raise ValueError("a link button needs url only; other buttons need custom_id only")
        return self


# --- Declarations ---------------------------------------------------------------------------


_action = platform_action_declarer(NodePlatform.discord_bot, "dc_")


# Messages


class TextMessage(MessageBody):
    content: str = _content_field(required=True)


class SendMessageParams(TextMessage, DiscordChannel):
    tts: bool = Field(
        default=False, description="Read it aloud with text-to-speech", examples=[False]
    )


class ReplyParams(TextMessage, DiscordMessage):
    mentions_reply: bool = Field(
        default=True, description="Ping the author of the message replied to", examples=[True]
    )


class SendEmbedParams(MessageBody, DiscordChannel):
    embed: DiscordEmbed = Field(
        description="The rich card to send",
        examples=[{"title": "Server rules", "description": "1. Be kind", "color": "#5865F2"}],
    )


class SendButtonsParams(TextMessage, DiscordChannel):
    buttons: list[list[DiscordButton]] = Field(
        min_length=1,
        max_length=5,
        description="Buttons under the message, row by row (up to 5 rows of 5)",
        examples=[[[{"label": "Get role", "custom_id": "role:announcements"}]]],
    )

    @field_validator("buttons")
    @classmethod
    def _rows_of_five(cls, rows: list[list[DiscordButton]]) -> list[list[DiscordButton]]:
        if any(not 1 <= len(row) <= 5 for row in rows):
            raise ValueError("each row holds 1 to 5 buttons")
        return rows


class EditMessageParams(MessageBody, DiscordMessage):
    pass


class DeleteMessageParams(Audited, DiscordMessage):
    pass


class BulkDeleteParams(Audited, DiscordChannel):
    message_ids: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="These messages; or leave empty and set count",
        examples=[["1234567890123456789", "1234567890123456790"]],
    )
    count: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Or: the latest this many messages of the channel",
        examples=[50],
    )

    @model_validator(mode="after")
    def _ids_or_count(self) -> Self:
        if bool(self.message_ids) == (self.count is not None):
            raise ValueError("set exactly one of message_ids and count")
        return self


class ReactionParams(DiscordMessage):
    emoji: str = Field(
        default="👍",
        description="A Unicode emoji, or a custom one as name:id",
        examples=["👍", "party_blob:1122334455667788990"],
    )


class RemoveReactionParams(ReactionParams):
    user_id: str | None = Field(
        default=None,
        description="Whose reaction to remove; empty: the bot's own",
        examples=[None, "{{trigger.user.id}}"],
    )


class CreateThreadParams(Audited, DiscordChannel):
    name: str = Field(
        min_length=1,
        max_length=100,
        description="Thread name",
        examples=["Support: {{trigger.user.username}}"],
    )
    message_id: str | None = Field(
        default="{{trigger.message_id}}",
        description="Start the thread from this message; empty: a thread of its own",
        examples=["{{trigger.message_id}}", None],
    )
    private: bool = Field(
        default=False,
        description="Only invited people see it (threads not started from a message)",
        examples=[False],
    )
    auto_archive_minutes: Literal[60, 1440, 4320, 10080] = Field(
        default=1440, description="Hide it after this many minutes of silence", examples=[1440]
    )
    rate_limit_per_user: int = Field(
        default=0,
        ge=0,
        le=21600,
        description="Slow mode, in seconds between messages",
        examples=[0],
    )


class DiscordRecipient(DiscordParams):
    user_id: str = Field(
        default="{{trigger.user.id}}",
        description="Who gets the direct message",
        examples=["{{trigger.user.id}}"],
    )


class SendDmParams(MessageBody, DiscordRecipient):
    pass


class DiscordInteraction(DiscordParams):
    interaction_id: str = Field(
        default="{{trigger.data.interaction_id}}",
        description="The slash command or button click to answer",
        examples=["{{trigger.data.interaction_id}}"],
    )
    interaction_token: str = Field(
        default="{{trigger.data.interaction_token}}",
        description="Its token, from the trigger",
        examples=["{{trigger.data.interaction_token}}"],
    )


class RespondInteractionParams(MessageBody, DiscordInteraction):
    response_type: Literal[
        "message_create", "deferred_message_create", "message_update", "deferred_message_update"
    ] = Field(
        default="message_create",
        description="Send a new message, update the clicked one, or 'thinking…' for now",
        examples=["message_create"],
    )
    ephemeral: bool = Field(
        default=False, description="Only the person who clicked sees the answer", examples=[True]
    )

    def _needs_body(self) -> bool:
        return not self.response_type.startswith("deferred")


_action("dc_send_message", "Send message", "Sends a message to a channel.", SendMessageParams)
_action("dc_reply", "Reply", "Replies to the message that started the flow.", ReplyParams)
_action(
    "dc_send_embed",
    "Send embed",
    "Sends a rich card with a title, text and fields.",
    SendEmbedParams,
)
_action(
    "dc_send_buttons",
    "Send buttons",
    "Sends a message with buttons; a click can start another flow.",
    SendButtonsParams,
)
_action("dc_edit_message", "Edit message", "Changes a message the bot sent.", EditMessageParams)
_action("dc_delete_message", "Delete message", "Deletes a message.", DeleteMessageParams)
_action(
    "dc_bulk_delete",
    "Delete many messages",
    "Deletes up to 100 recent messages of a channel at once (not older than two weeks).",
    BulkDeleteParams,
)
_action("dc_add_reaction", "Add reaction", "Adds the bot's reaction to a message.", ReactionParams)
_action(
    "dc_remove_reaction",
    "Remove reaction",
    "Removes a reaction from a message.",
    RemoveReactionParams,
)
_action("dc_pin_message", "Pin message", "Pins a message in its channel.", DiscordMessage)
_action("dc_unpin_message", "Unpin message", "Unpins a message.", DiscordMessage)
_action(
    "dc_create_thread",
    "Create thread",
    "Starts a thread, from a message or on its own.",
    CreateThreadParams,
)
_action("dc_send_dm", "Send direct message", "Sends someone a private message.", SendDmParams)
_action(
    "dc_respond_interaction",
    "Answer command or click",
    "Answers a slash command or button click (Discord expects it within 3 seconds).",
    RespondInteractionParams,
)

# Members


class BanParams(MemberAction):
    delete_message_seconds: int = Field(
        default=0,
        ge=0,
        le=604800,
        description="Also delete their messages from this many seconds back (up to 7 days)",
        examples=[86400],
    )


class TimeoutParams(MemberAction):
    duration_seconds: int = Field(
        default=600,
        ge=1,
        le=2419200,
        description="How long they cannot talk or react (up to 28 days)",
        examples=[600, 3600],
    )


class RoleMemberParams(MemberAction):
    role_id: str = Field(description="The role", examples=["1111111111111111111"])


class NicknameParams(MemberAction):
    nickname: str | None = Field(
        default=None,
        max_length=32,
        description="The new nickname; empty resets it to their user name",
        examples=["Ada (mod)"],
    )


class MoveMemberParams(MemberAction):
    voice_channel_id: VoiceChannelRef | None = Field(
        description="Voice channel to move them to; empty disconnects them from voice",
        examples=["1133445566778899001", None],
    )


_action("dc_kick_member", "Kick member", "Removes someone from the server.", MemberAction)
_action(
    "dc_ban_member", "Ban member", "Removes someone and stops them from coming back.", BanParams
)
_action("dc_unban_member", "Unban member", "Lets a banned person join again.", MemberAction)
_action(
    "dc_timeout_member",
    "Time out member",
    "Stops someone from writing, speaking or reacting for a while.",
    TimeoutParams,
)
_action("dc_remove_timeout", "End timeout", "Lets a timed-out member talk again.", MemberAction)
_action("dc_add_role", "Give role", "Gives a member a role.", RoleMemberParams)
_action("dc_remove_role", "Take role", "Takes a role away from a member.", RoleMemberParams)
_action(
    "dc_set_nickname", "Set nickname", "Changes a member's nickname on the server.", NicknameParams
)
_action(
    "dc_move_member",
    "Move to voice channel",
    "Moves someone to another voice channel, or out of voice.",
    MoveMemberParams,
)

# Roles and channels


class CreateRoleParams(Audited, DiscordGuild):
    name: str = Field(min_length=1, max_length=100, description="Role name", examples=["Helper"])
    color: str | None = Field(
        default=None, description="Name colour, as #RRGGBB", examples=["#2ECC71"]
    )
    hoist: bool = Field(
        default=False, description="Show its members separately in the member list", examples=[True]
    )
    mentionable: bool = Field(default=False, description="Anyone may @mention it", examples=[False])
    permissions: list[str] = Field(
        default_factory=list,
        description="Permission names, as in hikari.Permissions",
        examples=[["SEND_MESSAGES", "ADD_REACTIONS"]],
    )


class DeleteRoleParams(Audited, DiscordGuild):
    role_id: str = Field(description="The role to delete", examples=["1111111111111111111"])


class ChannelSettings(NodeParams):
    """What creating and editing a channel share; empty leaves Discord's value."""

    name: str | None = Field(
        default=None, max_length=100, description="New name; empty: unchanged", examples=["general"]
    )
    topic: str | None = Field(
        default=None, max_length=1024, description="Channel topic", examples=["Say hello!"]
    )
    nsfw: bool | None = Field(default=None, description="Age-restricted channel", examples=[False])
    rate_limit_per_user: int | None = Field(
        default=None, ge=0, le=21600, description="Slow mode, in seconds", examples=[0]
    )
    position: int | None = Field(
        default=None, ge=0, description="Place in the channel list", examples=[3]
    )
    parent_category_id: str | None = Field(
        default=None, description="Category it sits in", examples=["1133445566778899000"]
    )


class CreateChannelParams(ChannelSettings, Audited, DiscordGuild):
    name: str = Field(
        min_length=1, max_length=100, description="Channel name", examples=["introductions"]
    )
    type: Literal["text", "voice", "category", "announcement", "stage", "forum"] = Field(
        default="text", description="Kind of channel", examples=["text"]
    )


class EditChannelParams(ChannelSettings, Audited, DiscordChannel):
    pass


class DeleteChannelParams(Audited, DiscordChannel):
    # No default: deleting the channel the flow was started in by accident is not undoable.
    channel_id: ChatRef = Field(
        description="The channel to delete", examples=["1123456789012345678"]
    )


class CreateInviteParams(Audited, DiscordChannel):
    max_age: int = Field(
        default=86400,
        ge=0,
        le=604800,
        description="Seconds until it expires; 0: never",
        examples=[86400],
    )
    max_uses: int = Field(
        default=0,
        ge=0,
        le=100,
        description="How many people may use it; 0: no limit",
        examples=[10],
    )
    temporary: bool = Field(
        default=False, description="Members leave again when they go offline", examples=[False]
    )
    unique: bool = Field(
        default=True, description="Always make a new link instead of reusing one", examples=[True]
    )


class CreateEventParams(Audited, DiscordGuild):
    name: str = Field(
        min_length=1, max_length=100, description="Event name", examples=["Game night"]
    )
    description: str | None = Field(
        default=None, max_length=1000, description="What it is about", examples=["Bring snacks"]
    )
    entity_type: Literal["external", "voice", "stage"] = Field(
        default="external",
        description="Somewhere else, or in one of the server's voice or stage channels",
        examples=["voice"],
    )
    channel_id: VoiceChannelRef | None = Field(
        default=None,
        description="Voice or stage channel (voice and stage events)",
        examples=["1133445566778899001"],
    )
    location: str | None = Field(
        default=None,
        max_length=100,
        description="Where it happens (external events)",
        examples=["Town hall"],
    )
    start_time: str = Field(
        description="When it starts, ISO 8601 with time zone",
        examples=["2025-06-01T19:00:00+02:00", "{{context.start}}"],
    )
    end_time: str | None = Field(
        default=None,
        description="When it ends, ISO 8601 (required for external events)",
        examples=["2025-06-01T22:00:00+02:00"],
    )

    @field_validator("start_time", "end_time")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        """Literal times are checked now; expressions only once they are rendered."""
        if value is not None and "{{" not in value:
            datetime.fromisoformat(value)
        return value

    @model_validator(mode="after")
    def _where(self) -> Self:
        if self.entity_type == "external" and not (self.location and self.end_time):
            raise ValueError("an external event needs location and end_time")
        if self.entity_type != "external" and not self.channel_id:
            raise ValueError("a voice or stage event needs channel_id")
        return self


class SlowmodeParams(Audited, DiscordChannel):
    seconds: int = Field(
        default=10,
        ge=0,
        le=21600,
        description="Seconds each member must wait between messages; 0 turns it off",
        examples=[10, 0],
    )


_action("dc_create_role", "Create role", "Creates a new role on the server.", CreateRoleParams)
_action("dc_delete_role", "Delete role", "Deletes a role from the server.", DeleteRoleParams)
_action("dc_create_channel", "Create channel", "Creates a new channel.", CreateChannelParams)
_action(
    "dc_edit_channel",
    "Edit channel",
    "Changes a channel's name, topic or settings.",
    EditChannelParams,
)
_action("dc_delete_channel", "Delete channel", "Deletes a channel for good.", DeleteChannelParams)
_action(
    "dc_create_invite", "Create invite", "Creates an invite link to a channel.", CreateInviteParams
)
_action(
    "dc_create_event",
    "Create scheduled event",
    "Schedules an event members can sign up for.",
    CreateEventParams,
)
_action(
    "dc_set_slowmode",
    "Set slow mode",
    "Makes members wait a number of seconds between messages in a channel.",
    SlowmodeParams,
)

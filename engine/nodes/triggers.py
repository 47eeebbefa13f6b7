"""Trigger node types: the events that start a flow (see NODES.md, "Triggers").

Each trigger's params are the filters an admin sets; its example payload is a
PlatformEvent as the connector (or webhook, scheduler, editor) really builds it,
so the editor's test run and the docs show the data a flow will actually get.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import Field, field_validator, model_validator

from engine.nodes.base import (
    ChatRef,
    ConnectionRef,
    NodeCategory,
    NodeParams,
    NodePlatform,
    NodeType,
    ServerRef,
)
from engine.nodes.registry import REGISTRY
from engine.platform_event import EventChat, EventMedia, EventUser, PlatformEvent

# --- Shared filters -------------------------------------------------------------------------


class PlatformTrigger(NodeParams):
    """Filters of every platform-bound trigger: which bot or account listens."""

    instance_id: ConnectionRef | None = Field(
        default=None,
        description="Only events seen by this bot or account; empty: any of them",
        examples=[None, 1],
    )


class ChatTrigger(PlatformTrigger):
    chat_id: ChatRef | None = Field(
        default=None,
        description="Only events in this chat, group or channel; empty: any chat",
        examples=[None, "-1001234567890"],
    )


class TextTrigger(ChatTrigger):
    text_contains: str | None = Field(
        default=None,
        description="Only messages whose text contains this, ignoring case; empty: any text",
        examples=[None, "price"],
    )


class EmojiTrigger(ChatTrigger):
    emoji: str | None = Field(
        default=None,
        description="Only this reaction emoji; empty: any emoji",
        examples=[None, "👍"],
    )


class DiscordTrigger(PlatformTrigger):
    guild_id: ServerRef | None = Field(
        default=None,
        description="Only events in this Discord server (guild id); empty: any server",
        examples=[None, "1098765432109876543"],
    )


class DiscordChannelTrigger(DiscordTrigger):
    channel_id: ChatRef | None = Field(
        default=None,
        description="Only events in this channel; empty: any channel",
        examples=[None, "1123456789012345678"],
    )


# --- Filters of particular triggers ------------------------------------------------------


class TelegramCommandTrigger(ChatTrigger):
    command: str = Field(
        description="The command, without the slash (letters, digits and _, up to 32)",
        examples=["start", "warn"],
        pattern=r"^[a-z0-9_]{1,32}$",
    )

    @field_validator("command", mode="before")
    @classmethod
    def _without_slash(cls, value: Any) -> Any:
        """Admins often type the slash (or a capital) anyway: accept it."""
        return value.strip().removeprefix("/").lower() if isinstance(value, str) else value


class CallbackQueryTrigger(ChatTrigger):
    data_prefix: str | None = Field(
        default=None,
        description="Only buttons whose callback data starts with this; empty: any button",
        examples=[None, "vote:"],
    )


# The media kinds of EventMedia.type, whatever the platform calls them.
MediaType = Literal["photo", "video", "document", "voice", "audio", "sticker", "animation"]


class MediaTrigger(ChatTrigger):
    media_types: list[MediaType] = Field(
        default_factory=list,
        description="Only these kinds of media; empty: any media",
        examples=[["photo", "video"]],
    )


class PollAnswerTrigger(PlatformTrigger):
    poll_id: str | None = Field(
        default=None,
        description="Only answers to this poll; empty: any poll the bot sent",
        examples=[None, "5432109876543210987"],
    )


class InlineQueryTrigger(PlatformTrigger):
    query_prefix: str | None = Field(
        default=None,
        description="Only inline queries starting with this text; empty: any query",
        examples=[None, "gif "],
    )


class BotStatusTrigger(ChatTrigger):
    new_status: list[Literal["member", "administrator", "restricted", "left", "kicked"]] = Field(
        default_factory=list,
        description="Only when the bot's new status is one of these; empty: any change",
        examples=[["member", "administrator"]],
    )


class TelegramUserMessageTrigger(TextTrigger):
    include_outgoing: bool = Field(
        default=False,
        description="Also start for messages the account sends itself",
        examples=[False],
    )


class DiscordMessageTrigger(DiscordChannelTrigger):
    text_contains: str | None = Field(
        default=None,
        description="Only messages whose text contains this, ignoring case; empty: any text",
        examples=[None, "help"],
    )
    include_bots: bool = Field(
        default=False, description="Also start for messages written by bots", examples=[False]
    )


class SlashCommandTrigger(DiscordTrigger):
    command: str = Field(
        description="The slash command's name, without the slash (lowercase, up to 32)",
        examples=["ticket"],
        pattern=r"^[-_a-z0-9]{1,32}$",
    )


class ButtonClickTrigger(DiscordChannelTrigger):
    custom_id_prefix: str | None = Field(
        default=None,
        description="Only buttons whose custom id starts with this; empty: any button",
        examples=[None, "role:"],
    )


class MemberUpdateTrigger(DiscordTrigger):
    changes: list[Literal["roles", "nickname"]] = Field(
        default_factory=list,
        description="Only when one of these changed; empty: any change",
        examples=[["roles"]],
    )


class DiscordReactionTrigger(DiscordChannelTrigger):
    emoji: str | None = Field(
        default=None,
        description="Only this emoji (a character, or the custom emoji's name); empty: any",
        examples=[None, "✅"],
    )


class ReceiptTrigger(ChatTrigger):
    receipt_types: list[Literal["delivered", "read", "played"]] = Field(
        default_factory=list,
        description="Only these receipts; empty: any receipt",
        examples=[["read"]],
    )


# --- General triggers -----------------------------------------------------------------------


class WebhookTrigger(NodeParams):
    """Publishing the flow makes or updates the node's endpoint from these settings
    (engine/services/webhooks.py, sync_flow_endpoints)."""

    endpoint_name: str = Field(
        description="A name for the endpoint; its URL gets a secret token of its own",
        examples=["shop-orders"],
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$",
    )
    require_signature: bool = Field(
        default=False,
        description="Refuse requests without a valid HMAC-SHA256 X-Flowbot-Signature header",
        examples=[True],
    )
    wait_for_result: bool = Field(
        default=False,
        description="Answer the request with the flow's result instead of at once",
        examples=[False],
    )
    wait_timeout_seconds: int = Field(
        default=10,
        ge=1,
        le=60,
        description="With Wait for result: answer 202 (still running) after this many seconds",
        examples=[10],
    )


class ScheduleTrigger(NodeParams):
    cron: str | None = Field(
        default=None,
        description="When to run, as a cron expression (minute hour day month weekday)",
        examples=["0 9 * * 1-5", "*/15 * * * *"],
    )
    interval_seconds: int | None = Field(
        default=None,
        ge=10,
        description="Or: run every this many seconds (at least 10)",
        examples=[3600],
    )
    timezone: str = Field(
        default="UTC",
        description="Time zone the cron expression is read in (IANA name)",
        examples=["UTC", "Europe/Berlin"],
    )

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"not a valid cron expression: {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone: {value!r}") from None
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> Self:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("set exactly one of cron and interval_seconds")
        return self


class ManualTrigger(NodeParams):
    sample_payload: dict[str, Any] = Field(
        default_factory=dict,
        description="Data the flow gets as {{trigger.data}} when run from the editor",
        examples=[{"name": "Ada"}],
    )


class FlowCalledTrigger(NodeParams):
    inputs: list[str] = Field(
        default_factory=list,
        description="Names of the values a calling flow passes; they arrive in {{trigger.data}}",
        examples=[["user_id", "reason"]],
    )


# --- Declarations ---------------------------------------------------------------------------

# Prefix -> (node platform, event platform, connector kind); general triggers have no prefix.
_SOURCES: dict[str, tuple[NodePlatform, str, str | None]] = {
    "tgu_": (NodePlatform.telegram_user, "telegram", "telegram_user"),
    "tg_": (NodePlatform.telegram_bot, "telegram", "telegram_bot"),
    "dc_": (NodePlatform.discord_bot, "discord", "discord_bot"),
    "wa_": (NodePlatform.whatsapp_user, "whatsapp", "whatsapp_user"),
}
_GENERAL = (NodePlatform.general, "flowbot", None)
_EXAMPLE_TIME = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


def _trigger(
    node_id: str, label: str, description: str, params: type[NodeParams], **event: Any
) -> None:
    """Declare a trigger; its platform and example event's envelope follow from the id."""
    platform, event_platform, connector = next(
        (source for prefix, source in _SOURCES.items() if node_id.startswith(prefix)), _GENERAL
    )
    example = PlatformEvent(
        event_id=f"{connector or 'flowbot'}:{node_id}:1001",
        kind=node_id,
        platform=event_platform,
        connector=connector,
        instance_id=1 if connector else None,
        occurred_at=_EXAMPLE_TIME,
        **event,
    )
    REGISTRY.add(
        NodeType(
            id=node_id,
            label=label,
            description=description,
            category=NodeCategory.trigger,
            platform=platform,
            params=params,
            example_payload=example.as_trigger(),
        )
    )


# Who and where, as the connectors map them.
TG_USER = EventUser(
    id="123456789", username="ada_l", first_name="Ada", last_name="Lovelace", language="en"
)
TG_GROUP = EventChat(id="-1001234567890", type="supergroup", title="Flowbot Community")
TG_CHANNEL = EventChat(id="-1009876543210", type="channel", title="Flowbot News")
DC_USER = EventUser(id="287654321098765432", username="ada", display_name="Ada")
DC_CHANNEL = EventChat(
    id="1123456789012345678", type="guild", title="general", guild_id="1098765432109876543"
)
WA_USER = EventUser(id="4915112345678@s.whatsapp.net", display_name="Ada")
WA_PRIVATE = EventChat(id="4915112345678@s.whatsapp.net", type="private")
WA_GROUP = EventChat(id="120363025246125486@g.us", type="group", title="Neighbourhood")

# Telegram bot
_trigger(
    "tg_message", "Telegram message", "Starts when the bot receives any message.", TextTrigger,
    chat=TG_GROUP, user=TG_USER, message_id="4521", text="Hello everyone!",
    raw={"update_id": 804512377},
)  # fmt: skip
_trigger(
    "tg_command", "Telegram command", "Starts when someone sends a /command to the bot.",
    TelegramCommandTrigger,
    chat=TG_GROUP, user=TG_USER, message_id="4522", text="/warn @spammer flooding",
    command="warn", args=["@spammer", "flooding"],
)  # fmt: skip
_trigger(
    "tg_callback_query", "Telegram button pressed",
    "Starts when someone presses an inline button under one of the bot's messages.",
    CallbackQueryTrigger,
    chat=TG_GROUP, user=TG_USER, message_id="4530",
    data={"callback_data": "vote:yes", "callback_query_id": "4382109876543210001"},
)  # fmt: skip
_trigger(
    "tg_edited_message", "Telegram message edited", "Starts when someone edits a message.",
    TextTrigger,
    chat=TG_GROUP, user=TG_USER, message_id="4521", text="Hello everyone! (edited)",
    data={"edit_date": "2025-03-14T09:26:53Z"},
)  # fmt: skip
_trigger(
    "tg_media_message", "Telegram media",
    "Starts when someone sends a photo, video, document, voice message or sticker.",
    MediaTrigger,
    chat=TG_GROUP, user=TG_USER, message_id="4523", text="Our meetup",
    media=EventMedia(
        type="photo", file_id="AgACAgIAAxkBAAIBZ2X", mime_type="image/jpeg", caption="Our meetup"
    ),
)  # fmt: skip
_trigger(
    "tg_member_joined", "Telegram member joined", "Starts when someone joins a group.",
    ChatTrigger,
    chat=TG_GROUP, user=TG_USER, data={"old_status": "left", "new_status": "member"},
)  # fmt: skip
_trigger(
    "tg_member_left", "Telegram member left",
    "Starts when someone leaves a group or is removed from it.", ChatTrigger,
    chat=TG_GROUP, user=TG_USER, data={"old_status": "member", "new_status": "left"},
)  # fmt: skip
_trigger(
    "tg_chat_join_request", "Telegram join request",
    "Starts when someone asks to join a group that needs approval.", ChatTrigger,
    chat=TG_GROUP, user=TG_USER,
    data={"bio": "Maths enthusiast", "invite_link": "https://t.me/+AbCdEfGhIjK"},
)  # fmt: skip
_trigger(
    "tg_reaction", "Telegram reaction", "Starts when someone reacts to a message.", EmojiTrigger,
    chat=TG_GROUP, user=TG_USER, message_id="4521",
    data={"emoji": "👍", "old_reaction": [], "new_reaction": ["👍"]},
)  # fmt: skip
_trigger(
    "tg_poll_answer", "Telegram poll answer", "Starts when someone answers a poll the bot sent.",
    PollAnswerTrigger,
    user=TG_USER,
    data={"poll_id": "5432109876543210987", "option_ids": [0], "options": ["Saturday"]},
)  # fmt: skip
_trigger(
    "tg_inline_query", "Telegram inline query",
    "Starts when someone types the bot's @name followed by a search in any chat.",
    InlineQueryTrigger,
    user=TG_USER, text="gif cats",
    data={"inline_query_id": "4382109876543210777", "query": "gif cats", "offset": ""},
)  # fmt: skip
_trigger(
    "tg_channel_post", "Telegram channel post",
    "Starts when a new post appears in a channel the bot administers.", TextTrigger,
    chat=TG_CHANNEL, message_id="311", text="Version 2.0 is out!",
)  # fmt: skip
_trigger(
    "tg_bot_status_changed", "Telegram bot added or removed",
    "Starts when the bot is added to, removed from, or promoted in a chat.", BotStatusTrigger,
    chat=TG_GROUP, user=TG_USER, data={"old_status": "left", "new_status": "administrator"},
)  # fmt: skip
_trigger(
    "tg_chat_boost", "Telegram chat boost", "Starts when someone boosts a channel or group.",
    ChatTrigger,
    chat=TG_CHANNEL, user=TG_USER,
    data={"boost_id": "e1f2a3", "expiration_date": "2025-04-13T09:26:53Z", "source": "premium"},
)  # fmt: skip

# Telegram user account
_trigger(
    "tgu_message", "Account message",
    "Starts when your Telegram account receives a message.", TelegramUserMessageTrigger,
    chat=EventChat(id="123456789", type="private"), user=TG_USER, message_id="88213",
    text="Are you around later?",
)  # fmt: skip
_trigger(
    "tgu_mention", "Account mentioned",
    "Starts when someone mentions your Telegram account or replies to it.", ChatTrigger,
    chat=TG_GROUP, user=TG_USER, message_id="4540", text="@flowbot_admin can you pin this?",
    reply_to_message_id="4510",
)  # fmt: skip

# Discord
_trigger(
    "dc_message", "Discord message", "Starts when someone writes in a Discord channel.",
    DiscordMessageTrigger,
    chat=DC_CHANNEL, user=DC_USER, message_id="1234567890123456789", text="Hi all!",
)  # fmt: skip
_trigger(
    "dc_slash_command", "Discord slash command",
    "Starts when someone uses one of the bot's slash commands.", SlashCommandTrigger,
    chat=DC_CHANNEL, user=DC_USER, text="/ticket topic:billing", command="ticket",
    args=["billing"],
    data={
        "interaction_id": "1234567890123456700",
        "interaction_token": "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MA",
        "options": {"topic": "billing"},
    },
)  # fmt: skip
_trigger(
    "dc_button_click", "Discord button clicked",
    "Starts when someone clicks a button on one of the bot's messages.", ButtonClickTrigger,
    chat=DC_CHANNEL, user=DC_USER, message_id="1234567890123456789",
    data={
        "custom_id": "role:announcements",
        "interaction_id": "1234567890123456701",
        "interaction_token": "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MQ",
    },
)  # fmt: skip
_trigger(
    "dc_member_join", "Discord member joined", "Starts when someone joins the Discord server.",
    DiscordTrigger,
    chat=EventChat(id="1098765432109876543", type="guild", guild_id="1098765432109876543"),
    user=DC_USER,
)  # fmt: skip
_trigger(
    "dc_member_leave", "Discord member left",
    "Starts when someone leaves the Discord server or is removed.", DiscordTrigger,
    chat=EventChat(id="1098765432109876543", type="guild", guild_id="1098765432109876543"),
    user=DC_USER,
)  # fmt: skip
_trigger(
    "dc_member_update", "Discord member changed",
    "Starts when a member's roles or nickname change.", MemberUpdateTrigger,
    chat=EventChat(id="1098765432109876543", type="guild", guild_id="1098765432109876543"),
    user=DC_USER,
    data={
        "added_roles": ["1111111111111111111"], "removed_roles": [],
        "old_nickname": None, "new_nickname": "Ada (mod)",
    },
)  # fmt: skip
_trigger(
    "dc_reaction_add", "Discord reaction", "Starts when someone adds a reaction to a message.",
    DiscordReactionTrigger,
    chat=DC_CHANNEL, user=DC_USER, message_id="1234567890123456789",
    data={"emoji": "✅", "emoji_id": None},
)  # fmt: skip
_trigger(
    "dc_message_delete", "Discord message deleted", "Starts when a message is deleted.",
    DiscordChannelTrigger,
    chat=DC_CHANNEL, message_id="1234567890123456789", data={"cached_text": "Hi all!"},
)  # fmt: skip

# WhatsApp
_trigger(
    "wa_message", "WhatsApp message", "Starts when someone sends your WhatsApp a private message.",
    TextTrigger,
    chat=WA_PRIVATE, user=WA_USER, message_id="3EB0C431C26A1916E07A",
    text="Hi, are you open today?",
)  # fmt: skip
_trigger(
    "wa_group_message", "WhatsApp group message",
    "Starts when someone writes in a WhatsApp group you are in.", TextTrigger,
    chat=WA_GROUP, user=WA_USER, message_id="3EB0C431C26A1916E07B", text="Bin day tomorrow!",
)  # fmt: skip
_trigger(
    "wa_media_message", "WhatsApp media",
    "Starts when someone sends a picture, video, audio, document or sticker.",
    MediaTrigger,
    chat=WA_GROUP, user=WA_USER, message_id="3EB0C431C26A1916E07C", text="Lost cat",
    media=EventMedia(type="photo", mime_type="image/jpeg", caption="Lost cat"),
)  # fmt: skip
_trigger(
    "wa_group_joined", "WhatsApp participant added",
    "Starts when someone is added to or joins a WhatsApp group.", ChatTrigger,
    chat=WA_GROUP, user=WA_USER,
    data={"participants": ["4915112345678@s.whatsapp.net"], "by": "4917612345678@s.whatsapp.net"},
)  # fmt: skip
_trigger(
    "wa_group_left", "WhatsApp participant left",
    "Starts when someone leaves or is removed from a WhatsApp group.", ChatTrigger,
    chat=WA_GROUP, user=WA_USER, data={"participants": ["4915112345678@s.whatsapp.net"]},
)  # fmt: skip
_trigger(
    "wa_reaction", "WhatsApp reaction", "Starts when someone reacts to a message.", EmojiTrigger,
    chat=WA_GROUP, user=WA_USER, message_id="3EB0C431C26A1916E07B", data={"emoji": "❤️"},
)  # fmt: skip
_trigger(
    "wa_receipt", "WhatsApp delivered or read",
    "Starts when a message you sent is delivered to or read by its recipient.", ReceiptTrigger,
    chat=WA_PRIVATE, user=WA_USER,
    data={"receipt_type": "read", "message_ids": ["3EB0A1B2C3D4E5F60718"]},
)  # fmt: skip

# General
_trigger(
    "webhook", "Webhook",
    "Starts when another service sends an HTTP request to this flow's own address.",
    WebhookTrigger,
    data={
        "method": "POST", "path": "/api/webhooks/6Ffv0Xo2bC", "query": {},
        "headers": {"content-type": "application/json"},
        "body": {"order_id": 1042, "total": "19.90", "email": "ada@example.org"},
    },
)  # fmt: skip
_trigger(
    "schedule", "Schedule",
    "Starts at set times, or again and again after a set interval. Schedules are checked "
    "every 15 seconds: a run starts up to 15 seconds late, and an interval under 15 "
    "seconds runs at most once per check. Runs missed while Flowbot was down are skipped.",
    ScheduleTrigger,
    data={"scheduled_for": "2025-03-14T09:00:00+01:00", "cron": "0 9 * * 1-5"},
)  # fmt: skip
_trigger(
    "manual", "Manual run", "Starts when you press Run in the editor or call the REST API.",
    ManualTrigger,
    user=EventUser(id="admin", username="admin"), data={"name": "Ada"},
)  # fmt: skip
_trigger(
    "flow_called", "Called by another flow",
    "Starts when another flow runs this one with its Run flow step.", FlowCalledTrigger,
    data={"caller_flow_id": 7, "depth": 1, "inputs": {"user_id": "123456789", "reason": "spam"}},
)  # fmt: skip


def run_example(graph: Mapping[str, Any]) -> dict[str, Any] | None:
    """The event a test run of the flow starts from: its trigger type's example, whose data a
    Manual trigger's own sample payload replaces when it has one (None: no trigger)."""
    for node in graph.get("nodes", []):
        node_type = REGISTRY.get(node["type"]) if node.get("type") in REGISTRY else None
        if node_type is None or node_type.category != NodeCategory.trigger:
            continue
        example = dict(node_type.example_payload or {})
        if node_type.id == "manual":
            sample = ManualTrigger.model_validate(node.get("params") or {}).sample_payload
            example["data"] = sample or example.get("data", {})
        return example
    return None


def missing_inputs(graph: Mapping[str, Any], given: Mapping[str, Any]) -> list[str]:
    """The inputs a flow's "Called by another flow" trigger declares that a call leaves out."""
    for node in graph.get("nodes", []):
        if node.get("type") == "flow_called":
            declared = FlowCalledTrigger.model_validate(node.get("params") or {}).inputs
            return [name for name in declared if name not in given]
    return []

"""PlatformEvent: the one shape every trigger's data has, whatever the source.

Connectors map Telegram, Discord and WhatsApp updates to it; webhooks, schedules
and manual runs build it too. Flows read it as ``{{trigger.<field>}}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.models.base import utcnow


class EventUser(BaseModel):
    id: str = Field(
        description="Platform user id (Telegram user id, Discord snowflake, WhatsApp JID)"
    )
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None
    is_bot: bool = False
    language: str | None = None


class EventChat(BaseModel):
    id: str = Field(description="Chat, channel or group id")
    type: str = Field(
        description="private, group, supergroup, channel, guild (a Discord guild channel) or dm"
    )
    title: str | None = None
    guild_id: str | None = None


class EventMedia(BaseModel):
    type: str = Field(description="photo, video, document, voice, audio, sticker, animation")
    file_id: str | None = None
    url: str | None = None
    mime_type: str | None = None
    file_name: str | None = None
    caption: str | None = None


class PlatformEvent(BaseModel):
    """Something that happened and may start flows."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(description="Unique per event: one execution per event and flow")
    kind: str = Field(description="The trigger node type it matches, e.g. tg_command")
    platform: str = Field(description="telegram, discord, whatsapp or flowbot")
    connector: str | None = Field(default=None, description="Connector kind that saw it")
    instance_id: int | None = Field(default=None, description="BotInstance that saw it")
    chat: EventChat | None = None
    user: EventUser | None = None
    message_id: str | None = None
    text: str | None = None
    command: str | None = Field(default=None, description="Command name without the slash")
    args: list[str] = Field(default_factory=list)
    reply_to_message_id: str | None = None
    is_forwarded: bool = False
    media: EventMedia | None = None
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="Kind-specific fields: callback data, emoji, poll options, roles...",
    )
    raw: dict[str, Any] = Field(default_factory=dict, description="The platform's own payload")
    occurred_at: datetime = Field(default_factory=utcnow)

    def as_trigger(self) -> dict[str, Any]:
        """The JSON form flows see as ``trigger``."""
        return self.model_dump(mode="json")


# Connector kind -> PlatformEvent.platform
PLATFORMS = {
    "telegram_bot": "telegram",
    "telegram_user": "telegram",
    "discord_bot": "discord",
    "whatsapp_user": "whatsapp",
}


def platform_event(
    connector: str, instance_id: int | None, kind: str, unique: str, **fields: Any
) -> PlatformEvent:
    """A PlatformEvent whose ``event_id`` is ``connector:kind:unique`` (as the examples show).

    ``unique`` should come from the platform (message id, interaction id) wherever one
    exists, so that a redelivered update maps to the same id and starts no second execution.
    """
    return PlatformEvent(
        event_id=f"{connector}:{kind}:{unique}",
        kind=kind,
        platform=PLATFORMS[connector],
        connector=connector,
        instance_id=instance_id,
        **fields,
    )


def timestamp_key(moment: datetime | None = None) -> str:
    """A unique-enough key for events the platform gives no id (member left, receipts)."""
    return str(int((moment or datetime.now(UTC)).timestamp() * 1_000_000))

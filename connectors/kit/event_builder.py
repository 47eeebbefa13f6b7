"""Building PlatformEvents the same way in every connector's mapper."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.platform_event import PlatformEvent

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

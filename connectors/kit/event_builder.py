"""Re-exports the engine's PlatformEvent builders (the engine owns the event contract)."""

from engine.platform_event import PLATFORMS, platform_event, timestamp_key

__all__ = ["PLATFORMS", "platform_event", "timestamp_key"]

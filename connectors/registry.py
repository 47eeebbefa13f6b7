"""Connector classes by kind: adding a platform is adding one line here.

Entries are import paths, resolved on first use, so the supervisor only imports
the client libraries (aiogram, hikari, pyrogram, neonize) of kinds it actually runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from connectors.kit.connector import Connector, EmitEvent, InstanceConfig, ReportStatus

ConnectorFactory = Callable[[InstanceConfig, EmitEvent, ReportStatus], Connector]

CONNECTORS: dict[str, str] = {
    "telegram_bot": "connectors.telegram_bot.client:TelegramBotConnector",
    "discord_bot": "connectors.discord_bot.client:DiscordBotConnector",
    "telegram_user": "connectors.telegram_user.client:TelegramUserConnector",
    "whatsapp_user": "connectors.whatsapp_user.client:WhatsAppConnector",
}


class UnknownConnectorKind(LookupError):
    pass


def connector_factory(kind: str) -> ConnectorFactory:
    try:
        module_name, _, attribute = CONNECTORS[kind].partition(":")
    except KeyError:
        raise UnknownConnectorKind(f"no connector is registered for {kind!r}") from None
    factory: ConnectorFactory = getattr(importlib.import_module(module_name), attribute)
    return factory

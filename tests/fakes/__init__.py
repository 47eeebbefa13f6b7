"""Fake platform servers on 127.0.0.1 that the real client libraries talk to.

- ``FakeTelegramBotAPI`` (telegram_bot_api.py): the Telegram Bot API for aiogram
  (``Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))``):
  getMe, long-polling getUpdates with injected updates (``push_message``, ``push_command``,
  ``push_callback_query``, ``push_chat_member``, ``push_join_request``), webhooks and commands,
  every method the Telegram actions call, and what chat discovery asks (getChat,
  getChatMemberCount with ``set_member_count``, getChatMember and getChatAdministrators
  from ``set_member``). Records calls (``calls_to``, ``wait_for_call``),
  injects errors (``fail_next``: 429 with retry_after, 400…), rejects unknown tokens (401) and
  simulates outages (``set_down``, ``stop``/``start`` on the same port).
- ``FakeDiscord`` (discord.py): Discord REST v10 (``fake.rest_url``) and gateway websocket for
  hikari (``GatewayBot(fake.token, rest_url=fake.rest_url)``): HELLO, IDENTIFY, READY,
  GUILD_CREATE, heartbeats, RESUME and ``dispatch(event, data)``, the bot added to and removed
  from guilds (``join_guild``, ``leave_guild``); the REST endpoints the Discord actions and
  chat discovery call (the guild member list, the bot's guilds, a guild's channels), recorded
  by route template; slash commands and button clicks (``command_interaction`` in a locale,
  ``component_interaction`` under a message; ``interaction_messages`` holds what each
  answer posted or edited); 429s (``rate_limit_next``), errors (``fail_next``) and outages.
- telegram_objects.py and discord_objects.py build the platforms' objects for tests.
- whatsapp_core.py stands in for neonize's Go core (``GoCore``: joined groups and group info
  as serialised protobufs) and delivers events through neonize's own dispatch (``deliver``).
"""

from importlib import import_module
from typing import Any

# Loaded on first use: `python -m tests.fakes.pool` must not pay for aiogram and hikari.
_EXPORTS = {
    "UploadedFile": ("tests.fakes._server", "UploadedFile"),
    "DISCORD_TOKEN": ("tests.fakes.discord", "DEFAULT_TOKEN"),
    "DiscordCall": ("tests.fakes.discord", "DiscordCall"),
    "FakeDiscord": ("tests.fakes.discord", "FakeDiscord"),
    "DISCORD_CHANNEL_ID": ("tests.fakes.discord_rest", "DEFAULT_CHANNEL_ID"),
    "DISCORD_GUILD_ID": ("tests.fakes.discord_rest", "DEFAULT_GUILD_ID"),
    "DISCORD_USER_ID": ("tests.fakes.discord_rest", "DEFAULT_USER_ID"),
    "TELEGRAM_TOKEN": ("tests.fakes.telegram_bot_api", "DEFAULT_TOKEN"),
    "FakeTelegramBotAPI": ("tests.fakes.telegram_bot_api", "FakeTelegramBotAPI"),
    "RecordedCall": ("tests.fakes.telegram_bot_api", "RecordedCall"),
    "TELEGRAM_CHAT_ID": ("tests.fakes.telegram_updates", "DEFAULT_CHAT_ID"),
    "TELEGRAM_USER_ID": ("tests.fakes.telegram_updates", "DEFAULT_USER_ID"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(name) from None
    return getattr(import_module(module), attribute)


__all__ = [
    "DISCORD_CHANNEL_ID",
    "DISCORD_GUILD_ID",
    "DISCORD_TOKEN",
    "DISCORD_USER_ID",
    "TELEGRAM_CHAT_ID",
    "TELEGRAM_TOKEN",
    "TELEGRAM_USER_ID",
    "DiscordCall",
    "FakeDiscord",
    "FakeTelegramBotAPI",
    "RecordedCall",
    "UploadedFile",
]

"""Fake platform servers on 127.0.0.1 that the real client libraries talk to.

- ``FakeTelegramBotAPI`` (telegram_bot_api.py): the Telegram Bot API for aiogram
  (``Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))``):
  getMe, long-polling getUpdates with injected updates (``push_message``, ``push_command``,
  ``push_callback_query``, ``push_chat_member``, ``push_join_request``), webhooks and commands,
  and every method the Telegram actions call. Records calls (``calls_to``, ``wait_for_call``),
  injects errors (``fail_next``: 429 with retry_after, 400…), rejects unknown tokens (401) and
  simulates outages (``set_down``, ``stop``/``start`` on the same port).
- ``FakeDiscord`` (discord.py): Discord REST v10 (``fake.rest_url``) and gateway websocket for
  hikari (``GatewayBot(fake.token, rest_url=fake.rest_url)``): HELLO, IDENTIFY, READY,
  GUILD_CREATE, heartbeats, RESUME and ``dispatch(event, data)``; the REST endpoints the Discord
  actions call, recorded by route template; 429s (``rate_limit_next``), errors (``fail_next``)
  and outages.
- telegram_objects.py and discord_objects.py build the platforms' objects for tests.
"""

from tests.fakes._server import UploadedFile
from tests.fakes.discord import DEFAULT_TOKEN as DISCORD_TOKEN
from tests.fakes.discord import DiscordCall, FakeDiscord
from tests.fakes.discord_rest import DEFAULT_CHANNEL_ID as DISCORD_CHANNEL_ID
from tests.fakes.discord_rest import DEFAULT_GUILD_ID as DISCORD_GUILD_ID
from tests.fakes.discord_rest import DEFAULT_USER_ID as DISCORD_USER_ID
from tests.fakes.telegram_bot_api import DEFAULT_TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_bot_api import FakeTelegramBotAPI, RecordedCall
from tests.fakes.telegram_updates import DEFAULT_CHAT_ID as TELEGRAM_CHAT_ID
from tests.fakes.telegram_updates import DEFAULT_USER_ID as TELEGRAM_USER_ID

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

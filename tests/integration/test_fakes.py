"""The fake platforms are faithful: the real aiogram and hikari clients work against them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import hikari
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from tests.fakes import (
    DISCORD_CHANNEL_ID,
    DISCORD_GUILD_ID,
    TELEGRAM_CHAT_ID,
    FakeDiscord,
    FakeTelegramBotAPI,
    UploadedFile,
)

T = TypeVar("T")


async def bounded(awaitable: Awaitable[T], timeout: float = 10.0) -> T:
    """Every wait in these tests is bounded so that a broken fake fails instead of hanging."""
    return await asyncio.wait_for(awaitable, timeout)


# -- Telegram ----------------------------------------------------------------------------------


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegramBotAPI]:
    async with FakeTelegramBotAPI() as fake:
        yield fake


def aiogram_bot(fake: FakeTelegramBotAPI, token: str | None = None) -> Bot:
    api = TelegramAPIServer.from_base(fake.base_url)
    return Bot(token or fake.token, session=AiohttpSession(api=api))


@pytest.fixture
async def bot(telegram: FakeTelegramBotAPI) -> AsyncIterator[Bot]:
    bot = aiogram_bot(telegram)
    yield bot
    await bot.session.close()


async def test_get_me_and_send_message_are_recorded(telegram: FakeTelegramBotAPI, bot: Bot) -> None:
    me = await bounded(bot.get_me())
    sent = await bounded(bot.send_message(TELEGRAM_CHAT_ID, "hello", disable_notification=True))

    assert me.is_bot and me.id == telegram.me["id"]
    assert sent.chat.id == TELEGRAM_CHAT_ID and sent.chat.type == "supergroup"
    assert sent.text == "hello" and sent.from_user is not None and sent.from_user.id == me.id
    [call] = telegram.calls_to("sendMessage")
    assert call.params == {
        "chat_id": TELEGRAM_CHAT_ID,
        "text": "hello",
        "disable_notification": True,
    }
    assert call.token == telegram.token


async def test_send_photo_as_upload_and_as_url(telegram: FakeTelegramBotAPI, bot: Bot) -> None:
    upload = BufferedInputFile(b"\x89PNG fake", filename="cat.png")
    by_upload = await bounded(bot.send_photo(TELEGRAM_CHAT_ID, upload, caption="a cat"))
    by_url = await bounded(bot.send_photo(TELEGRAM_CHAT_ID, "https://example.org/cat.jpg"))

    assert by_upload.photo and by_upload.caption == "a cat" and by_url.photo
    uploaded, linked = telegram.calls_to("sendPhoto")
    photo = uploaded.params["photo"]
    assert isinstance(photo, UploadedFile) and photo.filename == "cat.png"
    assert photo.data == b"\x89PNG fake" and uploaded.params["caption"] == "a cat"
    assert linked.params["photo"] == "https://example.org/cat.jpg"


async def test_retry_after_then_success(telegram: FakeTelegramBotAPI, bot: Bot) -> None:
    telegram.fail_next("sendMessage", 429, retry_after=7)

    with pytest.raises(TelegramRetryAfter) as raised:
        await bounded(bot.send_message(TELEGRAM_CHAT_ID, "too fast"))
    sent = await bounded(bot.send_message(TELEGRAM_CHAT_ID, "later"))

    assert raised.value.retry_after == 7
    assert "retry after 7" in raised.value.message
    assert sent.text == "later"
    assert [call.status for call in telegram.calls_to("sendMessage")] == [429, 200]


async def test_errors_the_api_would_give(telegram: FakeTelegramBotAPI, bot: Bot) -> None:
    telegram.fail_next("banChatMember", 400, description="Bad Request: user is an administrator")
    with pytest.raises(TelegramBadRequest, match="administrator"):
        await bounded(bot.ban_chat_member(TELEGRAM_CHAT_ID, 5))

    intruder = aiogram_bot(telegram, token="999:not-a-known-token")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await bounded(intruder.get_me())
    finally:
        await intruder.session.close()


async def test_long_polling_delivers_an_injected_command(
    telegram: FakeTelegramBotAPI, bot: Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await telegram.wait_for_call("getUpdates")
    assert not poll.done()  # the request is held open like a real long poll
    pushed = telegram.push_command("start", "now")

    [update] = await bounded(poll)
    confirm = await bounded(bot.get_updates(offset=update.update_id + 1, timeout=0))

    assert update.update_id == pushed["update_id"] and confirm == []
    message = update.message
    assert message is not None and message.text == "/start now"
    assert message.entities is not None and message.entities[0].type == "bot_command"
    assert telegram.pending_update_count() == 0


async def test_dispatcher_polling_runs_a_command_handler(
    telegram: FakeTelegramBotAPI, bot: Bot
) -> None:
    dispatcher = Dispatcher()
    seen: asyncio.Queue[str | None] = asyncio.Queue()

    @dispatcher.message(Command("start"))
    async def on_start(message: Message, command: CommandObject) -> None:
        await seen.put(command.args)
        await message.answer("welcome")

    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    try:
        telegram.push_command("start", "deep-link")
        assert await bounded(seen.get()) == "deep-link"
        answer = await telegram.wait_for_call("sendMessage")
        assert answer.params["text"] == "welcome"
        assert answer.params["chat_id"] == TELEGRAM_CHAT_ID
    finally:
        await dispatcher.stop_polling()
        await bounded(polling)


async def test_outage_and_recovery_on_the_same_port(telegram: FakeTelegramBotAPI, bot: Bot) -> None:
    port = telegram.port
    await telegram.stop()
    with pytest.raises(TelegramNetworkError):
        await bounded(bot.get_me())

    await telegram.start()
    assert telegram.port == port
    assert (await bounded(bot.get_me())).id == telegram.me["id"]

    telegram.set_down(True)
    with pytest.raises(TelegramNetworkError):
        await bounded(bot.get_me())
    telegram.set_down(False)
    assert (await bounded(bot.get_me())).is_bot


# -- Discord -----------------------------------------------------------------------------------


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        fake.add_guild()
        yield fake


@pytest.fixture
async def gateway_bot(discord: FakeDiscord) -> AsyncIterator[hikari.GatewayBot]:
    bot = hikari.GatewayBot(
        discord.token,
        rest_url=discord.rest_url,
        intents=hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.MESSAGE_CONTENT,
        banner=None,
        logs=None,
        suppress_optimization_warning=True,
    )
    await bounded(bot.start(check_for_updates=False))
    yield bot
    await bounded(bot.close())


async def test_gateway_bot_identifies_and_gets_ready(
    discord: FakeDiscord, gateway_bot: hikari.GatewayBot
) -> None:
    expected = hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.MESSAGE_CONTENT
    assert discord.intents == int(expected)
    me = gateway_bot.get_me()
    assert me is not None and str(me.id) == discord.me["id"]
    guild = gateway_bot.cache.get_guild(int(DISCORD_GUILD_ID))
    assert guild is not None and guild.name == "Flowbot Test Guild"
    assert discord.calls_to("GET", "/gateway/bot")


async def test_message_create_reaches_listeners_and_rest_reply_arrives(
    discord: FakeDiscord, gateway_bot: hikari.GatewayBot
) -> None:
    events: asyncio.Queue[hikari.GuildMessageCreateEvent] = asyncio.Queue()
    gateway_bot.subscribe(hikari.GuildMessageCreateEvent, events.put)

    await discord.dispatch("MESSAGE_CREATE", discord.user_message("hello bot"))
    event = await bounded(events.get())
    sent = await bounded(
        gateway_bot.rest.create_message(event.channel_id, "hi", reply=event.message)
    )

    assert event.content == "hello bot" and event.guild_id == int(DISCORD_GUILD_ID)
    assert sent.content == "hi" and sent.referenced_message is not None
    call = await discord.wait_for_call("POST", "/channels/{channel}/messages")
    assert call.params == {"channel": DISCORD_CHANNEL_ID}
    assert call.json["content"] == "hi"
    assert call.json["message_reference"]["message_id"] == str(event.message_id)


async def test_rate_limited_create_message_is_retried_after_retry_after(
    discord: FakeDiscord, gateway_bot: hikari.GatewayBot
) -> None:
    discord.rate_limit_next("POST /channels/{channel}/messages", retry_after=0.6)

    started = time.monotonic()
    sent = await bounded(gateway_bot.rest.create_message(DISCORD_CHANNEL_ID, "patience"))

    assert sent.content == "patience"
    assert time.monotonic() - started >= 0.55
    calls = discord.calls_to("POST", f"/channels/{DISCORD_CHANNEL_ID}/messages")
    assert [call.status for call in calls] == [429, 200]


async def test_interaction_and_moderation_calls_are_recorded(
    discord: FakeDiscord, gateway_bot: hikari.GatewayBot
) -> None:
    interactions: asyncio.Queue[hikari.InteractionCreateEvent] = asyncio.Queue()
    gateway_bot.subscribe(hikari.InteractionCreateEvent, interactions.put)

    await discord.dispatch("INTERACTION_CREATE", discord.command_interaction("ping"))
    event = await bounded(interactions.get())
    assert isinstance(event.interaction, hikari.CommandInteraction)
    await bounded(
        event.interaction.create_initial_response(hikari.ResponseType.MESSAGE_CREATE, "pong")
    )
    await bounded(gateway_bot.rest.kick_user(DISCORD_GUILD_ID, 42, reason="spam: ünicode"))

    callback = await discord.wait_for_call("POST", "/interactions/{interaction}/{token}/callback")
    assert callback.json["type"] == 4 and callback.json["data"]["content"] == "pong"
    [kick] = discord.calls_to("DELETE", "/guilds/{guild}/members/{user}")
    assert kick.params == {"guild": DISCORD_GUILD_ID, "user": "42"}
    assert kick.reason == "spam: ünicode" and kick.status == 204


async def test_gateway_resumes_after_an_outage(
    discord: FakeDiscord, gateway_bot: hikari.GatewayBot
) -> None:
    events: asyncio.Queue[hikari.GuildMessageCreateEvent] = asyncio.Queue()
    gateway_bot.subscribe(hikari.GuildMessageCreateEvent, events.put)

    await discord.stop()
    await discord.start()
    await bounded(discord.wait_until_ready(timeout=20), timeout=25)
    await discord.dispatch("MESSAGE_CREATE", discord.user_message("still there?"))

    assert (await bounded(events.get())).content == "still there?"
    assert discord.resumes and discord.resumes[-1]["session_id"] in discord.sessions
    assert len(discord.identifies) == 1

"""Long polling against the fake Bot API survives an update aiogram cannot read."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from connectors.kit.connector import InstanceConfig
from connectors.telegram_bot.client import TelegramBotConnector
from engine.platform_event import PlatformEvent
from tests.fakes import FakeTelegramBotAPI
from tests.fakes.telegram_bot_api import RecordedCall


@pytest.mark.usefixtures("sqlite_session")
async def test_an_unreadable_update_is_skipped_and_polling_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    commands: asyncio.Queue[PlatformEvent] = asyncio.Queue()

    async def emit(event: PlatformEvent) -> None:
        if event.command:
            commands.put_nowait(event)

    async def report(*_: Any) -> None:
        return None

    caplog.set_level(logging.WARNING, logger="connectors.telegram_bot.client")
    async with FakeTelegramBotAPI() as fake:
        config = InstanceConfig(
            instance_id=1,
            kind="telegram_bot",
            credential=fake.token,
            settings={"poll_timeout": 1},
            api_base_url=fake.base_url,
        )
        broken = fake.push_update({"message": {"message_id": "not a number", "chat": {}}})
        good = fake.push_command("ping")
        polling = asyncio.create_task(TelegramBotConnector(config, emit, report).run())
        command = asyncio.create_task(commands.get())
        try:
            done, _ = await asyncio.wait(
                {command, polling}, timeout=20, return_when=asyncio.FIRST_COMPLETED
            )
            assert command in done, polling.exception() if polling.done() else "no command"

            def confirms_both(call: RecordedCall) -> bool:
                return (
                    call.method == "getUpdates" and call.params.get("offset", 0) > good["update_id"]
                )

            await fake.log.wait_for(confirms_both, timeout=10)
        finally:
            for task in (command, polling):
                task.cancel()
            await asyncio.gather(command, polling, return_exceptions=True)

    assert command.result().command == "ping"
    assert fake.pending_update_count() == 0
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped == [
        f"skipped Telegram update {broken['update_id']}: aiogram cannot read "
        "['message.chat.id', 'message.chat.type', 'message.date', 'message.message_id']"
    ]
    assert fake.token not in caplog.text

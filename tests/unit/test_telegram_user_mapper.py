"""pyrogram Messages (pyrogram's own types) → tgu_message / tgu_mention PlatformEvents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest.mock import AsyncMock

import pyrogram
import pytest
from pyrogram import enums, types

from connectors.kit.connector import InstanceConfig
from connectors.kit.errors import CredentialRejected
from connectors.telegram_user.client import TelegramUserConnector
from connectors.telegram_user.mapper import map_message
from engine.nodes.registry import REGISTRY
from engine.platform_event import PlatformEvent

ADA = types.User(
    id=123456789, first_name="Ada", last_name="Lovelace", username="ada_l", language_code="en"
)
GROUP = types.Chat(id=-1001234567890, type=enums.ChatType.SUPERGROUP, title="Flowbot Community")
PRIVATE = types.Chat(id=123456789, type=enums.ChatType.PRIVATE, first_name="Ada")
SENT = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


def _message(chat: types.Chat, **fields: Any) -> types.Message:
    fields.setdefault("from_user", ADA)
    # pyrogram builds naive local datetimes from Telegram's timestamps
    fields.setdefault("date", SENT.astimezone().replace(tzinfo=None))
    return types.Message(id=fields.pop("id", 88213), chat=chat, **fields)


def _shaped_like_example(event: PlatformEvent) -> None:
    example = REGISTRY.get(event.kind).example_payload or {}
    assert (event.platform, event.connector) == (example["platform"], example["connector"])
    assert event.event_id.startswith(f"telegram_user:{event.kind}:")


def test_private_message() -> None:
    [event] = map_message(_message(PRIVATE, text="Are you around later?"), instance_id=2)

    _shaped_like_example(event)
    assert event.kind == "tgu_message"
    assert event.instance_id == 2
    assert event.chat is not None and event.user is not None
    assert (event.chat.id, event.chat.type) == ("123456789", "private")
    assert event.user.model_dump(exclude_none=True) == {
        "id": "123456789",
        "username": "ada_l",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "is_bot": False,
        "language": "en",
    }
    assert (event.message_id, event.text) == ("88213", "Are you around later?")
    assert event.occurred_at == SENT
    assert event.data == {"outgoing": False}


def test_mention_in_a_group_is_both_a_message_and_a_mention() -> None:
    message = _message(
        GROUP,
        id=4540,
        text="@flowbot_admin can you pin this?",
        mentioned=True,
        reply_to_message_id=4510,
    )

    events = map_message(message, instance_id=2)

    assert [e.kind for e in events] == ["tgu_message", "tgu_mention"]
    mention = events[1]
    _shaped_like_example(mention)
    assert mention.chat is not None
    assert (mention.chat.id, mention.chat.type, mention.chat.title) == (
        "-1001234567890",
        "supergroup",
        "Flowbot Community",
    )
    assert mention.reply_to_message_id == "4510"
    assert mention.event_id != events[0].event_id


def test_outgoing_message_is_flagged_for_the_trigger_filter() -> None:
    [event] = map_message(_message(PRIVATE, text="sent by me", outgoing=True), instance_id=2)
    assert event.data == {"outgoing": True}


def test_media_message() -> None:
    photo = types.Photo(
        file_id="AgACAgIAAxkBAAIBZ2X",
        file_unique_id="AQADAgAT",
        width=800,
        height=600,
        file_size=51234,
        date=SENT,
    )
    [event] = map_message(_message(GROUP, photo=photo, caption="Our meetup"), instance_id=2)

    assert event.text == "Our meetup"
    assert event.media is not None
    assert event.media.model_dump(exclude_none=True) == {
        "type": "photo",
        "file_id": "AgACAgIAAxkBAAIBZ2X",
        "caption": "Our meetup",
    }


def test_forwarded_message() -> None:
    origin = types.MessageOriginUser(date=SENT, sender_user=ADA)
    [event] = map_message(_message(GROUP, text="fwd", forward_origin=origin), instance_id=2)
    assert event.is_forwarded


@pytest.mark.parametrize(
    "fields", [{"service": enums.MessageServiceType.PINNED_MESSAGE}, {"empty": True}]
)
def test_service_and_empty_messages_start_nothing(fields: dict[str, Any]) -> None:
    assert map_message(_message(GROUP, **fields), instance_id=2) == []


async def test_connector_handler_emits_the_mapped_events() -> None:
    emitted: list[PlatformEvent] = []

    async def emit(event: PlatformEvent) -> None:
        emitted.append(event)

    async def report(*_: Any) -> None:
        return None

    config = InstanceConfig(
        instance_id=2,
        kind="telegram_user",
        credential="not-a-real-session",
        settings={"api_id": "12345", "api_hash": "0123456789abcdef"},
    )
    connector = TelegramUserConnector(config, emit, report)
    assert isinstance(connector.client, pyrogram.Client)
    assert connector.client.in_memory and connector.client.session_string == "not-a-real-session"

    await connector.on_message(connector.client, _message(GROUP, text="hi", mentioned=True))

    assert [e.kind for e in emitted] == ["tgu_message", "tgu_mention"]


def test_connector_needs_api_credentials() -> None:
    config = InstanceConfig(instance_id=2, kind="telegram_user", credential="s", settings={})

    async def noop(*_: Any) -> None:
        return None

    with pytest.raises(ValueError, match="api_id"):
        TelegramUserConnector(config, noop, noop)


async def test_an_unauthorised_session_is_a_credential_problem() -> None:
    config = InstanceConfig(
        instance_id=2,
        kind="telegram_user",
        credential="expired-session",
        settings={"api_id": 12345, "api_hash": "0123456789abcdef"},
    )

    async def noop(*_: Any) -> None:
        return None

    connector = TelegramUserConnector(config, noop, noop)
    connector.client.connect = AsyncMock(return_value=False)  # type: ignore[method-assign]
    connector.client.disconnect = AsyncMock()  # type: ignore[method-assign]
    connector.client.start = AsyncMock()  # type: ignore[method-assign]

    with pytest.raises(CredentialRejected, match="log in again"):
        await connector.run()
    connector.client.start.assert_not_called()  # never the interactive login on stdin

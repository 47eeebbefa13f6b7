"""aiogram Updates (parsed as aiogram parses the wire format) → PlatformEvents."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import Update

from connectors.telegram_bot.mapper import ALLOWED_UPDATES, map_update, parse_command
from engine.nodes import REGISTRY, NodePlatform
from engine.platform_event import PlatformEvent
from tests.fakes import telegram_objects as tg

ADA = tg.user(123456789, first_name="Ada", last_name="Lovelace", username="ada_l")
BOT = tg.bot_user(987654321, username="flowbot_test_bot")
GROUP = tg.chat(-1001234567890, title="Flowbot Community")
CHANNEL = tg.chat(-1009876543210, chat_type="channel", title="Flowbot News")
DATE = 1741944413  # 2025-03-14T09:26:53Z


def _map(update: dict[str, Any], **kwargs: Any) -> list[PlatformEvent]:
    parsed = Update.model_validate({"update_id": 804512377, **update})
    return map_update(parsed, instance_id=7, bot_username="flowbot_test_bot", **kwargs)


def _one(update: dict[str, Any], **kwargs: Any) -> PlatformEvent:
    (event,) = _map(update, **kwargs)
    return event


def _message(text: str | None = None, **fields: Any) -> dict[str, Any]:
    return tg.message(4521, GROUP, from_user=ADA, text=text, date=DATE, **fields)


def _assert_ada_in_group(event: PlatformEvent) -> None:
    assert event.chat is not None and event.chat.id == "-1001234567890"
    assert event.chat.type == "supergroup" and event.chat.title == "Flowbot Community"
    assert event.user is not None and event.user.id == "123456789"
    assert event.user.first_name == "Ada" and event.user.username == "ada_l"


def test_plain_message() -> None:
    event = _one({"message": _message("Hello everyone!")})
    assert event.kind == "tg_message"
    assert event.platform == "telegram" and event.connector == "telegram_bot"
    assert event.instance_id == 7
    assert event.event_id == "telegram_bot:tg_message:7:804512377"
    _assert_ada_in_group(event)
    assert event.text == "Hello everyone!" and event.message_id == "4521"
    assert event.raw["update_id"] == 804512377 and event.raw["message"]["from"]["id"] == 123456789
    assert event.occurred_at.timestamp() == DATE


def test_command_with_args_also_is_a_message() -> None:
    events = _map({"message": _message("/warn@flowbot_test_bot @spammer flooding")})
    assert [e.kind for e in events] == ["tg_message", "tg_command"]
    command = events[1]
    assert command.command == "warn" and command.args == ["@spammer", "flooding"]
    assert command.text == "/warn@flowbot_test_bot @spammer flooding"
    _assert_ada_in_group(command)


def test_command_for_another_bot_is_only_a_message() -> None:
    events = _map({"message": _message("/start@other_bot")})
    assert [e.kind for e in events] == ["tg_message"]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("/ping", ("ping", [])),
        ("/Ping  a   b", ("ping", ["a", "b"])),
        ("/ping@FlowBot_Test_Bot x", ("ping", ["x"])),
        ("ping", None),
        ("/ping@someone_else", None),
        ("", None),
    ],
)
def test_parse_command(text: str, parsed: tuple[str, list[str]] | None) -> None:
    assert parse_command(text, "flowbot_test_bot") == parsed


def test_media_message() -> None:
    photo = tg.photo_sizes()
    events = _map({"message": _message(photo=photo, caption="Our meetup")})
    assert [e.kind for e in events] == ["tg_message", "tg_media_message"]
    media = events[1]
    assert media.media is not None and media.media.type == "photo"
    assert media.media.file_id == photo[-1]["file_id"] and media.media.caption == "Our meetup"
    assert media.text == "Our meetup"


@pytest.mark.parametrize(
    ("field", "value", "media_type"),
    [
        ("document", tg.document("rules.pdf", "application/pdf"), "document"),
        ("video", tg.video(), "video"),
        ("voice", tg.voice(), "voice"),
        ("sticker", tg.sticker("👋"), "sticker"),
    ],
)
def test_media_types(field: str, value: dict[str, Any], media_type: str) -> None:
    event = _map({"message": _message(**{field: value})})[-1]
    assert event.kind == "tg_media_message"
    assert event.media is not None and event.media.type == media_type
    assert event.media.file_id == value["file_id"]


def test_service_messages_start_nothing() -> None:
    assert _map({"message": _message(new_chat_members=[ADA])}) == []
    assert _map({"message": _message(pinned_message=_message("pinned"))}) == []


def test_a_new_title_is_a_chat_seen() -> None:
    (seen,) = _map({"message": _message(new_chat_title="Flowbot Friends")})
    assert seen.kind == "chat_seen"
    assert seen.event_id == "telegram_bot:chat_seen:7:804512377:-1001234567890"
    assert seen.chat is not None and seen.chat.title == "Flowbot Friends"
    assert seen.data["bot_is_admin"] is None  # not said: the connector asks
    assert seen.data["gone"] is False and seen.user is not None and seen.user.id == "123456789"


def test_a_group_upgraded_to_a_supergroup_is_gone_and_its_supergroup_seen() -> None:
    group = tg.chat(-4242424, title="Board")
    upgrade = tg.message(17, group, from_user=ADA, date=DATE, migrate_to_chat_id=-1004242424242)
    old, new = _map({"message": upgrade})
    assert old.chat is not None and new.chat is not None
    assert (old.chat.id, old.chat.type, old.data["gone"]) == ("-4242424", "group", True)
    assert (new.chat.id, new.chat.type, new.chat.title) == ("-1004242424242", "supergroup", "Board")
    assert new.data["gone"] is False and new.data["bot_is_admin"] is None
    assert old.event_id != new.event_id


def test_edited_message() -> None:
    event = _one({"edited_message": _message("Hello everyone! (edited)", edit_date=DATE)})
    assert event.kind == "tg_edited_message"
    _assert_ada_in_group(event)
    assert event.text == "Hello everyone! (edited)"
    assert event.data["edit_date"] == "2025-03-14T09:26:53Z"


def test_callback_query() -> None:
    bot_message = tg.message(4530, GROUP, from_user=BOT, text="Vote:", date=DATE)
    query = tg.callback_query(ADA, "vote:yes", message_obj=bot_message)
    event = _one({"callback_query": query})
    assert event.kind == "tg_callback_query"
    _assert_ada_in_group(event)
    assert event.message_id == "4530"
    assert event.data == {"callback_data": "vote:yes", "callback_query_id": query["id"]}


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("left", "member", "tg_member_joined"),
        ("kicked", "restricted", "tg_member_joined"),
        ("member", "left", "tg_member_left"),
        ("administrator", "kicked", "tg_member_left"),
    ],
)
def test_member_joined_and_left(old: str, new: str, kind: str) -> None:
    change = tg.chat_member_updated(GROUP, ADA, tg.chat_member(ADA, old), tg.chat_member(ADA, new))
    event = _one({"chat_member": change})
    assert event.kind == kind
    _assert_ada_in_group(event)
    assert event.data == {"old_status": old, "new_status": new}


def test_promotion_is_neither_join_nor_leave() -> None:
    change = tg.chat_member_updated(
        GROUP, ADA, tg.chat_member(ADA, "member"), tg.chat_member(ADA, "administrator")
    )
    assert _map({"chat_member": change}) == []


def test_bot_status_changed() -> None:
    change = tg.chat_member_updated(
        GROUP, ADA, tg.chat_member(BOT, "left"), tg.chat_member(BOT, "administrator")
    )
    event, _ = _map({"my_chat_member": change})
    assert event.kind == "tg_bot_status_changed"
    _assert_ada_in_group(event)  # who added the bot
    assert event.data == {"old_status": "left", "new_status": "administrator"}


def test_bot_made_admin_is_a_chat_seen_with_its_rights() -> None:
    admin = tg.chat_member(BOT, "administrator", can_restrict_members=False)
    change = tg.chat_member_updated(GROUP, ADA, tg.chat_member(BOT, "left"), admin)
    _, seen = _map({"my_chat_member": change})
    assert seen.kind == "chat_seen"
    assert seen.event_id == "telegram_bot:chat_seen:7:804512377:-1001234567890"
    _assert_ada_in_group(seen)
    assert seen.data["bot_is_admin"] is True and seen.data["gone"] is False
    rights = seen.data["bot_rights"]
    assert rights["can_delete_messages"] is True and rights["can_restrict_members"] is False
    assert "can_be_edited" in rights and all(name.startswith("can_") for name in rights)
    assert seen.data["member_count"] is None  # the connector asks getChatMemberCount


@pytest.mark.parametrize(
    ("old", "new", "is_admin", "gone"),
    [
        ("left", "member", False, False),
        ("member", "restricted", False, False),  # restricted, still in the chat
        ("administrator", "member", False, False),
        ("member", "kicked", False, True),
        ("member", "left", False, True),
    ],
)
def test_bot_status_as_chat_seen(old: str, new: str, is_admin: bool, gone: bool) -> None:
    change = tg.chat_member_updated(GROUP, ADA, tg.chat_member(BOT, old), tg.chat_member(BOT, new))
    _, seen = _map({"my_chat_member": change})
    rights = seen.data.pop("bot_rights")
    assert seen.data == {
        "username": None, "member_count": None, "bot_is_admin": is_admin, "gone": gone,
    }  # fmt: skip
    assert "can_restrict_members" in rights and not any(rights.values())  # none kept


def test_chat_join_request() -> None:
    link = tg.chat_invite_link(ADA, invite_link="https://t.me/+AbCdEfGhIjK")
    request = tg.chat_join_request(GROUP, ADA, bio="Maths enthusiast", invite_link=link)
    event = _one({"chat_join_request": request})
    assert event.kind == "tg_chat_join_request"
    _assert_ada_in_group(event)
    assert event.data["bio"] == "Maths enthusiast"
    assert event.data["invite_link"] == "https://t.me/+AbCdEfGhIjK"


def test_reaction() -> None:
    reaction = {
        "chat": GROUP,
        "message_id": 4521,
        "user": ADA,
        "date": DATE,
        "old_reaction": [{"type": "emoji", "emoji": "👎"}],
        "new_reaction": [{"type": "emoji", "emoji": "👎"}, {"type": "emoji", "emoji": "👍"}],
    }
    event = _one({"message_reaction": reaction})
    assert event.kind == "tg_reaction" and event.message_id == "4521"
    _assert_ada_in_group(event)
    assert event.data == {"emoji": "👍", "old_reaction": ["👎"], "new_reaction": ["👎", "👍"]}


def test_poll_answer_names_the_options_of_a_known_poll() -> None:
    answer = {
        "poll_id": "5432109876543210987",
        "user": ADA,
        "option_ids": [1],
        "option_persistent_ids": ["b"],
    }
    event = _one({"poll_answer": answer}, polls={"5432109876543210987": ["Saturday", "Sunday"]})
    assert event.kind == "tg_poll_answer" and event.chat is None
    assert event.user is not None and event.user.id == "123456789"
    assert event.data == {
        "poll_id": "5432109876543210987",
        "option_ids": [1],
        "options": ["Sunday"],
    }


def test_inline_query() -> None:
    query = {"id": "4382109876543210777", "from": ADA, "query": "gif cats", "offset": ""}
    event = _one({"inline_query": query})
    assert event.kind == "tg_inline_query" and event.text == "gif cats"
    assert event.data == {
        "inline_query_id": "4382109876543210777",
        "query": "gif cats",
        "offset": "",
    }


def test_channel_post() -> None:
    post = tg.message(311, CHANNEL, text="Version 2.0 is out!", date=DATE)
    event = _one({"channel_post": post})
    assert event.kind == "tg_channel_post" and event.user is None
    assert event.chat is not None and event.chat.type == "channel"
    assert event.chat.title == "Flowbot News"
    assert event.text == "Version 2.0 is out!" and event.message_id == "311"


def test_chat_boost() -> None:
    boost = {
        "chat": CHANNEL,
        "boost": {
            "boost_id": "e1f2a3",
            "add_date": DATE,
            "expiration_date": DATE + 30 * 86400,
            "source": {"source": "premium", "user": ADA},
        },
    }
    event = _one({"chat_boost": boost})
    assert event.kind == "tg_chat_boost"
    assert event.user is not None and event.user.id == "123456789"
    assert event.data == {
        "boost_id": "e1f2a3",
        "expiration_date": "2025-04-13T09:26:53Z",
        "source": "premium",
    }


def test_every_telegram_trigger_kind_is_mapped_and_its_updates_requested() -> None:
    kinds = {
        node.id
        for node in REGISTRY
        if node.platform is NodePlatform.telegram_bot and node.category == "trigger"
    }
    tested = {
        "tg_message", "tg_command", "tg_callback_query", "tg_edited_message",
        "tg_media_message", "tg_member_joined", "tg_member_left", "tg_chat_join_request",
        "tg_reaction", "tg_poll_answer", "tg_inline_query", "tg_channel_post",
        "tg_bot_status_changed", "tg_chat_boost",
    }  # fmt: skip
    assert kinds == tested
    assert {"chat_member", "message_reaction", "chat_boost", "poll_answer"} <= set(ALLOWED_UPDATES)


def test_mapped_events_match_the_trigger_examples_shape() -> None:
    """The fields a flow reads from the example payload are there in a real event."""
    example = REGISTRY.get("tg_command").example_payload
    assert example is not None
    event = _map({"message": _message("/warn @spammer flooding")})[1].as_trigger()
    assert set(example) == set(event)
    for key in ("kind", "platform", "connector", "command", "args", "text"):
        assert event[key] == example[key]

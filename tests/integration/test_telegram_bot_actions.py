"""Every tg_* action through the real aiogram Bot against the fake Bot API.

Each row: the connector action, its params as a flow would render them, the Bot API
method that must arrive and a subset of the parameters it must carry.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from connectors.kit.connector import InstanceConfig
from connectors.telegram_bot.actions import ACTIONS
from connectors.telegram_bot.client import TelegramBotConnector
from engine.action_errors import ActionError, ErrorKind
from engine.chat_discovery import POOL_ACTIONS
from engine.nodes import REGISTRY, NodeCategory, NodePlatform
from tests.fakes import TELEGRAM_CHAT_ID, TELEGRAM_USER_ID, FakeTelegramBotAPI

CHAT = str(TELEGRAM_CHAT_ID)
USER = str(TELEGRAM_USER_ID)
FILE_ID = "AgACAgIAAxkBAAIBZ2Xfile"
BUTTONS = [[{"text": "Yes", "callback_data": "vote:yes"}, {"text": "Web", "url": "https://x.org"}]]
KEYBOARD = {
    "inline_keyboard": [
        [{"text": "Yes", "callback_data": "vote:yes"}, {"text": "Web", "url": "https://x.org"}]
    ]
}
IN_AN_HOUR = "in an hour"  # marker: the value must be a Unix time about 3600 s from now

CASES: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("send_message", {"chat_id": CHAT, "text": "Hi <b>all</b>", "parse_mode": "HTML",
     "disable_web_page_preview": True, "disable_notification": True},
     "sendMessage", {"chat_id": TELEGRAM_CHAT_ID, "text": "Hi <b>all</b>", "parse_mode": "HTML",
                     "link_preview_options": {"is_disabled": True}, "disable_notification": True}),
    ("reply", {"chat_id": CHAT, "text": "pong", "reply_to_message_id": "7"},
     "sendMessage", {"text": "pong", "reply_parameters": {"message_id": 7,
                                                          "allow_sending_without_reply": True}}),
    ("send_photo", {"chat_id": CHAT, "photo": "https://example.org/cat.jpg", "caption": "Cat",
                    "has_spoiler": True},
     "sendPhoto", {"photo": "https://example.org/cat.jpg", "caption": "Cat", "has_spoiler": True}),
    ("send_document", {"chat_id": CHAT, "document": FILE_ID, "message_thread_id": "5"},
     "sendDocument", {"document": FILE_ID, "message_thread_id": 5}),
    ("send_video", {"chat_id": CHAT, "video": "https://example.org/v.mp4", "duration": 42},
     "sendVideo", {"video": "https://example.org/v.mp4", "duration": 42,
                   "supports_streaming": True}),
    ("send_voice", {"chat_id": CHAT, "voice": "https://example.org/hi.ogg", "duration": 3},
     "sendVoice", {"voice": "https://example.org/hi.ogg", "duration": 3}),
    ("send_sticker", {"chat_id": CHAT, "sticker": FILE_ID, "emoji": "👋"},
     "sendSticker", {"sticker": FILE_ID, "emoji": "👋"}),
    ("send_poll", {"chat_id": CHAT, "question": "Day?", "options": ["Sat", "Sun", "Mon"],
                   "type": "quiz", "correct_option_ids": [2, 0], "allows_multiple_answers": True,
                   "is_anonymous": False},
     "sendPoll", {"question": "Day?", "type": "quiz", "correct_option_ids": [0, 2],
                  "allows_multiple_answers": True, "is_anonymous": False}),
    ("send_location", {"chat_id": CHAT, "latitude": 52.52, "longitude": 13.405,
                       "live_period": 900},
     "sendLocation", {"latitude": 52.52, "longitude": 13.405, "live_period": 900}),
    ("send_buttons", {"chat_id": CHAT, "text": "Vote", "buttons": BUTTONS},
     "sendMessage", {"text": "Vote", "reply_markup": KEYBOARD}),
    ("edit_message", {"chat_id": CHAT, "message_id": "12", "text": "Thanks", "buttons": BUTTONS},
     "editMessageText", {"message_id": 12, "text": "Thanks", "reply_markup": KEYBOARD}),
    ("delete_message", {"chat_id": CHAT, "message_id": "12"},
     "deleteMessage", {"chat_id": TELEGRAM_CHAT_ID, "message_id": 12}),
    ("forward_message", {"chat_id": "@flowbot_archive", "from_chat_id": CHAT, "message_id": "9"},
     "forwardMessage", {"chat_id": "@flowbot_archive", "from_chat_id": TELEGRAM_CHAT_ID,
                        "message_id": 9}),
    ("copy_message", {"chat_id": "-100777", "from_chat_id": CHAT, "message_id": "9",
                      "caption": "Shared"},
     "copyMessage", {"chat_id": -100777, "message_id": 9, "caption": "Shared"}),
    ("pin_message", {"chat_id": CHAT, "message_id": "9", "disable_notification": True},
     "pinChatMessage", {"message_id": 9, "disable_notification": True}),
    ("unpin_message", {"chat_id": CHAT, "message_id": "9"},
     "unpinChatMessage", {"chat_id": TELEGRAM_CHAT_ID, "message_id": 9}),
    ("answer_callback", {"callback_query_id": "4382109876543210001", "text": "Counted",
                         "show_alert": True},
     "answerCallbackQuery", {"callback_query_id": "4382109876543210001", "text": "Counted",
                             "show_alert": True}),
    ("set_reaction", {"chat_id": CHAT, "message_id": "9", "reaction": ["🔥"]},
     "setMessageReaction", {"message_id": 9, "reaction": [{"type": "emoji", "emoji": "🔥"}]}),
    ("ban_member", {"chat_id": CHAT, "user_id": USER, "duration_seconds": 3600,
                    "revoke_messages": True},
     "banChatMember", {"user_id": TELEGRAM_USER_ID, "until_date": IN_AN_HOUR,
                       "revoke_messages": True}),
    ("unban_member", {"chat_id": CHAT, "user_id": USER},
     "unbanChatMember", {"user_id": TELEGRAM_USER_ID, "only_if_banned": True}),
    ("mute_member", {"chat_id": CHAT, "user_id": USER, "duration_seconds": 3600},
     "restrictChatMember", {"user_id": TELEGRAM_USER_ID, "until_date": IN_AN_HOUR,
                            "permissions": {"can_send_messages": False,
                                            "can_send_photos": False}}),
    ("unmute_member", {"chat_id": CHAT, "user_id": USER},
     "restrictChatMember", {"user_id": TELEGRAM_USER_ID,
                            "permissions": {"can_send_messages": True,
                                            "can_send_photos": True}}),
    ("promote_member", {"chat_id": CHAT, "user_id": USER, "can_pin_messages": False},
     "promoteChatMember", {"user_id": TELEGRAM_USER_ID, "can_delete_messages": True,
                           "can_restrict_members": True, "can_pin_messages": False}),
    ("approve_join_request", {"chat_id": CHAT, "user_id": USER},
     "approveChatJoinRequest", {"chat_id": TELEGRAM_CHAT_ID, "user_id": TELEGRAM_USER_ID}),
    ("decline_join_request", {"chat_id": CHAT, "user_id": USER},
     "declineChatJoinRequest", {"chat_id": TELEGRAM_CHAT_ID, "user_id": TELEGRAM_USER_ID}),
    ("set_chat_title", {"chat_id": CHAT, "title": "Flowbot Community"},
     "setChatTitle", {"title": "Flowbot Community"}),
    ("set_chat_description", {"chat_id": CHAT, "description": "Be kind."},
     "setChatDescription", {"description": "Be kind."}),
    ("create_invite_link", {"chat_id": CHAT, "name": "Spring", "expire_seconds": 3600,
                            "member_limit": 50},
     "createChatInviteLink", {"name": "Spring", "expire_date": IN_AN_HOUR, "member_limit": 50}),
    ("send_chat_action", {"chat_id": CHAT, "action": "upload_photo"},
     "sendChatAction", {"chat_id": TELEGRAM_CHAT_ID, "action": "upload_photo"}),
]  # fmt: skip


def _connector(fake: FakeTelegramBotAPI) -> TelegramBotConnector:
    config = InstanceConfig(
        instance_id=1, kind="telegram_bot", credential=fake.token, api_base_url=fake.base_url
    )

    async def _ignore(*_: Any) -> None:
        return None

    return TelegramBotConnector(config, _ignore, _ignore)


def _assert_subset(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        assert key in actual, f"{key} missing from {actual}"
        if value == IN_AN_HOUR:
            assert abs(int(actual[key]) - (time.time() + 3600)) < 30, actual[key]
        elif isinstance(value, dict):
            _assert_subset(actual[key], value)
        else:
            assert actual[key] == value, f"{key}: {actual[key]!r} != {value!r}"


def test_the_table_covers_every_tg_action() -> None:
    declared = {
        node.action
        for node in REGISTRY
        if node.platform is NodePlatform.telegram_bot and node.category is NodeCategory.action
    }
    assert {case[0] for case in CASES} == declared == ACTIONS.names() - POOL_ACTIONS
    assert ACTIONS.names() >= POOL_ACTIONS  # tested below


@pytest.mark.parametrize(
    ("action", "params", "method", "expected"), CASES, ids=[c[0] for c in CASES]
)
async def test_action_calls_the_bot_api(
    action: str, params: dict[str, Any], method: str, expected: dict[str, Any]
) -> None:
    async with FakeTelegramBotAPI() as fake:
        connector = _connector(fake)
        try:
            result = await connector.execute(action, params)
        finally:
            await connector.client.session.close()
        call = await fake.wait_for_call(method, timeout=5)
        assert call.status == 200
        _assert_subset(call.params, expected)
        assert isinstance(result, dict) and result


async def test_message_results_carry_ids_as_strings() -> None:
    async with FakeTelegramBotAPI() as fake:
        connector = _connector(fake)
        try:
            sent = await connector.execute("send_message", {"chat_id": CHAT, "text": "hello"})
            poll = await connector.execute(
                "send_poll", {"chat_id": CHAT, "question": "Day?", "options": ["Sat", "Sun"]}
            )
        finally:
            await connector.client.session.close()
    assert sent["chat_id"] == CHAT and sent["message_id"].isdigit()
    assert poll["options"] == ["Sat", "Sun"]
    assert connector.polls[poll["poll_id"]] == ["Sat", "Sun"]


async def test_a_quiz_saved_with_the_old_single_correct_option_id_sends_the_list() -> None:
    """Bot API 9.6 deprecated ``correct_option_id``: flows that still name it send the list."""
    async with FakeTelegramBotAPI() as fake:
        connector = _connector(fake)
        try:
            await connector.execute(
                "send_poll",
                {"chat_id": CHAT, "question": "Day?", "options": ["Sat", "Sun"], "type": "quiz",
                 "correct_option_id": 1},
            )  # fmt: skip
        finally:
            await connector.client.session.close()
        call = await fake.wait_for_call("sendPoll", timeout=5)
    assert call.params["correct_option_ids"] == [1]
    assert "correct_option_id" not in call.params


@pytest.mark.parametrize(
    ("quiz", "problem"),
    [
        ({}, "a quiz needs correct_option_ids"),
        ({"correct_option_ids": [2]}, "a quiz needs correct_option_ids"),
        ({"correct_option_ids": [0, 1]}, "needs allows_multiple_answers"),
    ],
)
async def test_a_quiz_without_valid_right_answers_is_refused_before_telegram(
    quiz: dict[str, Any], problem: str
) -> None:
    async with FakeTelegramBotAPI() as fake:
        connector = _connector(fake)
        params = {"chat_id": CHAT, "question": "Day?", "options": ["Sat", "Sun"], "type": "quiz"}
        try:
            with pytest.raises(ActionError, match=problem) as refused:
                await connector.execute("send_poll", params | quiz)
        finally:
            await connector.client.session.close()
    assert refused.value.kind is ErrorKind.validation
    assert not fake.calls_to("sendPoll")


async def test_platform_refusal_and_bad_ids_are_structured_errors() -> None:
    async with FakeTelegramBotAPI() as fake:
        connector = _connector(fake)
        try:
            fake.fail_next("sendMessage", 400, description="Bad Request: chat not found")
            with pytest.raises(ActionError) as refused:
                await connector.execute("send_message", {"chat_id": CHAT, "text": "hi"})
            with pytest.raises(ActionError) as bad_id:
                await connector.execute("ban_member", {"chat_id": CHAT, "user_id": "ada"})
            with pytest.raises(ActionError) as local_file:
                await connector.execute("send_photo", {"chat_id": CHAT, "photo": "/etc/passwd"})
        finally:
            await connector.client.session.close()
    assert refused.value.kind is ErrorKind.platform
    assert "chat not found" in refused.value.message
    assert fake.token not in refused.value.message
    assert bad_id.value.kind is ErrorKind.validation and "user_id" in bad_id.value.message
    assert local_file.value.kind is ErrorKind.validation


async def test_rate_limit_is_waited_out_then_succeeds() -> None:
    async with FakeTelegramBotAPI() as fake:
        connector = _connector(fake)
        fake.fail_next("sendMessage", 429, retry_after=1)
        try:
            started = time.monotonic()
            result = await connector.execute("send_message", {"chat_id": CHAT, "text": "hi"})
        finally:
            await connector.client.session.close()
    assert result["message_id"]
    assert time.monotonic() - started >= 0.9
    assert len(fake.calls_to("sendMessage")) == 2


async def test_list_members_answers_the_administrators_with_their_roles() -> None:
    async with FakeTelegramBotAPI() as fake:
        fake.add_user(TELEGRAM_USER_ID, first_name="Ada", username="ada_l")
        fake.set_member(TELEGRAM_CHAT_ID, TELEGRAM_USER_ID, "creator")
        fake.set_member(TELEGRAM_CHAT_ID, int(fake.me["id"]), "administrator")
        fake.set_member(TELEGRAM_CHAT_ID, 5151, "member")
        connector = _connector(fake)
        try:
            answer = await connector.execute("list_members", {"chat_id": CHAT})
            chats = await connector.execute("list_chats", {})
        finally:
            await connector.client.session.close()
    (call,) = fake.calls_to("getChatAdministrators")
    assert call.params["chat_id"] == TELEGRAM_CHAT_ID
    by_id = {member["user"]["id"]: member for member in answer["members"]}
    assert set(by_id) == {USER, str(fake.me["id"])}  # plain members: the Bot API lists none
    assert by_id[USER]["role"] == "owner" and by_id[USER]["phone"] is None
    assert by_id[USER]["user"]["username"] == "ada_l"
    assert by_id[USER]["user"]["first_name"] == "Ada"
    assert by_id[str(fake.me["id"])]["role"] == "admin"
    assert by_id[str(fake.me["id"])]["user"]["is_bot"] is True
    assert chats == {"chats": []}  # a bot cannot list its chats: the engine knows them


async def test_list_members_of_an_unknown_chat_is_a_platform_error() -> None:
    async with FakeTelegramBotAPI() as fake:
        fake.fail_next("getChatAdministrators", 400, description="Bad Request: chat not found")
        connector = _connector(fake)
        try:
            with pytest.raises(ActionError) as refused:
                await connector.execute("list_members", {"chat_id": CHAT})
            with pytest.raises(ActionError) as missing:
                await connector.execute("list_members", {})
        finally:
            await connector.client.session.close()
    assert refused.value.kind is ErrorKind.platform and "chat not found" in refused.value.message
    assert missing.value.kind is ErrorKind.validation and "chat_id" in missing.value.message

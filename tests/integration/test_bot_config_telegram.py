"""The bot configuration on Telegram: the real aiogram client under a real supervisor, the
fake Bot API, a real database. Publishing (a version and the bus event) pushes the commands
per scope and language and changes the answers at once; members get answers in their
language, menus are navigated in place, flows start from buttons.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlmodel import Session, select

from connectors.kit.forwarder import EventForwarder
from connectors.supervisor import BOT_CONFIG_TOPIC, Supervisor
from connectors.telegram_bot.commands import CommandSync, command_lists
from engine import events
from engine.bot_config.document import BotConfigDocument
from engine.db import session_scope
from engine.models import (
    AdminUser,
    Chat,
    Community,
    CommunityConfig,
    ExecutionStatus,
    FlowExecution,
    Platform,
    PlatformAccount,
    Role,
)
from engine.models.connections import BotInstance, ConnectorKind, PlatformConnection
from engine.platform_event import EventUser, PlatformEvent
from engine.runtime import run_flow_now
from engine.services import bot_config as service
from tests.fakes import TELEGRAM_CHAT_ID, TELEGRAM_USER_ID, FakeTelegramBotAPI
from tests.fakes.telegram_bot_api import RecordedCall
from tests.flow_helpers import chain, make_flow
from tests.unit.test_community_service import user

GERMAN_USER, FRENCH_USER = 5001, 5002
OTHER_CHAT = -1_009_999_999_999
ADMIN_CHAT = "-1001234567890"

HELP = {"en": "**Help** for {{ member.name }}", "de": "**Hilfe** für {{ member.name }}"}


def document(**changes: Any) -> dict[str, Any]:
    """A configuration with every kind of command scope, a few responses and two menus."""
    base: dict[str, Any] = {
        "default_language": "en",
        "languages": ["en", "de"],
        "commands": [
            {"name": "help", "description": {"en": "Get help", "de": "Hilfe bekommen"},
             "action": {"kind": "response", "target": "help"}},
            {"name": "menu", "description": {"en": "Open the menu"},
             "scope": {"kind": "private"}, "action": {"kind": "menu", "target": "main"}},
            {"name": "report", "description": {"en": "Report a message"},
             "scope": {"kind": "groups"}, "action": {"kind": "response", "target": "help"}},
            {"name": "ban", "description": {"en": "Ban someone", "de": "Jemanden sperren"},
             "scope": {"kind": "group_admins"}, "action": {"kind": "response", "target": "help"}},
            {"name": "stats", "description": {"en": "This chat's stats"},
             "scope": {"kind": "chat", "target_id": ADMIN_CHAT},
             "action": {"kind": "response", "target": "help"}},
            {"name": "off", "description": {"en": "Disabled"}, "enabled": False,
             "action": {"kind": "response", "target": "help"}},
        ],
        "responses": [
            {"key": "help", "text": HELP},
            {"key": "price", "triggers": [{"kind": "keyword", "value": "price"}],
             "text": {"en": "It is _free_."}, "reply_mode": "chat"},
            {"key": "gone", "triggers": [{"kind": "keyword", "value": "vanish"}],
             "text": {"en": "Soon gone"}, "delete_after_seconds": 1},
            {"key": "broken", "triggers": [{"kind": "keyword", "value": "broken"}],
             "text": {"en": "Hi {{ member.name * 1000000000 }}"}},
            {"key": "private", "triggers": [{"kind": "keyword", "value": "secret"}],
             "text": {"en": "Between us"}, "reply_mode": "dm"},
            {"key": "topic", "triggers": [{"kind": "keyword", "value": "topic"}],
             "text": {"en": "In the topic"}, "reply_mode": "thread"},
            {"key": "photo", "triggers": [{"kind": "keyword", "value": "picture"}],
             "text": {"en": "A **picture**"},
             "media": {"kind": "photo", "url": "https://example.org/cat.jpg"},
             "buttons": [[{"label": {"en": "Menu"},
                           "action": {"kind": "menu", "target": "main"}}]]},
        ],
        "menus": [
            {"key": "main", "title": {"en": "Main menu", "de": "Hauptmenü"},
             "rows": [[{"label": {"en": "FAQ"}, "action": {"kind": "menu", "target": "faq"}}]]},
            {"key": "faq", "title": {"en": "Questions"},
             "rows": [[{"label": {"en": "Docs"},
                        "action": {"kind": "url", "target": "https://example.org/docs"}}]]},
        ],
    }  # fmt: skip
    return {**base, **changes}


class Sink:
    """The events the connector forwards to the engine."""

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def __call__(self, payload: dict[str, Any]) -> None:
        self.kinds.append(payload["kind"])


@pytest.fixture
def editor(sqlite_session: Session) -> AdminUser:
    return user(sqlite_session, Role.editor)


def publish(editor: AdminUser, instance_id: int, doc: dict[str, Any]) -> int:
    """``doc`` saved as the draft and published by the service, which announces it on the
    bus; the new version's number."""
    with session_scope() as session:
        service.save_draft(session, editor, instance_id, doc, base_revision=None)
        return service.publish(session, editor, instance_id).version


def add_bot(fake: FakeTelegramBotAPI) -> int:
    """An active Telegram bot connection on ``fake``; its instance id."""
    with session_scope() as session:
        bot = BotInstance(
            name="Config bot",
            kind=ConnectorKind.telegram_bot,
            credential=fake.token,
            settings={"api_base_url": fake.base_url, "poll_timeout": 1},
        )
        session.add(bot)
        session.flush()
        session.add(PlatformConnection(bot_instance_id=bot.id, is_active=True))
        assert bot.id is not None
        return bot.id


@contextlib.asynccontextmanager
async def supervised(fake: FakeTelegramBotAPI, sink: Sink | None = None) -> AsyncIterator[None]:
    """The connections run by a supervisor that listens to the bus, until it has polled."""
    supervisor = Supervisor(
        forwarder=EventForwarder(sink or Sink()),
        reconcile_seconds=30,
        lease_seconds=60,
        listen_bus=True,
    )
    polls = len(fake.calls_to("getUpdates"))
    task = asyncio.create_task(supervisor.run())
    try:
        await fake.wait_for_call("getUpdates", count=polls + 1, timeout=15)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)


@contextlib.asynccontextmanager
async def live_bot(
    editor: AdminUser, doc: dict[str, Any] | None = None
) -> AsyncIterator[FakeTelegramBotAPI]:
    """A running bot answering ``doc``."""
    async with FakeTelegramBotAPI() as fake:
        instance_id = add_bot(fake)
        async with supervised(fake):
            publish(editor, instance_id, doc or document())
            await fake.wait_for_call("setMyCommands", timeout=10)
            yield fake


def pairs(calls: list[RecordedCall]) -> set[tuple[str, str]]:
    """(scope, language) of setMyCommands / deleteMyCommands calls."""
    return {
        (json.dumps(call.params.get("scope") or {"type": "default"}, sort_keys=True),
         call.params.get("language_code") or "")
        for call in calls
    }  # fmt: skip


def scope(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields}, sort_keys=True)


# -- publishing and commands ----------------------------------------------------------------


async def test_publish_pushes_commands_per_scope_and_language_and_rollback_repushes(
    editor: AdminUser,
) -> None:
    sink = Sink()
    async with FakeTelegramBotAPI() as fake:
        instance_id = add_bot(fake)
        async with supervised(fake, sink):
            assert fake.calls_to("setMyCommands") == []  # nothing published: Telegram untouched

            publish(editor, instance_id, document())
            expected = {
                (scope("default"), ""), (scope("default"), "de"),
                (scope("all_private_chats"), ""), (scope("all_private_chats"), "de"),
                (scope("all_group_chats"), ""), (scope("all_group_chats"), "de"),
                (scope("all_chat_administrators"), ""), (scope("all_chat_administrators"), "de"),
                (scope("chat", chat_id=int(ADMIN_CHAT)), ""),
                (scope("chat", chat_id=int(ADMIN_CHAT)), "de"),
            }  # fmt: skip
            await fake.wait_for_call("setMyCommands", count=len(expected), timeout=10)
            assert pairs(fake.calls_to("setMyCommands")) == expected
            by_pair = {
                next(iter(pairs([c]))): c.params["commands"] for c in fake.calls_to("setMyCommands")
            }
            assert by_pair[(scope("default"), "")] == [
                {"command": "help", "description": "Get help"}
            ]
            assert by_pair[(scope("default"), "de")] == [
                {"command": "help", "description": "Hilfe bekommen"}
            ]
            assert by_pair[(scope("all_private_chats"), "de")] == [  # no German: the default's
                {"command": "menu", "description": "Open the menu"}
            ]

            # The same version again (a second relay) sends nothing.
            events.publish(BOT_CONFIG_TOPIC, {"instance_id": instance_id, "version": 1})
            fake.push_command("help")
            await fake.wait_for_call("sendMessage", timeout=10)
            assert len(fake.calls_to("setMyCommands")) == len(expected)

            # v2 drops the chat's and the admins' commands, the rollback to v1 brings them back.
            smaller = document()
            smaller["commands"] = smaller["commands"][:3]
            publish(editor, instance_id, smaller)
            removed = {p for p in expected if "chat" in p[0]} - {
                p for p in expected if "group_chats" in p[0] or "private" in p[0]
            }
            await fake.wait_for_call("deleteMyCommands", count=len(removed), timeout=10)
            assert pairs(fake.calls_to("deleteMyCommands")) == removed

            before = len(fake.calls_to("setMyCommands"))
            with session_scope() as session:
                service.rollback(session, editor, instance_id, 1)
            await fake.wait_for_call("setMyCommands", count=before + len(removed), timeout=10)
            assert pairs(fake.calls_to("setMyCommands")[before:]) == removed

    assert "tg_command" in sink.kinds  # flows still see the update the bot answered


async def test_syncs_that_overlap_run_one_after_the_other(sqlite_session: Session) -> None:
    """Two reloads at once (a publish, then a rollback) both sync the commands: they must
    not interleave (both deleted the same list, and the second's KeyError left the rest
    of its lists unsent)."""
    full = BotConfigDocument.model_validate(document())
    smaller = document()
    smaller["commands"] = smaller["commands"][:3]
    async with FakeTelegramBotAPI() as fake:
        server = TelegramAPIServer.from_base(fake.base_url)
        bot = Bot(fake.token, session=AiohttpSession(api=server))
        try:
            sync = CommandSync(bot, instance_id=1)
            assert await sync.sync(full)
            first = BotConfigDocument.model_validate(smaller)
            results = await asyncio.gather(sync.sync(first), sync.sync(first))
        finally:
            await bot.session.close()
    assert results == [True, False]  # the second found nothing left to do
    removed = set(command_lists(full)) - set(command_lists(first))
    assert len(fake.calls_to("deleteMyCommands")) == len(removed) == 4


async def test_a_restarted_connector_deletes_the_lists_a_version_published_meanwhile_emptied(
    editor: AdminUser,
) -> None:
    """The connector's memory of what it pushed dies with it: at its first sync it takes
    every list an earlier version offered as there, and deletes those the live one empties."""
    async with FakeTelegramBotAPI() as fake:
        instance_id = add_bot(fake)
        async with supervised(fake):
            publish(editor, instance_id, document())
            await fake.wait_for_call("setMyCommands", count=10, timeout=10)
        smaller = document()
        smaller["commands"] = smaller["commands"][:1]  # /help everywhere, nothing else
        publish(editor, instance_id, smaller)  # while no connector runs
        fake.log.calls.clear()
        async with supervised(fake):
            await fake.wait_for_call("deleteMyCommands", count=8, timeout=10)
            await fake.wait_for_call("setMyCommands", count=2, timeout=10)

    assert pairs(fake.calls_to("setMyCommands")) == {
        (scope("default"), ""),
        (scope("default"), "de"),
    }
    assert (scope("default"), "") not in pairs(fake.calls_to("deleteMyCommands"))
    assert len(fake.calls_to("deleteMyCommands")) == 8  # 4 scopes x 2 languages, once each


def test_discord_server_commands_are_not_telegram_ones() -> None:
    doc = BotConfigDocument.model_validate(document(commands=[
        {"name": "ticket", "description": {"en": "Open a ticket"},
         "scope": {"kind": "guild", "target_id": "42"}},
    ]))  # fmt: skip
    assert command_lists(doc) == {}


# -- answers ----------------------------------------------------------------------------------


async def test_help_in_the_members_language_with_fallback_to_the_default(editor: AdminUser) -> None:
    async with live_bot(editor) as fake:
        fake.add_user(GERMAN_USER, first_name="Grete", language_code="de")
        fake.add_user(FRENCH_USER, first_name="Jules", language_code="fr")
        asked = fake.push_command("help", user_id=GERMAN_USER)
        german = await fake.wait_for_call("sendMessage", timeout=10)
        fake.push_command("help", user_id=FRENCH_USER)
        french = await fake.wait_for_call("sendMessage", count=2, timeout=10)

    assert german.params["text"] == "<b>Hilfe</b> für Grete"
    assert german.params["parse_mode"] == "HTML"
    assert german.params["chat_id"] == TELEGRAM_CHAT_ID
    assert german.params["reply_parameters"]["message_id"] == asked["message"]["message_id"]
    assert french.params["text"] == "<b>Help</b> for Jules"


async def test_a_language_a_flow_chose_for_the_member_wins_over_their_locale(
    editor: AdminUser,
) -> None:
    """The fallback chain's middle link, end to end: a flow's db_query set_member_language
    picks German for a member whose Telegram locale is French; the connector answers them in
    German, and once the flow clears it their locale (no French: the default) counts again."""
    with session_scope() as session:  # the member, as ingesting their first message made them
        session.add(PlatformAccount(platform=Platform.telegram, platform_user_id=str(FRENCH_USER)))
    flow_id = make_flow(
        chain(
            ("t", "tg_message", {}),
            ("lang", "db_query", {"query": "set_member_language", "params": {
                "platform": "{{ trigger.platform }}", "user_id": "{{ trigger.user.id }}",
                "language": "{{ trigger.text }}"}}),
        )
    )  # fmt: skip

    async def member_chooses(language: str) -> None:
        said = PlatformEvent(
            event_id=f"choose-{language}", kind="tg_message", platform="telegram",
            connector="telegram_bot", user=EventUser(id=str(FRENCH_USER)), text=language,
        )  # fmt: skip
        outcome = await run_flow_now(flow_id, said.as_trigger(), trigger_type="tg_message")
        assert outcome.status is ExecutionStatus.succeeded, outcome.error

    async with live_bot(editor) as fake:
        fake.add_user(FRENCH_USER, first_name="Jules", language_code="fr")
        await member_chooses("de")
        fake.push_command("help", user_id=FRENCH_USER)
        german = await fake.wait_for_call("sendMessage", timeout=10)
        await member_chooses("")
        fake.push_command("help", user_id=FRENCH_USER)
        default = await fake.wait_for_call("sendMessage", count=2, timeout=10)

    assert german.params["text"] == "<b>Hilfe</b> für Jules"
    assert default.params["text"] == "<b>Help</b> for Jules"


async def test_keyword_response_in_the_chat_without_quoting(editor: AdminUser) -> None:
    async with live_bot(editor) as fake:
        fake.push_message("what is the price?")
        answer = await fake.wait_for_call("sendMessage", timeout=10)
        fake.push_message("priceless")  # a word, not a phrase inside one
        fake.push_command("help")
        await fake.wait_for_call("sendMessage", count=2, timeout=10)

    assert answer.params["text"] == "It is <i>free</i>."
    assert "reply_parameters" not in answer.params
    assert [c.params["text"] for c in fake.calls_to("sendMessage")][1].startswith("<b>Help")


async def test_menu_buttons_edit_the_message_and_back_returns(editor: AdminUser) -> None:
    async with live_bot(editor) as fake:
        asked = fake.push_command("menu", chat_id=TELEGRAM_USER_ID)  # for private chats
        opened = await fake.wait_for_call("sendMessage", timeout=10)
        assert opened.params["text"] == "Main menu"
        (faq,) = opened.params["reply_markup"]["inline_keyboard"][0]
        key = (TELEGRAM_USER_ID, asked["message"]["message_id"] + 1)
        message = fake.messages[key]  # the bot's menu message
        assert message["text"] == "Main menu"

        fake.push_callback_query(faq["callback_data"], message=message)
        submenu = await fake.wait_for_call("editMessageText", timeout=10)
        rows = submenu.params["reply_markup"]["inline_keyboard"]
        assert submenu.params["text"] == "Questions"
        assert submenu.params["message_id"] == message["message_id"]
        assert rows[0] == [{"text": "Docs", "url": "https://example.org/docs"}]
        back = rows[-1][0]
        assert back["text"] == "« Back"

        fake.push_callback_query(back["callback_data"], message=fake.messages[key])
        returned = await fake.wait_for_call("editMessageText", count=2, timeout=10)
        await fake.wait_for_call("answerCallbackQuery", count=2, timeout=10)

    assert returned.params["text"] == "Main menu"
    assert returned.params["reply_markup"]["inline_keyboard"] == [[faq]]
    assert len(fake.calls_to("sendMessage")) == 1  # navigation never posts a new message


async def test_an_answer_is_deleted_after_its_delay(editor: AdminUser) -> None:
    async with live_bot(editor) as fake:
        asked = fake.push_message("vanish please")
        sent = await fake.wait_for_call("sendMessage", timeout=10)
        answer_id = asked["message"]["message_id"] + 1  # the chat's next message
        assert (TELEGRAM_CHAT_ID, answer_id) in fake.messages
        deleted = await fake.wait_for_call("deleteMessage", timeout=5)

    assert sent.params["text"] == "Soon gone"
    assert deleted.params["chat_id"] == TELEGRAM_CHAT_ID
    assert deleted.params["message_id"] == answer_id
    assert (TELEGRAM_CHAT_ID, answer_id) not in fake.messages


@pytest.mark.usefixtures("worker")
async def test_a_flow_button_starts_the_flow(editor: AdminUser) -> None:
    flow_id = make_flow(chain(("t", "tg_callback_query", {})))
    menus = document()["menus"]
    menus[0]["rows"].append(
        [{"label": {"en": "Run"}, "action": {"kind": "flow", "target": str(flow_id)}}]
    )
    async with live_bot(editor, document(menus=menus)) as fake:
        fake.push_callback_query(f"fb:f:{flow_id}")
        await fake.wait_for_call("answerCallbackQuery", timeout=10)
        with session_scope() as session:
            started = session.exec(
                select(FlowExecution).where(FlowExecution.flow_id == flow_id)
            ).all()

    assert len(started) == 1
    assert started[0].trigger_data["data"]["callback_data"] == f"fb:f:{flow_id}"
    assert fake.calls_to("sendMessage") == [] and fake.calls_to("editMessageText") == []


async def test_a_press_on_a_removed_menu_still_stops_the_spinner(editor: AdminUser) -> None:
    async with live_bot(editor) as fake:
        fake.push_callback_query("fb:m:main/gone")
        await fake.wait_for_call("answerCallbackQuery", timeout=10)
    assert fake.calls_to("editMessageText") == []


async def test_the_bot_answers_only_in_its_scope(editor: AdminUser) -> None:
    with session_scope() as session:
        community = Community(name="Readers")
        session.add(community)
        session.flush()
        session.add(Chat(platform_chat_id=str(TELEGRAM_CHAT_ID), type="supergroup",
                         title="Readers chat", community_id=community.id))  # fmt: skip
        community_id = community.id
    only_readers = {"everywhere": False, "community_ids": [community_id], "private_chats": False}
    async with live_bot(editor, document(scope=only_readers)) as fake:
        fake.push_command("help", chat_id=OTHER_CHAT)
        fake.push_command("help", chat_id=TELEGRAM_USER_ID)
        fake.push_command("help", chat_id=TELEGRAM_CHAT_ID)
        # Updates are handled one after another, each answer awaited: once the last one is
        # answered, the two before it have been handled (and not answered).
        answered = await fake.wait_for_call("sendMessage", timeout=10)

    assert answered.params["chat_id"] == TELEGRAM_CHAT_ID
    assert len(fake.calls_to("sendMessage")) == 1


async def test_texts_read_the_member_the_chat_and_the_chats_community_rules(
    editor: AdminUser,
) -> None:
    """The expressions an admin writes are filled by the connector's own lookups: the
    member and the chat from the update, the community's name and rules from the database."""
    with session_scope() as session:
        community = Community(name="Readers")
        session.add(community)
        session.flush()
        session.add(Chat(platform_chat_id=str(TELEGRAM_CHAT_ID), type="supergroup",
                         title="Readers chat", community_id=community.id))  # fmt: skip
        rules = {"rules_text": "Be kind & stay on topic."}
        session.add(CommunityConfig(community_id=community.id or 0, rules=rules))
    text = "{{ member.name }}, in {{ chat.title }} ({{ community.name }}): {{ community.rules }}"
    responses = [
        *document()["responses"],
        {"key": "rules", "triggers": [{"kind": "keyword", "value": "rules"}],
         "text": {"en": text}, "reply_mode": "chat"},
    ]  # fmt: skip
    async with live_bot(editor, document(responses=responses)) as fake:
        fake.add_chat(TELEGRAM_CHAT_ID, title="Book club")
        fake.add_user(GERMAN_USER, first_name="Grete", last_name="Lind", language_code="de")
        fake.push_message("what are the rules?", user_id=GERMAN_USER)
        answered = await fake.wait_for_call("sendMessage", timeout=10)

    assert answered.params["text"] == (
        "Grete Lind, in Book club (Readers): Be kind &amp; stay on topic."
    )


async def test_a_broken_expression_is_sent_as_written_and_the_bot_goes_on(
    editor: AdminUser,
) -> None:
    async with live_bot(editor) as fake:
        fake.push_message("this is broken")
        broken = await fake.wait_for_call("sendMessage", timeout=10)
        fake.push_command("help")
        after = await fake.wait_for_call("sendMessage", count=2, timeout=10)

    assert broken.params["text"] == "Hi {{ member.name * 1000000000 }}"  # as written
    assert after.params["text"].startswith("<b>Help</b>")


async def test_a_dm_answer_and_the_notice_for_a_member_who_never_started_the_bot(
    editor: AdminUser,
) -> None:
    async with live_bot(editor) as fake:
        fake.add_user(GERMAN_USER, first_name="Grete <3", language_code="de")
        fake.push_message("secret", user_id=TELEGRAM_USER_ID)
        private = await fake.wait_for_call("sendMessage", timeout=10)

        fake.fail_next(
            "sendMessage", 403, description="Forbidden: bot can't initiate conversation with a user"
        )
        fake.push_message("secret", user_id=GERMAN_USER)
        notice = await fake.wait_for_call("sendMessage", count=3, timeout=10)

    assert private.params["chat_id"] == TELEGRAM_USER_ID and private.params["text"] == "Between us"
    assert notice.params["chat_id"] == TELEGRAM_CHAT_ID
    assert notice.params["text"].startswith(
        f'<a href="tg://user?id={GERMAN_USER}">Grete &lt;3</a>, ich kann dir erst privat'
    )
    assert "@flowbot_test_bot" in notice.params["text"]
    button = notice.params["reply_markup"]["inline_keyboard"][0][0]
    assert button["url"] == "https://t.me/flowbot_test_bot"


async def test_thread_answers_go_to_the_messages_topic(editor: AdminUser) -> None:
    async with live_bot(editor) as fake:
        fake.push_message("topic", is_topic_message=True, message_thread_id=77)
        in_topic = await fake.wait_for_call("sendMessage", timeout=10)
        asked = fake.push_message("topic")  # no topics here: the answer quotes the message
        quoted = await fake.wait_for_call("sendMessage", count=2, timeout=10)

    assert in_topic.params["message_thread_id"] == 77
    assert "reply_parameters" not in in_topic.params
    assert "message_thread_id" not in quoted.params
    assert quoted.params["reply_parameters"]["message_id"] == asked["message"]["message_id"]


async def test_media_with_caption_and_buttons(editor: AdminUser) -> None:
    async with live_bot(editor) as fake:
        fake.push_message("a picture please")
        photo = await fake.wait_for_call("sendPhoto", timeout=10)

    assert photo.params["photo"] == "https://example.org/cat.jpg"
    assert photo.params["caption"] == "A <b>picture</b>"
    assert photo.params["parse_mode"] == "HTML"
    (button,) = photo.params["reply_markup"]["inline_keyboard"][0]
    assert button == {"text": "Menu", "callback_data": "fb:m:main"}


async def test_a_refused_answer_is_logged_and_the_bot_goes_on(
    editor: AdminUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.telegram_bot.bot_replies")
    async with live_bot(editor) as fake:
        fake.fail_next("sendMessage", 429, retry_after=30)
        fake.push_command("help")
        await fake.wait_for_call("sendMessage", timeout=10)
        fake.push_command("help")
        answered = await fake.wait_for_call("sendMessage", count=2, timeout=10)

    assert answered.params["text"].startswith("<b>Help</b>")
    (refused,) = [r.getMessage() for r in caplog.records if "did not take" in r.getMessage()]
    assert refused.startswith("instance ") and "(response:help)" in refused
    assert "retry after 30" in refused
    assert fake.token not in caplog.text


async def test_a_menu_opened_under_a_photo_comes_as_a_new_message(editor: AdminUser) -> None:
    """A photo's message has no text to edit: Telegram refuses, the menu is sent anew."""
    async with live_bot(editor) as fake:
        asked = fake.push_message("a picture please")
        photo = await fake.wait_for_call("sendPhoto", timeout=10)
        message = fake.messages[(TELEGRAM_CHAT_ID, asked["message"]["message_id"] + 1)]
        (button,) = photo.params["reply_markup"]["inline_keyboard"][0]
        fake.push_callback_query(button["callback_data"], message=message)
        menu = await fake.wait_for_call("sendMessage", timeout=10)
        await fake.wait_for_call("answerCallbackQuery", timeout=10)

    assert fake.calls_to("editMessageText")[0].status == 400
    assert menu.params["text"] == "Main menu"
    assert menu.params["chat_id"] == TELEGRAM_CHAT_ID

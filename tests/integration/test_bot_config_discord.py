"""The bot configuration on Discord: real hikari under a real supervisor that listens to the
bus, the fake Discord, a real database. Publishing registers the slash commands (global and
per guild, localized, with options) and changes the answers at once; slash commands and
menu buttons are answered through their interaction in the member's language, menus edit
the clicked message, keywords get a reply in the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import hikari
import pytest
from sqlmodel import Session

from connectors.discord_bot.client import DiscordBotConnector
from connectors.kit.bot_answers import BotAnswers
from connectors.kit.forwarder import EventForwarder
from connectors.supervisor import Supervisor
from engine.db import session_scope
from engine.models import AdminUser, Role
from engine.models.connections import BotInstance, ConnectorKind, PlatformConnection
from engine.services import bot_config as service
from tests.fakes import DISCORD_CHANNEL_ID, DISCORD_USER_ID, DiscordCall, FakeDiscord
from tests.fakes import discord_objects as dc
from tests.unit.test_community_service import user

GUILD_COMMANDS = "/applications/{application}/guilds/{guild}/commands"
GLOBAL_COMMANDS = "/applications/{application}/commands"
CALLBACK = "/interactions/{interaction}/{token}/callback"
MESSAGES = "/channels/{channel}/messages"
OTHER_GUILD = "900000000000000002"
ACK_DELAY = 0.3

HELP = {"en": "**Help** for {{ member.name }}", "de": "**Hilfe** für {{ member.name }}"}


def document(**changes: Any) -> dict[str, Any]:
    """Commands of each kind of scope and option, a few responses and two menus."""
    base: dict[str, Any] = {
        "default_language": "en",
        "languages": ["en", "de", "pt"],
        "commands": [
            {"name": "help", "description": {"en": "Get help", "de": "Hilfe bekommen"},
             "action": {"kind": "response", "target": "help"}},
            {"name": "menu", "description": {"en": "Open the menu", "pt": "Abrir o menu"},
             "action": {"kind": "menu", "target": "main"}},
            {"name": "ticket", "description": {"en": "Open a ticket"},
             "scope": {"kind": "guild", "target_id": OTHER_GUILD},
             "action": {"kind": "response", "target": "help"},
             "options": [
                 {"name": "note", "description": {"en": "Anything else"}},
                 {"name": "topic", "description": {"en": "What about", "de": "Worum"},
                  "required": True, "choices": [
                      {"name": {"en": "Billing", "de": "Rechnung"}, "value": "billing"}]},
                 {"name": "urgency", "description": {"en": "1 to 3"}, "type": "integer",
                  "choices": [{"name": {"en": "High"}, "value": "3"}]},
                 {"name": "who", "description": {"en": "Someone"}, "type": "user"},
             ]},
            {"name": "whisper", "description": {"en": "Tell me privately"},
             "action": {"kind": "response", "target": "private"}},
            {"name": "flash", "description": {"en": "A short-lived answer"},
             "action": {"kind": "response", "target": "gone"}},
            {"name": "off", "description": {"en": "Disabled"}, "enabled": False,
             "action": {"kind": "response", "target": "help"}},
        ],
        "responses": [
            {"key": "help", "text": HELP},
            {"key": "price", "triggers": [{"kind": "keyword", "value": "price"}],
             "text": {"en": "It is _free_, {{ member.name }}."}},
            {"key": "private", "triggers": [{"kind": "keyword", "value": "secret"}],
             "text": {"en": "Between us"}, "reply_mode": "dm"},
            {"key": "thread", "triggers": [{"kind": "regex", "value": r"^bug\b"}],
             "text": {"en": "Let us talk here"}, "reply_mode": "thread"},
            {"key": "gone", "triggers": [{"kind": "keyword", "value": "vanish"}],
             "text": {"en": "Soon gone"}, "reply_mode": "chat", "delete_after_seconds": 1},
        ],
        "menus": [
            {"key": "main", "title": {"en": "Main menu", "de": "Hauptmenü"},
             "rows": [[{"label": {"en": "FAQ", "de": "Fragen"},
                        "action": {"kind": "menu", "target": "faq"}},
                       {"label": {"en": "Help"},
                        "action": {"kind": "response", "target": "help"}}]]},
            {"key": "faq", "title": {"en": "Questions", "de": "Fragen"},
             "rows": [[{"label": {"en": "Docs"},
                        "action": {"kind": "url", "target": "https://example.org/docs"}}]]},
        ],
    }  # fmt: skip
    return {**base, **changes}


@pytest.fixture
def editor(sqlite_session: Session) -> AdminUser:
    return user(sqlite_session, Role.editor)


def without_ticket() -> dict[str, Any]:
    """The configuration without its guild command."""
    doc = document()
    doc["commands"] = [c for c in doc["commands"] if c["name"] != "ticket"]
    return doc


def publish(editor: AdminUser, instance_id: int, doc: dict[str, Any]) -> int:
    """``doc`` saved as the draft and published by the service (which announces it on the
    bus); the new version's number."""
    with session_scope() as session:
        service.save_draft(session, editor, instance_id, doc, base_revision=None)
        return service.publish(session, editor, instance_id).version


class Bot:
    """A Discord bot connection under a supervisor, with what it forwarded to the engine."""

    def __init__(self, fake: FakeDiscord, instance_id: int) -> None:
        self.fake = fake
        self.instance_id = instance_id
        self.forwarded: list[str] = []  # the kinds of the events handed to the engine
        self.supervisor = Supervisor(
            forwarder=EventForwarder(lambda payload: self.forwarded.append(payload["kind"])),
            reconcile_seconds=30,
            lease_seconds=60,
            listen_bus=True,
        )

    async def answering(self, version: int, timeout: float = 10.0) -> None:
        """Wait until the running connector answers from ``version`` and its reload is over,
        command sync included (a publish that registers nothing new leaves no other trace)."""
        async with asyncio.timeout(timeout):
            while True:
                managed = self.supervisor.instances.get(self.instance_id)
                connector = managed.connector if managed else None
                loaded = connector is not None and connector.bot_answers.version == version
                if loaded and not self.supervisor._reloads:
                    return
                await asyncio.sleep(0.02)

    async def settled(self, events: int, timeout: float = 10.0) -> None:
        """Until ``events`` events were handed to the engine and the connector has nothing
        left in flight: every answer and deferred acknowledgement was sent or dropped, so
        nothing more will come (a positive signal to wait for, not a pause)."""
        async with asyncio.timeout(timeout):
            while True:
                managed = self.supervisor.instances.get(self.instance_id)
                connector = managed.connector if managed else None
                idle = isinstance(connector, DiscordBotConnector) and not connector._tasks
                if len(self.forwarded) >= events and idle:
                    return
                await asyncio.sleep(0.02)

    async def command(self, name: str, locale: str = "en-US", **fields: Any) -> DiscordCall:
        """Dispatch ``/name`` and wait for the interaction's answer."""
        interaction = self.fake.command_interaction(name, locale=locale, **fields)
        await self.fake.dispatch("INTERACTION_CREATE", interaction)
        return await self.answer_to(interaction)

    async def click(self, message: dict[str, Any], custom_id: str, locale: str) -> DiscordCall:
        interaction = self.fake.component_interaction(message, custom_id, locale=locale)
        await self.fake.dispatch("INTERACTION_CREATE", interaction)
        return await self.answer_to(interaction)

    async def answer_to(self, interaction: dict[str, Any]) -> DiscordCall:
        path = f"/interactions/{interaction['id']}/{interaction['token']}/callback"
        return await self.fake.wait_for_call("POST", path, timeout=10)


def add_bot(fake: FakeDiscord, **settings: Any) -> int:
    """An active Discord bot connection to the fake (``settings`` over the test's
    defaults); its instance id."""
    with session_scope() as session:
        instance = BotInstance(
            name="Config bot",
            kind=ConnectorKind.discord_bot,
            credential=fake.token,
            settings={"api_base_url": fake.rest_url, "button_ack_delay": ACK_DELAY, **settings},
        )
        session.add(instance)
        session.flush()
        session.add(PlatformConnection(bot_instance_id=instance.id, is_active=True))
        assert instance.id is not None
        return instance.id


@contextlib.asynccontextmanager
async def supervised(fake: FakeDiscord, instance_id: int) -> AsyncIterator[Bot]:
    """The connection run by a supervisor that listens to the bus, once its gateway
    session is ready."""
    bot = Bot(fake, instance_id)
    task = asyncio.create_task(bot.supervisor.run())
    try:
        await fake.wait_until_ready(timeout=20)
        yield bot
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)


@contextlib.asynccontextmanager
async def live_bot(
    editor: AdminUser, doc: dict[str, Any] | None = None, **settings: Any
) -> AsyncIterator[Bot]:
    """A running bot answering ``doc`` (published before it connects)."""
    async with FakeDiscord() as fake:
        fake.add_guild()
        fake.user(DISCORD_USER_ID, "ada")
        instance_id = add_bot(fake, **settings)
        publish(editor, instance_id, doc or document())
        async with supervised(fake, instance_id) as bot:
            await fake.wait_for_call("PUT", GLOBAL_COMMANDS, timeout=10)
            yield bot


def by_name(commands: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {command["name"]: command for command in commands}


def buttons(data: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The buttons of an interaction answer: (label, custom_id or url) per row."""
    return [
        [{k: b[k] for k in ("label", "custom_id", "url") if k in b} for b in row["components"]]
        for row in data["components"]
    ]


# -- publishing and commands ----------------------------------------------------------------


async def test_publish_registers_localized_commands_globally_and_per_guild(
    editor: AdminUser,
) -> None:
    async with FakeDiscord() as fake, supervised(fake, add_bot(fake)) as bot:
        assert fake.calls_to("PUT", GLOBAL_COMMANDS) == []  # nothing published: untouched

        publish(editor, bot.instance_id, document())
        await fake.wait_for_call("PUT", GLOBAL_COMMANDS, timeout=10)
        guild = await fake.wait_for_call("PUT", GUILD_COMMANDS, timeout=10)

    [overwrite] = fake.calls_to("PUT", GLOBAL_COMMANDS)
    assert overwrite.params["application"] == fake.application_id
    global_commands = by_name(overwrite.json)
    assert set(global_commands) == {"help", "menu", "whisper", "flash"}
    assert global_commands["help"]["description"] == "Get help"
    assert global_commands["help"]["description_localizations"] == {"de": "Hilfe bekommen"}
    assert global_commands["menu"]["description_localizations"] == {"pt-BR": "Abrir o menu"}

    assert guild.params["guild"] == OTHER_GUILD
    [ticket] = guild.json
    assert ticket["name"] == "ticket"
    options = ticket["options"]
    assert [(o["name"], o["type"], o.get("required", False)) for o in options] == [
        ("topic", 3, True),  # required first: Discord refuses them after optional ones
        ("note", 3, False),
        ("urgency", 4, False),
        ("who", 6, False),
    ]
    assert options[0]["description_localizations"] == {"de": "Worum"}
    assert options[0]["choices"] == [
        {"name": "Billing", "name_localizations": {"de": "Rechnung"}, "value": "billing"}
    ]
    assert options[2]["choices"][0]["value"] == 3  # an integer option's choice is a number


async def test_a_new_version_rewrites_only_what_changed_and_empties_a_dropped_guild(
    editor: AdminUser,
) -> None:
    async with live_bot(editor) as bot:
        fake = bot.fake
        await fake.wait_for_call("PUT", GUILD_COMMANDS, timeout=10)

        smaller = without_ticket()  # the guild's only command
        publish(editor, bot.instance_id, smaller)
        emptied = await fake.wait_for_call("PUT", GUILD_COMMANDS, count=2, timeout=10)
        assert (emptied.params["guild"], emptied.json) == (OTHER_GUILD, [])

        # A version whose commands are the same (only a text changed) pushes nothing.
        changed = document(commands=smaller["commands"])
        changed["responses"][0]["text"] = {"en": "New help"}
        await bot.answering(publish(editor, bot.instance_id, changed))
        answer = await bot.command("help")

    assert answer.json["data"]["content"] == "New help"  # the new version answers...
    assert len(fake.calls_to("PUT", GLOBAL_COMMANDS)) == 1  # ...without any new overwrite
    assert len(fake.calls_to("PUT", GUILD_COMMANDS)) == 2


async def test_rollback_registers_the_old_commands_again(editor: AdminUser) -> None:
    async with live_bot(editor) as bot:
        fake = bot.fake
        renamed = document()
        renamed["commands"][0] = {**renamed["commands"][0], "name": "aide"}
        publish(editor, bot.instance_id, renamed)
        await fake.wait_for_call("PUT", GLOBAL_COMMANDS, count=2, timeout=10)

        with session_scope() as session:
            service.rollback(session, editor, bot.instance_id, 1)
        back = await fake.wait_for_call("PUT", GLOBAL_COMMANDS, count=3, timeout=10)

    first, second, _ = fake.calls_to("PUT", GLOBAL_COMMANDS)
    assert set(by_name(second.json)) == {"aide", "menu", "whisper", "flash"}
    assert back.json == first.json


async def test_a_connector_started_later_empties_guilds_of_earlier_versions(
    editor: AdminUser,
) -> None:
    """After a restart the connector has no memory of what it pushed: a guild some version
    registered commands in is emptied if the live version has none there."""
    async with FakeDiscord() as fake:
        fake.add_guild()
        instance_id = add_bot(fake)
        publish(editor, instance_id, document())
        async with supervised(fake, instance_id):
            await fake.wait_for_call("PUT", GUILD_COMMANDS, timeout=10)
        publish(editor, instance_id, without_ticket())  # while no connector runs
        async with supervised(fake, instance_id):
            emptied = await fake.wait_for_call("PUT", GUILD_COMMANDS, count=2, timeout=20)

    assert (emptied.params["guild"], emptied.json) == (OTHER_GUILD, [])


# -- answers ----------------------------------------------------------------------------------


async def test_slash_command_answered_through_the_interaction_in_the_members_language(
    editor: AdminUser,
) -> None:
    async with live_bot(editor) as bot:
        german = await bot.command("help", locale="de")
        french = await bot.command("help", locale="fr")
        await bot.settled(events=2)

    assert german.json["type"] == int(hikari.ResponseType.MESSAGE_CREATE)
    assert german.json["data"]["content"] == "**Hilfe** für ada"
    assert german.json["data"]["allowed_mentions"]["parse"] == []  # names never ping
    assert french.json["data"]["content"] == "**Help** for ada"  # no French: the default
    assert bot.forwarded.count("dc_slash_command") == 2  # flows still see the commands


async def test_private_and_self_deleting_answers_to_a_slash_command(editor: AdminUser) -> None:
    async with live_bot(editor) as bot:
        private = await bot.command("whisper")
        interaction = bot.fake.command_interaction("flash")
        await bot.fake.dispatch("INTERACTION_CREATE", interaction)
        flash = await bot.answer_to(interaction)
        deleted = await bot.fake.wait_for_call(
            "DELETE", "/webhooks/{application}/{token}/messages/{message}", timeout=5
        )

    assert private.json["data"]["content"] == "Between us"
    assert private.json["data"]["flags"] == int(hikari.MessageFlag.EPHEMERAL)  # only theirs
    assert flash.json["data"]["content"] == "Soon gone"
    assert deleted.params["token"] == interaction["token"]
    assert deleted.params["message"] == "@original"


async def test_answers_after_the_acknowledgement_still_delete_themselves(
    editor: AdminUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database slow, the connector acknowledges first: the short-lived answer replaces
    the thinking message and still goes after its delay; a private one is a follow-up (the
    public thinking message goes at once) and its own id is deleted after the delay."""
    decide = BotAnswers._decide

    def slow_decide(self: BotAnswers, *args: Any) -> Any:
        time.sleep(1.0)  # in the answer's thread: the acknowledgement goes first
        return decide(self, *args)

    monkeypatch.setattr(BotAnswers, "_decide", slow_decide)
    doc = document()
    private = next(r for r in doc["responses"] if r["key"] == "private")
    private["delete_after_seconds"] = 1
    late_message = "/webhooks/{application}/{token}/messages/{message}"
    async with live_bot(editor, doc, command_ack_delay=0.05) as bot:
        fake = bot.fake
        flash = fake.command_interaction("flash")
        await fake.dispatch("INTERACTION_CREATE", flash)
        flash_ack = await bot.answer_to(flash)
        edited = await fake.wait_for_call("PATCH", late_message, timeout=10)
        flash_gone = await fake.wait_for_call("DELETE", late_message, timeout=10)

        whisper = fake.command_interaction("whisper")
        await fake.dispatch("INTERACTION_CREATE", whisper)
        whisper_ack = await bot.answer_to(whisper)
        followup = await fake.wait_for_call("POST", "/webhooks/{application}/{token}", timeout=10)
        deletes = await fake.wait_for_call("DELETE", late_message, count=3, timeout=10)
        await bot.settled(events=2)

    deferred = int(hikari.ResponseType.DEFERRED_MESSAGE_CREATE)
    assert (flash_ack.json["type"], whisper_ack.json["type"]) == (deferred, deferred)
    assert (edited.params["message"], edited.json["content"]) == ("@original", "Soon gone")
    assert (flash_gone.params["token"], flash_gone.params["message"]) == (
        flash["token"],
        "@original",
    )
    assert fake.calls.index(flash_gone) > fake.calls.index(edited)
    assert followup.json["content"] == "Between us"
    assert followup.json["flags"] == int(hikari.MessageFlag.EPHEMERAL)
    whisper_deletes = [
        call.params["message"]
        for call in fake.calls_to("DELETE", late_message)
        if call.params["token"] == whisper["token"]
    ]
    [followup_id] = [m["id"] for m in fake.messages.values() if m["content"] == "Between us"]
    assert whisper_deletes == ["@original", followup_id]
    assert deletes.params["token"] == whisper["token"]


async def test_menu_buttons_edit_the_message_in_place_and_back_returns(editor: AdminUser) -> None:
    async with live_bot(editor) as bot:
        fake = bot.fake
        dm = fake.add_channel(dc.snowflake(), 1, recipients=[fake.user(DISCORD_USER_ID)])
        opened = await bot.command("menu", locale="de", channel_id=dm["id"])
        assert opened.json["data"]["content"] == "Hauptmenü"
        assert buttons(opened.json["data"]) == [
            [{"label": "Fragen", "custom_id": "fb:m:main/faq"},
             {"label": "Help", "custom_id": "fb:r:help"}]
        ]  # fmt: skip
        message = fake.interaction_messages[opened.path.split("/")[2]]

        submenu = await bot.click(message, "fb:m:main/faq", locale="de")
        assert submenu.json["type"] == int(hikari.ResponseType.MESSAGE_UPDATE)
        assert submenu.json["data"]["content"] == "Fragen"
        assert buttons(submenu.json["data"]) == [
            [{"label": "Docs", "url": "https://example.org/docs"}],
            [{"label": "« Zurück", "custom_id": "fb:m:main"}],
        ]
        edited = fake.messages[(message["channel_id"], message["id"])]
        assert edited["content"] == "Fragen"  # the same message, edited

        returned = await bot.click(edited, "fb:m:main", locale="de")
        response = await bot.click(edited, "fb:r:help", locale="en-GB")
        await bot.settled(events=4)  # the deferred acknowledgements decided, none sent

    assert returned.json["type"] == int(hikari.ResponseType.MESSAGE_UPDATE)
    assert returned.json["data"]["content"] == "Hauptmenü"
    assert buttons(returned.json["data"]) == buttons(opened.json["data"])
    assert response.json["type"] == int(hikari.ResponseType.MESSAGE_CREATE)
    assert response.json["data"]["content"] == "**Help** for ada"
    assert len(fake.calls_to("POST", CALLBACK)) == 4  # answered once each: no late ack
    assert bot.forwarded.count("dc_button_click") == 3


async def test_keyword_message_gets_a_reply_quoting_it(editor: AdminUser) -> None:
    async with live_bot(editor) as bot:
        fake = bot.fake
        asked = fake.user_message("what is the price?")
        await fake.dispatch("MESSAGE_CREATE", asked)
        answer = await fake.wait_for_call("POST", MESSAGES, timeout=10)
        await fake.dispatch("MESSAGE_CREATE", fake.user_message("priceless"))
        other_bot = fake.user("900000000000000300", "otherbot")
        other_bot["bot"] = True
        from_bot = dc.message(
            DISCORD_CHANNEL_ID, other_bot, "the price?", guild_id=asked["guild_id"]
        )
        await fake.dispatch("MESSAGE_CREATE", from_bot)
        await bot.settled(events=3)

    assert answer.params["channel"] == DISCORD_CHANNEL_ID
    assert answer.json["content"] == "It is _free_, ada."
    assert answer.json["message_reference"]["message_id"] == asked["id"]
    assert len(fake.calls_to("POST", MESSAGES)) == 1  # no answer to a word or to a bot
    assert bot.forwarded.count("dc_message") == 3


async def test_media_a_photo_as_the_embeds_image_and_a_document_as_its_link(
    editor: AdminUser,
) -> None:
    responses = [
        *document()["responses"],
        {"key": "cat", "triggers": [{"kind": "keyword", "value": "picture"}],
         "text": {"en": "A **cat**"}, "reply_mode": "chat",
         "media": {"kind": "photo", "url": "https://example.org/cat.jpg"},
         "buttons": [[{"label": {"en": "Menu"}, "action": {"kind": "menu", "target": "main"}}]]},
        {"key": "guide", "triggers": [{"kind": "keyword", "value": "guide"}],
         "reply_mode": "chat",
         "media": {"kind": "document", "url": "https://example.org/guide.pdf"}},
    ]  # fmt: skip
    async with live_bot(editor, document(responses=responses)) as bot:
        fake = bot.fake
        await fake.dispatch("MESSAGE_CREATE", fake.user_message("a picture please"))
        photo = await fake.wait_for_call("POST", MESSAGES, timeout=10)
        await fake.dispatch("MESSAGE_CREATE", fake.user_message("the guide?"))
        guide = await fake.wait_for_call("POST", MESSAGES, count=2, timeout=10)

    assert photo.json["content"] == "A **cat**"
    assert [embed["image"]["url"] for embed in photo.json["embeds"]] == [
        "https://example.org/cat.jpg"
    ]
    assert buttons(photo.json) == [[{"label": "Menu", "custom_id": "fb:m:main"}]]
    assert guide.json["content"] == "https://example.org/guide.pdf"  # no text: the link alone
    assert not guide.json.get("embeds")


async def test_thread_dm_and_delete_after_answers(editor: AdminUser) -> None:
    async with live_bot(editor) as bot:
        fake = bot.fake
        bug = fake.user_message("bug in the login")
        await fake.dispatch("MESSAGE_CREATE", bug)
        thread = await fake.wait_for_call(
            "POST", "/channels/{channel}/messages/{message}/threads", timeout=10
        )
        in_thread = await fake.wait_for_call("POST", MESSAGES, timeout=10)

        await fake.dispatch("MESSAGE_CREATE", fake.user_message("a secret"))
        dm = await fake.wait_for_call("POST", "/users/@me/channels", timeout=10)
        private = await fake.wait_for_call("POST", MESSAGES, count=2, timeout=10)

        await fake.dispatch("MESSAGE_CREATE", fake.user_message("vanish please"))
        soon_gone = await fake.wait_for_call("POST", MESSAGES, count=3, timeout=10)
        deleted = await fake.wait_for_call(
            "DELETE", "/channels/{channel}/messages/{message}", timeout=5
        )

    assert thread.params["message"] == bug["id"]
    assert thread.json["name"] == "bug in the login"
    assert in_thread.params["channel"] == bug["id"]  # a thread on a message takes its id
    assert in_thread.json["content"] == "Let us talk here"
    assert dm.json["recipient_id"] == DISCORD_USER_ID
    assert private.params["channel"] != DISCORD_CHANNEL_ID
    assert private.json["content"] == "Between us"
    assert soon_gone.json["content"] == "Soon gone"
    assert "message_reference" not in soon_gone.json  # reply mode "chat"
    assert deleted.params["channel"] == DISCORD_CHANNEL_ID
    assert (DISCORD_CHANNEL_ID, deleted.params["message"]) not in fake.messages


async def test_a_refused_answer_is_logged_without_the_token_and_the_bot_goes_on(
    editor: AdminUser, caplog: pytest.LogCaptureFixture
) -> None:
    async with live_bot(editor) as bot:
        fake = bot.fake
        fake.fail_next(f"POST {CALLBACK}", 400, 50035, "Invalid Form Body")
        interaction = fake.command_interaction("help")
        with caplog.at_level(logging.INFO):
            await fake.dispatch("INTERACTION_CREATE", interaction)
            await bot.answer_to(interaction)
            second = await bot.command("help")

    assert second.json["data"]["content"] == "**Help** for ada"
    refused = [r.getMessage() for r in caplog.records if "bot answer" in r.getMessage()]
    assert refused and "Invalid Form Body" in refused[0]
    assert interaction["token"] not in caplog.text

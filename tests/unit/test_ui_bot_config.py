"""The Bot config pages' state against a real database: the bot list, an item made in
the form and saved into the draft, publishing (and the problems that stop it), languages,
strings and scope, versions compared and rolled back, a stale draft's conflict, and what
a viewer is refused."""

from __future__ import annotations

from sqlmodel import select

from engine.db import session_scope
from engine.models import BotConfigVersion
from engine.services import connections
from flowbot_ui.state.bot_config import BotConfigState, BotsState
from tests.ui_harness import People, Tab, names, user

TOKEN = "123456:" + "A" * 35


def _bot(people: People) -> int:
    with session_scope() as session:
        admin = session.merge(user(people.admin_id))
        connection = connections.add_connection(
            session, admin, "telegram_bot", "Helper", credential=TOKEN
        )
        session.flush()
        return connection.bot_instance_id


def _versions() -> list[int]:
    with session_scope() as session:
        return [v.version for v in session.exec(select(BotConfigVersion))]


async def _open(people: People, role: str, bot_id: int, tab: str = "") -> Tab:
    params = {"bot_ref": str(bot_id), **({"tab": tab} if tab else {})}
    page = Tab(people.cookies[role], f"/bot-config/{bot_id}", **params)
    await page.run(BotConfigState, "load")
    return page


async def _add_command(tab: Tab, name: str) -> None:
    await tab.run(BotConfigState, "new_item")
    await tab.run(BotConfigState, "edit", ["name"], name)
    await tab.run(BotConfigState, "edit", ["description"], "Get help")
    await tab.run(BotConfigState, "set_action", ["action"], "response")
    await tab.run(BotConfigState, "edit", ["action", "target"], "rules")
    await tab.run(BotConfigState, "save_item")


async def test_the_bot_list_and_a_missing_bot(people: People) -> None:
    bot_id = _bot(people)
    tab = Tab(people.cookies["viewer"], "/bot-config")
    await tab.run(BotsState, "load")
    [row] = (await tab.state(BotsState)).rows
    assert (row.id, row.name, row.platform, row.live_version) == (bot_id, "Helper", "telegram", 0)
    gone = await _open(people, "viewer", 999)
    assert (await gone.state(BotConfigState)).missing


async def test_an_item_made_in_the_form_is_saved_and_published(people: People) -> None:
    bot_id = _bot(people)
    tab = await _open(people, "editor", bot_id, "responses")
    page = await tab.state(BotConfigState)
    assert (page.name, page.tab, page.name_rule.startswith("Without the slash")) == (
        "Helper", "responses", True,
    )  # fmt: skip
    await tab.run(BotConfigState, "new_item")
    assert page.editing and page.edit_kind == "response"
    await tab.run(BotConfigState, "edit", ["key"], "rules")
    await tab.run(BotConfigState, "edit", ["text"], "Be kind,")
    await tab.run(BotConfigState, "insert_value", "member.name")
    await tab.run(BotConfigState, "insert_value", "__import__")  # not a value: ignored
    await tab.run(BotConfigState, "edit", ["no", "such", "path"], "x")  # ignored too
    assert page.form.text == "Be kind, {{ member.name }}"
    assert "Be kind, Alex Morgan" in page.preview.telegram
    await tab.run(BotConfigState, "save_item")
    assert page.message == "Saved response rules in the draft."
    assert page.response_keys == ["rules"] and page.has_changes

    await tab.run(BotConfigState, "set_tab", "commands")
    await _add_command(tab, "/help")
    assert page.message == "Saved command /help in the draft."
    assert [(c.key, c.summary) for c in page.commands] == [("/help", "response: rules")]

    events = await tab.run(BotConfigState, "publish")
    assert names(events) == ["_call_function"] and "Published v1" in repr(events[0].args)
    assert _versions() == [1] and page.live_version == 1 and not page.has_changes
    assert page.version_choices == ["1"]

    await tab.run(BotConfigState, "open_item", "/help")
    assert page.editing_key == "help" and page.form.key == "help"
    await tab.run(BotConfigState, "delete_item")
    assert page.message == "Deleted command help from the draft." and page.commands == []
    await tab.run(BotConfigState, "set_diff_from", "1")  # live → draft: the deleted command
    assert page.diff_to == "draft" and [c.where for c in page.changes] == ["Command /help"]


async def test_publishing_a_broken_draft_lists_its_problems(people: People) -> None:
    bot_id = _bot(people)
    tab = await _open(people, "editor", bot_id)
    await _add_command(tab, "help")  # its response "rules" does not exist
    assert await tab.run(BotConfigState, "publish") == []
    page = await tab.state(BotConfigState)
    assert page.problems_open and any("rules" in p.message for p in page.problems)
    assert _versions() == []
    await tab.run(BotConfigState, "on_dialog_change", False)
    assert not page.problems_open


async def test_languages_strings_and_scope(people: People) -> None:
    bot_id = _bot(people)
    tab = await _open(people, "editor", bot_id, "translations")
    page = await tab.state(BotConfigState)
    await tab.run(BotConfigState, "set_new_language", " de ")
    await tab.run(BotConfigState, "add_language")
    assert (page.languages, page.message, page.new_language) == (["en", "de"], "Added de.", "")
    await tab.run(BotConfigState, "set_default_language", "de")
    assert page.default_language == "de"
    await tab.run(BotConfigState, "set_default_language", "en")

    await tab.run(BotConfigState, "add_string")
    assert page.error == "Give the new string a name no other string has."
    await tab.run(BotConfigState, "set_new_string", "hours")
    await tab.run(BotConfigState, "add_string")
    await tab.run(BotConfigState, "set_string", "hours", "de", "9 bis 17")
    assert page.strings[0].texts == {"de": "9 bis 17"}
    assert any(m.message == "en" for m in page.missing_texts)
    await tab.run(BotConfigState, "set_string", "hours", "de", " ")
    assert page.strings[0].texts == {}
    await tab.run(BotConfigState, "remove_string", "hours")
    assert page.strings == []
    await tab.run(BotConfigState, "remove_language", "de")
    assert page.languages == ["en"]

    await tab.run(BotConfigState, "set_everywhere", False)
    await tab.run(BotConfigState, "set_private_chats", False)
    await tab.run(BotConfigState, "toggle_chat", "-100", True)
    await tab.run(BotConfigState, "save_scope")
    assert page.message == "Saved where the bot answers."
    again = await _open(people, "viewer", bot_id)
    shown = await again.state(BotConfigState)
    assert (shown.everywhere, shown.private_chats, shown.scope_chats) == (False, False, ["-100"])


async def test_a_stale_draft_is_a_conflict_and_the_form_is_kept(people: People) -> None:
    bot_id = _bot(people)
    mine = await _open(people, "editor", bot_id)
    theirs = await _open(people, "admin", bot_id)
    await _add_command(theirs, "start")
    await mine.run(BotConfigState, "new_item")
    await mine.run(BotConfigState, "edit", ["name"], "help")
    await mine.run(BotConfigState, "save_item")
    page = await mine.state(BotConfigState)
    assert page.conflict and page.editing and page.form.key == "help"
    await mine.run(BotConfigState, "reload_draft")
    assert not page.conflict and [c.key for c in page.commands] == ["/start"]


async def test_versions_roll_back_and_a_viewer_changes_nothing(people: People) -> None:
    bot_id = _bot(people)
    tab = await _open(people, "admin", bot_id)
    await tab.run(BotConfigState, "publish")
    await tab.run(BotConfigState, "set_new_language", "de")
    await tab.run(BotConfigState, "add_language")
    await tab.run(BotConfigState, "publish")
    page = await tab.state(BotConfigState)
    assert _versions() == [1, 2] and (page.diff_from, page.diff_to) == ("1", "2")
    assert page.changes
    await tab.run(BotConfigState, "set_diff_to", "1")
    assert page.changes == []

    viewer = await _open(people, "viewer", bot_id)
    seen = await viewer.state(BotConfigState)
    await viewer.run(BotConfigState, "ask_rollback", 1)
    assert await viewer.run(BotConfigState, "confirm_rollback") == []
    assert "editor role" in seen.dialog_error
    await viewer.run(BotConfigState, "set_new_language", "fr")
    await viewer.run(BotConfigState, "add_language")
    assert "editor role" in seen.error and _versions() == [1, 2]

    await tab.run(BotConfigState, "ask_rollback", 1)
    events = await tab.run(BotConfigState, "confirm_rollback")
    assert "a copy of v1" in repr(events[0].args)
    assert _versions() == [1, 2, 3] and page.live_version == 3 and page.languages == ["en"]

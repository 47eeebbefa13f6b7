"""The Cross-post page's state against a real database: a rule made from the dialog's
picks and fields, the service's refusals shown in the dialog, templates with their live
preview, pausing and deleting, the rule's history page, and viewers' refusals."""

from __future__ import annotations

from sqlmodel import select

from engine.db import session_scope
from engine.models import Chat, CrossPostRule, CrossPostTemplate
from flowbot_ui.state.cross_posting import AS_IS, CrossPostRuleState, CrossPostState
from tests.ui_harness import People, Tab


def _chats() -> tuple[int, int]:
    """A Telegram group and a Discord channel; their ids."""
    with session_scope() as session:
        news = Chat(platform="telegram", platform_chat_id="-100", title="News")
        guild = Chat(platform="discord", platform_chat_id="9", title="Guild")
        session.add_all([news, guild])
        session.flush()
        channel = Chat(
            platform="discord", platform_chat_id="10", title="announcements",
            parent_chat_id="9",
        )  # fmt: skip
        session.add(channel)
        session.flush()
        return news.id or 0, channel.id or 0


def _rules() -> list[CrossPostRule]:
    with session_scope() as session:
        rows = list(session.exec(select(CrossPostRule)))
        session.expunge_all()
        return rows


async def _rule_dialog(people: People, role: str) -> tuple[Tab, CrossPostState]:
    tab = Tab(people.cookies[role], "/cross-posting")
    await tab.run(CrossPostState, "load")
    await tab.run(CrossPostState, "open_new_rule")
    return tab, await tab.state(CrossPostState)


async def test_a_rule_is_made_from_the_dialog(people: People) -> None:
    news, channel = _chats()
    tab, page = await _rule_dialog(people, "editor")
    assert page.rule_open and page.rule_form["template"] == AS_IS
    assert {r.title for r in page.chat_rows} >= {"News", "announcements"}
    await tab.run(CrossPostState, "search_chats", {"search": "News"})
    assert [r.title for r in page.chat_rows] == ["News"]
    await tab.run(CrossPostState, "pick_chat_platform", "discord")
    assert "News" not in [r.title for r in page.chat_rows]

    await tab.run(CrossPostState, "pick_source", news)
    await tab.run(CrossPostState, "toggle_target", news, True)  # the source is no target
    assert page.target_ids == []
    await tab.run(CrossPostState, "toggle_target", channel, True)
    assert [c.title for c in page.picked] == ["News", "announcements"]

    form = {"name": "News to Discord", "template": AS_IS, "contains": "sale", "mirror_edits": "on"}
    await tab.run(CrossPostState, "save_rule", form)
    assert (page.message, page.rule_open) == ("Created News to Discord.", False)
    [rule] = _rules()
    assert (rule.source_chat_id, rule.mirror_edits, rule.mirror_deletes) == (news, True, False)
    [card] = page.rows
    assert (card.source, card.filter, card.active) == ("News", "Containing: sale", True)

    await tab.run(CrossPostState, "open_edit_rule", rule.id)
    assert page.rule_form["contains"] == "sale" and page.rule_flags["mirror_edits"]
    await tab.run(CrossPostState, "save_rule", {**page.rule_form, "name": "Renamed"})
    assert page.message == "Saved Renamed." and _rules()[0].name == "Renamed"

    await tab.run(CrossPostState, "set_active", rule.id, False)
    assert page.message.startswith("Paused") and not _rules()[0].is_active

    await tab.run(CrossPostState, "open_delete_rule", rule.id)
    assert page.dialog_name == "Renamed"
    await tab.run(CrossPostState, "confirm_delete_rule")
    assert page.message == "Deleted Renamed." and _rules() == []


async def test_the_dialog_shows_why_a_rule_is_refused(people: People) -> None:
    news, _ = _chats()
    tab, page = await _rule_dialog(people, "editor")
    await tab.run(CrossPostState, "save_rule", {"name": "No source"})
    assert page.dialog_error and page.rule_open
    await tab.run(CrossPostState, "pick_source", news)
    await tab.run(CrossPostState, "save_rule", {"name": "Bad", "regex": "("})
    assert "regular expression" in page.dialog_error
    assert _rules() == []
    await tab.run(CrossPostState, "open_edit_rule", 999)
    assert "999" in page.error and not page.rule_open


async def test_a_viewer_cannot_make_rules_or_templates(people: People) -> None:
    news, channel = _chats()
    tab, page = await _rule_dialog(people, "viewer")
    await tab.run(CrossPostState, "pick_source", news)
    await tab.run(CrossPostState, "toggle_target", channel, True)
    await tab.run(CrossPostState, "save_rule", {"name": "Sneaky"})
    assert "editor role" in page.dialog_error and _rules() == []
    await tab.run(CrossPostState, "open_new_template")
    await tab.run(CrossPostState, "save_template", {"name": "Sneaky"})
    assert "editor role" in page.dialog_error
    with session_scope() as session:
        assert list(session.exec(select(CrossPostTemplate))) == []


async def test_templates_preview_as_typed_and_are_saved(people: People) -> None:
    tab = Tab(people.cookies["editor"], "/cross-posting", tab="templates")
    await tab.run(CrossPostState, "load")
    page = await tab.state(CrossPostState)
    assert page.tab == "templates"
    await tab.run(CrossPostState, "open_new_template")
    assert page.template_open and page.formats["default"] == "{{ text }}"
    assert page.previews and not page.preview_error

    await tab.run(CrossPostState, "set_format", "default", "From {{ chat }}: {{ text")
    assert page.preview_error  # an unclosed tag: said at once, not on save
    await tab.run(CrossPostState, "set_format", "default", "From")
    await tab.run(CrossPostState, "insert_value", "default", "text")
    assert page.formats["default"] == "From {{ text }}"
    await tab.run(CrossPostState, "insert_value", "default", "__class__")  # not a value
    await tab.run(CrossPostState, "set_format", "nonsense", "x")
    assert page.formats["default"] == "From {{ text }}" and "nonsense" not in page.formats

    await tab.run(CrossPostState, "save_template", {"name": "Quoted"})
    assert page.message == "Created template Quoted." and not page.template_open
    [row] = page.templates
    assert (row.name, row.formats["default"], row.rules) == ("Quoted", "From {{ text }}", 0)
    assert [c.name for c in page.template_choices] == ["Quoted"]

    await tab.run(CrossPostState, "open_edit_template", row.id)
    await tab.run(CrossPostState, "save_template", {"name": "Quoted again"})
    assert page.templates[0].name == "Quoted again"
    await tab.run(CrossPostState, "open_delete_template", row.id)
    await tab.run(CrossPostState, "confirm_delete_template")
    assert page.message == "Deleted template Quoted again." and page.templates == []


async def test_a_rules_history_page(people: People) -> None:
    news, channel = _chats()
    tab, page = await _rule_dialog(people, "editor")
    await tab.run(CrossPostState, "pick_source", news)
    await tab.run(CrossPostState, "toggle_target", channel, True)
    await tab.run(CrossPostState, "save_rule", {"name": "Mirror"})
    [rule] = _rules()

    history = Tab(people.cookies["viewer"], f"/cross-posting/{rule.id}", rule_ref=str(rule.id))
    await history.run(CrossPostRuleState, "load")
    shown = await history.state(CrossPostRuleState)
    assert (shown.name, shown.summary) == ("Mirror", "From News to announcements")
    assert (shown.rows, shown.page, shown.has_older) == ([], 1, False)
    await history.run(CrossPostRuleState, "older_page")
    await history.run(CrossPostRuleState, "newer_page")
    assert shown.page == 1

    gone = Tab(people.cookies["viewer"], "/cross-posting/77", rule_ref="77")
    await gone.run(CrossPostRuleState, "load")
    assert (await gone.state(CrossPostRuleState)).missing

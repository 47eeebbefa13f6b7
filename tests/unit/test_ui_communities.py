"""The Communities pages' state against a real database: creating, the rules form's
round trip and its per-field errors, attaching and detaching chats, and deleting (an
admin's, with the name typed)."""

from __future__ import annotations

from typing import Any

from engine.db import session_scope
from engine.models import Chat, Community
from engine.services import communities
from flowbot_ui.state.communities import CommunitiesState, CommunityState
from tests.ui_harness import People, Tab, redirect_target


def _community(name: str = "Makers") -> int:
    with session_scope() as session:
        community = Community(name=name)
        session.add(community)
        session.flush()
        return community.id or 0


def _chat(title: str, community_id: int | None = None) -> int:
    with session_scope() as session:
        chat = Chat(
            platform="telegram", platform_chat_id=f"-{len(title)}{title}", title=title,
            community_id=community_id,
        )  # fmt: skip
        session.add(chat)
        session.flush()
        return chat.id or 0


def _page(people: People, role: str, community_id: int, **params: str) -> Tab:
    return Tab(
        people.cookies[role], f"/communities/{community_id}",
        community_ref=str(community_id), **params,
    )  # fmt: skip


def _form(page: CommunityState) -> dict[str, Any]:
    """The rules form as the browser submits it untouched: texts, switches that are on, and
    one group of fields per earning rule."""
    form: dict[str, Any] = {**page.form_values}
    form.update({k: "on" for k, on in page.form_flags.items() if on})
    for i, rule in enumerate(page.earning):
        form.update(
            {
                f"earning.{i}.keywords": rule.keywords,
                f"earning.{i}.points": rule.points,
                f"earning.{i}.daily_cap": rule.daily_cap,
            }
        )
    return form


async def test_an_editor_creates_a_community_and_a_blank_name_is_refused(people: People) -> None:
    tab = Tab(people.cookies["editor"], "/communities")
    await tab.run(CommunitiesState, "load")
    await tab.run(CommunitiesState, "open_create")
    page = await tab.state(CommunitiesState)
    assert page.create_open and page.rows == []

    assert await tab.run(CommunitiesState, "create", {"name": "  "}) == []
    assert page.dialog_error and page.create_open

    events = await tab.run(CommunitiesState, "create", {"name": "Chess", "description": "64"})
    with session_scope() as session:
        [made] = communities.list_communities(session)
    assert redirect_target(events) == f"/communities/{made.community_id}"
    assert (made.name, made.description) == ("Chess", "64") and not page.create_open
    assert [r.name for r in page.rows] == ["Chess"]


async def test_a_viewer_cannot_create(people: People) -> None:
    tab = Tab(people.cookies["viewer"], "/communities")
    await tab.run(CommunitiesState, "load")
    await tab.run(CommunitiesState, "create", {"name": "Chess"})
    assert "editor role" in (await tab.state(CommunitiesState)).dialog_error
    with session_scope() as session:
        assert communities.list_communities(session) == []


async def test_the_rules_form_saves_what_was_typed_and_marks_bad_fields(people: People) -> None:
    community_id = _community()
    log_chat = _chat("Log room")
    tab = _page(people, "editor", community_id, tab="rules")
    await tab.run(CommunityState, "load")
    page = await tab.state(CommunityState)
    assert (page.name, page.tab, page.missing) == ("Makers", "rules", False)
    assert "Log room (telegram, group)" in [c.name for c in page.log_chats]

    form = _form(page)
    form.update({"warnings.mute_at": "not a number", "antiflood.enabled": "on"})
    await tab.run(CommunityState, "save_rules", form)
    assert page.error.startswith("Some settings need fixing")
    assert "warnings.mute_at" in page.rule_errors

    first = len(page.earning)  # the rules' own earning rows come first
    await tab.run(CommunityState, "add_earning_rule")
    await tab.run(CommunityState, "toggle_platform_text", "discord", True)
    form.update(
        {
            "warnings.mute_at": "4",
            f"earning.{first}.keywords": "thanks, thank you",
            f"earning.{first}.points": "2",
            f"earning.{first}.daily_cap": "",
            "banned_words.words": "spam\nscam",
            "log_chat_id": str(log_chat),
            "overrides.discord.enabled": "on",
            "overrides.discord.welcome": "Hi from Discord",
        }
    )
    await tab.run(CommunityState, "save_rules", form)
    assert (page.error, page.rule_errors) == ("", {}), page.rule_errors
    assert page.message.startswith("Rules saved")
    with session_scope() as session:
        rules = communities.get_rules(session, community_id)
    assert rules.warnings.mute_at == 4 and rules.antiflood.enabled
    earning = [(e.keywords, e.points, e.daily_cap) for e in rules.reputation.earning]
    assert len(earning) == first + 1 and earning[first] == (["thanks", "thank you"], 2, None)
    assert [w.pattern for w in rules.banned_words.words] == ["spam", "scam"]
    assert rules.log_chat_id == log_chat
    assert rules.for_platform("discord").welcome.message == "Hi from Discord"
    assert rules.for_platform("telegram").welcome.message != "Hi from Discord"
    assert page.form_values["warnings.mute_at"] == "4"  # the form shows what is stored

    await tab.run(CommunityState, "remove_earning_rule", first)
    assert len(page.earning) == first


async def test_a_viewer_reads_the_rules_but_cannot_change_them(people: People) -> None:
    community_id = _community()
    tab = _page(people, "viewer", community_id)
    await tab.run(CommunityState, "load")
    page = await tab.state(CommunityState)
    form = {**_form(page), "warnings.mute_at": "7"}
    await tab.run(CommunityState, "save_rules", form)
    assert "editor role" in page.error
    await tab.run(CommunityState, "save_settings", {"name": "Renamed"})
    assert "editor role" in page.error
    with session_scope() as session:
        assert communities.get_rules(session, community_id).warnings.mute_at != 7
        assert communities.get_community(session, community_id).name == "Makers"


async def test_chats_are_picked_attached_and_detached(people: People) -> None:
    community_id = _community()
    free = _chat("Free group")
    _chat("Other group")
    tab = _page(people, "editor", community_id)
    await tab.run(CommunityState, "load")
    await tab.run(CommunityState, "open_picker")
    page = await tab.state(CommunityState)
    assert sorted(r.title for r in page.picker_rows) == ["Free group", "Other group"]
    await tab.run(CommunityState, "search_picker", {"search": "Free"})
    assert [r.title for r in page.picker_rows] == ["Free group"]
    await tab.run(CommunityState, "pick_platform", "discord")
    assert page.picker_rows == []
    await tab.run(CommunityState, "pick_platform", "nonsense")
    assert page.picker_platform != "nonsense"

    await tab.run(CommunityState, "toggle_chat", free, True)
    await tab.run(CommunityState, "attach")
    assert page.message.startswith("Attached 1 chats") and not page.picker_open
    assert [c.title for c in page.chats] == ["Free group"]

    await tab.run(CommunityState, "detach", free)
    assert page.message.startswith("Detached") and page.chats == []
    with session_scope() as session:
        chat = session.get(Chat, free)
        assert chat is not None and chat.community_id is None


async def test_refreshing_chats_needs_a_connection(people: People) -> None:
    tab = _page(people, "editor", _community())
    await tab.run(CommunityState, "load")
    await tab.run(CommunityState, "pick_connection", "999")
    await tab.run(CommunityState, "refresh_chats")
    assert (await tab.state(CommunityState)).dialog_error


async def test_only_an_admin_deletes_and_only_with_the_name_typed(people: People) -> None:
    community_id = _community()
    keep = _community("Keepers")
    editor = _page(people, "editor", community_id)
    await editor.run(CommunityState, "load")
    await editor.run(CommunityState, "confirm_delete", {"confirm": "Makers"})
    assert "admin role" in (await editor.state(CommunityState)).dialog_error

    admin = _page(people, "admin", community_id)
    await admin.run(CommunityState, "load")
    await admin.run(CommunityState, "open_delete")
    page = await admin.state(CommunityState)
    assert [c.name for c in page.move_choices] == ["Keepers"]
    await admin.run(CommunityState, "pick_move_to", str(keep))
    assert await admin.run(CommunityState, "confirm_delete", {"confirm": "makers?"}) == []
    assert page.dialog_error and page.delete_open
    events = await admin.run(CommunityState, "confirm_delete", {"confirm": "Makers"})
    assert redirect_target(events) == "/communities"
    with session_scope() as session:
        assert [c.name for c in communities.list_communities(session)] == ["Keepers"]


async def test_a_missing_community_and_the_tabs(people: People) -> None:
    tab = _page(people, "viewer", 4242)
    await tab.run(CommunityState, "load")
    page = await tab.state(CommunityState)
    assert page.missing
    await tab.run(CommunityState, "pick_tab", "settings")
    assert page.tab == "settings"
    await tab.run(CommunityState, "pick_tab", "<img>")
    assert page.tab == "chats"
    await tab.run(CommunityState, "open_picker")
    await tab.run(CommunityState, "on_dialog_change", False)
    assert not page.picker_open

"""The Broadcast pages' state against a real database: the composer keeps what was typed
and shows the service's refusals, viewers look but cannot send, and the report follows a
broadcast's targets."""

from __future__ import annotations

from sqlmodel import select

from engine.db import session_scope
from engine.models import BotInstance, BroadcastMessage, BroadcastStatus, Chat, Community
from engine.models.connections import ConnectorKind
from flowbot_ui.state.broadcasts import BroadcastsState, ComposerState, ReportState
from tests.ui_harness import People, Tab, names, redirect_target


def _audience() -> tuple[int, int]:
    """A community with a Telegram group and a Discord channel; (community id, chat id)."""
    with session_scope() as session:
        bot = BotInstance(name="bot", kind=ConnectorKind("telegram_bot"))
        community = Community(name="Makers")
        session.add_all([bot, community])
        session.flush()
        group = Chat(
            platform="telegram", platform_chat_id="-100", title="Makers group",
            bot_instance_id=bot.id, community_id=community.id,
        )  # fmt: skip
        session.add(group)
        session.flush()
        return community.id or 0, group.id or 0


def _broadcasts() -> list[BroadcastMessage]:
    with session_scope() as session:
        rows = list(session.exec(select(BroadcastMessage).order_by(BroadcastMessage.id)))
        for row in rows:
            session.expunge(row)
        return rows


async def test_the_composer_previews_and_resolves_the_chosen_chats(people: People) -> None:
    community_id, _ = _audience()
    tab = Tab(people.cookies["editor"], "/broadcast/new")
    events = await tab.run(ComposerState, "load")
    composer = await tab.state(ComposerState)
    assert names(events) == ["_call_script"]
    assert [o.name for o in composer.community_options] == ["Makers"]
    assert [c.title for c in composer.chat_results] == ["Makers group"]
    assert composer.target_summary == "No chats chosen yet"

    await tab.run(ComposerState, "set_text", "**Hello** makers")
    await tab.run(ComposerState, "toggle_community", str(community_id), True)
    assert composer.target_summary == "1 chat: 1 Telegram"
    assert "<b>Hello</b>" in composer.previews["telegram"]

    await tab.run(ComposerState, "add_button")
    await tab.run(ComposerState, "set_button", 0, "text", "Site")
    await tab.run(ComposerState, "set_button", 0, "url", "https://example.org")
    await tab.run(ComposerState, "set_button", 0, "role", "admin")  # not a button part
    assert [(b.text, b.url) for b in composer.buttons] == [("Site", "https://example.org")]

    await tab.run(ComposerState, "save_draft")
    assert composer.message.startswith("Draft saved")
    [saved] = _broadcasts()
    assert (saved.text, saved.status) == ("**Hello** makers", BroadcastStatus.draft)
    assert composer.draft_id == saved.id

    await tab.run(ComposerState, "set_title", "Second save")
    await tab.run(ComposerState, "save_draft")
    assert [b.title for b in _broadcasts()] == ["Second save"]  # the same draft, updated


async def test_a_refused_send_keeps_the_form_and_says_why(people: People) -> None:
    tab = Tab(people.cookies["editor"], "/broadcast/new")
    await tab.run(ComposerState, "load")
    await tab.run(ComposerState, "set_text", "Nobody to send to")
    assert await tab.run(ComposerState, "send_now") == []
    composer = await tab.state(ComposerState)
    assert composer.error and composer.text == "Nobody to send to"
    assert _broadcasts() == []

    await tab.run(ComposerState, "open_schedule")
    await tab.run(ComposerState, "schedule", {"at": "tomorrow-ish"})
    assert composer.dialog_error == "Pick the day and time it should go out."
    await tab.run(ComposerState, "on_dialog_change", False)
    assert (composer.schedule_open, composer.dialog_error) == (False, "")


async def test_sending_goes_to_the_report_which_shows_each_chat(people: People) -> None:
    community_id, _ = _audience()
    tab = Tab(people.cookies["editor"], "/broadcast/new")
    await tab.run(ComposerState, "load")
    await tab.run(ComposerState, "set_text", "Meeting at 6")
    await tab.run(ComposerState, "toggle_community", str(community_id), True)
    events = await tab.run(ComposerState, "send_now")
    [sent] = _broadcasts()
    assert redirect_target(events) == f"/broadcast/{sent.id}"
    assert sent.status == BroadcastStatus.sending

    report_tab = Tab(people.cookies["viewer"], f"/broadcast/{sent.id}", broadcast_ref=str(sent.id))
    events = await report_tab.run(ReportState, "load")
    report = await report_tab.state(ReportState)
    assert names(events) == ["_call_script", "watch"]
    assert (report.title, report.status, report.total, report.pending) == ("", "sending", 1, 1)
    assert report.unfinished and report.percent == 0
    assert [(t.title, t.status) for t in report.targets] == [("Makers group", "pending")]
    await report_tab.run(ReportState, "pick_target_status", "failed")
    assert report.targets == []

    await report_tab.run(ReportState, "cancel")  # a viewer's is refused
    assert "editor role" in report.error
    assert _broadcasts()[0].status == BroadcastStatus.sending

    editor_report = Tab(
        people.cookies["editor"], f"/broadcast/{sent.id}", broadcast_ref=str(sent.id)
    )
    await editor_report.run(ReportState, "load")
    await editor_report.run(ReportState, "cancel")
    shown = await editor_report.state(ReportState)
    assert shown.message.startswith("Cancelled") and shown.status == "cancelled"
    assert _broadcasts()[0].status == BroadcastStatus.cancelled


async def test_a_viewer_sees_the_history_but_cannot_save(people: People) -> None:
    tab = Tab(people.cookies["viewer"], "/broadcast/new")
    await tab.run(ComposerState, "load")
    await tab.run(ComposerState, "set_text", "from a viewer")
    await tab.run(ComposerState, "save_draft")
    composer = await tab.state(ComposerState)
    assert "editor role" in composer.error and _broadcasts() == []

    editor = Tab(people.cookies["editor"], "/broadcast/new")
    await editor.run(ComposerState, "load")
    await editor.run(ComposerState, "set_text", "Line one\nline two")
    await editor.run(ComposerState, "save_draft")

    history_tab = Tab(people.cookies["viewer"], "/broadcast")
    await history_tab.run(BroadcastsState, "load")
    await history_tab.run(BroadcastsState, "set_time_zone", "Europe/Berlin")
    history = await history_tab.state(BroadcastsState)
    assert history.time_zone == "Europe/Berlin"
    assert [(r.title, r.status, r.by) for r in history.rows] == [("Line one", "draft", "eddie")]
    await history_tab.run(BroadcastsState, "pick_status", "sent")
    assert history.rows == [] and history.status == "sent"
    await history_tab.run(BroadcastsState, "pick_status", "<script>")
    assert history.status == "all" and len(history.rows) == 1


async def test_a_missing_broadcast_is_shown_as_missing(people: People) -> None:
    tab = Tab(people.cookies["viewer"], "/broadcast/99/edit", broadcast_ref="99")
    await tab.run(ComposerState, "load")
    assert (await tab.state(ComposerState)).missing
    await tab.run(ReportState, "load")
    assert (await tab.state(ReportState)).missing


async def test_a_draft_with_overrides_is_scheduled_or_deleted(people: People) -> None:
    _, group = _audience()
    tab = Tab(people.cookies["editor"], "/broadcast/new")
    await tab.run(ComposerState, "load")
    composer = await tab.state(ComposerState)
    await tab.run(ComposerState, "set_text", "Hello all")
    await tab.run(ComposerState, "toggle_overrides")
    await tab.run(ComposerState, "set_override", "discord", "Hello Discord")
    await tab.run(ComposerState, "set_override", "fax", "ignored")
    assert composer.overrides_open and composer.overrides == {"discord": "Hello Discord"}
    await tab.run(ComposerState, "pick_preview", "discord")
    assert composer.preview_tab == "discord" and "Hello Discord" in composer.previews["discord"]
    await tab.run(ComposerState, "pick_preview", "myspace")
    assert composer.preview_tab == "telegram"
    await tab.run(ComposerState, "search_chats", "Makers")
    await tab.run(ComposerState, "toggle_chat", group, True)
    assert composer.chosen_chat_ids == [group] and composer.target_summary == "1 chat: 1 Telegram"
    await tab.run(ComposerState, "toggle_platform", "discord", True)
    await tab.run(ComposerState, "toggle_platform", "discord", False)
    await tab.run(ComposerState, "add_button")
    await tab.run(ComposerState, "remove_button", 0)
    assert composer.buttons == []

    await tab.run(ComposerState, "set_time_zone", "Europe/Berlin")
    events = await tab.run(ComposerState, "schedule", {"at": "2099-01-02T09:30"})
    [scheduled] = _broadcasts()
    assert redirect_target(events) == f"/broadcast/{scheduled.id}"
    assert scheduled.status == BroadcastStatus.scheduled
    assert scheduled.overrides == {"discord": "Hello Discord"}
    assert scheduled.scheduled_at is not None and scheduled.scheduled_at.hour == 8  # UTC

    draft = Tab(people.cookies["editor"], "/broadcast/new")
    await draft.run(ComposerState, "load")
    await draft.run(ComposerState, "set_text", "Never mind")
    await draft.run(ComposerState, "save_draft")
    mine = await draft.state(ComposerState)
    await draft.run(ComposerState, "open_delete")
    assert redirect_target(await draft.run(ComposerState, "delete")) == "/broadcast"
    assert [b.id for b in _broadcasts()] == [scheduled.id] and not mine.delete_open

"""The Scheduled page's state against a real database: a one-off and a repeating message
made in the dialog (the cron read back in words, a bad one said at once), the agenda by
day and by status, pause, resume and cancel, the delivery history, and a viewer's
refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from engine.db import session_scope
from engine.models import Chat, ScheduledMessage
from flowbot_ui.state.scheduled import ScheduledState
from tests.ui_harness import People, Tab, names


def _chat() -> int:
    with session_scope() as session:
        chat = Chat(platform="telegram", platform_chat_id="-100", title="Makers group")
        session.add(chat)
        session.flush()
        return chat.id or 0


def _stored() -> list[tuple[str, str, str | None]]:
    with session_scope() as session:
        rows = session.exec(select(ScheduledMessage).order_by(ScheduledMessage.id))
        return [(m.title, str(m.status), m.repeat_cron) for m in rows]


async def _page(people: People, role: str) -> tuple[Tab, ScheduledState]:
    tab = Tab(people.cookies[role], "/scheduled")
    assert names(await tab.run(ScheduledState, "load")) == ["_call_script", "watch"]
    await tab.run(ScheduledState, "set_time_zone", "UTC")
    return tab, await tab.state(ScheduledState)


async def test_a_one_off_and_a_repeating_message_are_scheduled(people: People) -> None:
    chat = _chat()
    tab, page = await _page(people, "editor")
    await tab.run(ScheduledState, "open_new")
    assert page.editor_open and [c.name for c in page.chat_choices] == ["Makers group · telegram"]
    await tab.run(ScheduledState, "set_chat", str(chat))
    soon = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    await tab.run(ScheduledState, "save", {"title": "Reminder", "text": "Meet at 6",
                                           "send_at": soon})  # fmt: skip
    assert (page.message, page.editor_open) == ("Scheduled.", False)
    assert [d.label for d in page.days] == ["Tomorrow"]
    assert page.days[0].messages[0].repeats == "Once"

    await tab.run(ScheduledState, "open_new")
    await tab.run(ScheduledState, "set_mode", "repeat")
    await tab.run(ScheduledState, "set_cron", "every day")
    assert page.cron_error and page.cron_runs == []
    await tab.run(ScheduledState, "set_zone", "Europe/Berlin")
    await tab.run(ScheduledState, "set_cron", "0 9 * * 1")
    assert page.cron_description and len(page.cron_runs) > 1 and not page.cron_error
    assert "(Europe/Berlin) · " in page.cron_runs[0]  # and in the viewer's own zone
    await tab.run(ScheduledState, "set_chat", str(chat))
    await tab.run(ScheduledState, "save", {"title": "Weekly", "text": "Week starts"})
    assert _stored() == [("Reminder", "pending", None), ("Weekly", "pending", "0 9 * * 1")]

    weekly = next(m for d in page.days for m in d.messages if m.title == "Weekly")
    await tab.run(ScheduledState, "open_edit", weekly.id)
    assert (page.f_mode, page.f_cron, page.f_zone) == ("repeat", "0 9 * * 1", "Europe/Berlin")
    await tab.run(ScheduledState, "save", {"title": "Weekly news", "text": "Week starts"})
    assert page.message == "Saved." and _stored()[1][0] == "Weekly news"


async def test_a_message_without_a_chat_or_text_is_refused_in_the_dialog(people: People) -> None:
    tab, page = await _page(people, "editor")
    await tab.run(ScheduledState, "open_new")
    await tab.run(ScheduledState, "save", {"title": "Nowhere", "text": "Hi"})
    assert page.dialog_error and page.editor_open and _stored() == []
    await tab.run(ScheduledState, "on_dialog_change", False)
    assert not page.editor_open and page.dialog_error == ""


async def test_pause_resume_cancel_and_the_views(people: People) -> None:
    chat = _chat()
    tab, page = await _page(people, "editor")
    await tab.run(ScheduledState, "open_new")
    await tab.run(ScheduledState, "set_chat", str(chat))
    await tab.run(ScheduledState, "set_mode", "repeat")
    await tab.run(ScheduledState, "set_cron", "0 9 * * *")
    await tab.run(ScheduledState, "save", {"title": "Daily", "text": "Morning"})
    [item] = page.days[0].messages

    await tab.run(ScheduledState, "pause", item.id)
    assert page.message == "Paused." and _stored()[0][1] == "paused"
    await tab.run(ScheduledState, "resume", item.id)
    assert page.message == "Resumed." and _stored()[0][1] == "pending"

    await tab.run(ScheduledState, "open_history", item.id)
    assert (page.history_open, page.history_title, page.history) == (True, "Daily", [])

    await tab.run(ScheduledState, "ask_cancel", item.id)
    await tab.run(ScheduledState, "confirm_cancel")
    assert (page.message, page.cancel_id) == ("Cancelled.", 0)
    assert _stored()[0][1] == "cancelled" and page.days == []
    await tab.run(ScheduledState, "set_view", "cancelled")
    assert [d.label for d in page.days] == ["Cancelled"]
    assert page.days[0].messages[0].title == "Daily"
    await tab.run(ScheduledState, "set_view", "bogus")
    assert page.view == "upcoming"


async def test_a_viewer_sees_the_agenda_but_changes_nothing(people: People) -> None:
    chat = _chat()
    editor, shown = await _page(people, "editor")
    await editor.run(ScheduledState, "open_new")
    await editor.run(ScheduledState, "set_chat", str(chat))
    soon = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    await editor.run(ScheduledState, "save", {"title": "Later", "text": "x", "send_at": soon})
    [item] = shown.days[0].messages

    tab, page = await _page(people, "viewer")
    assert [m.title for d in page.days for m in d.messages] == ["Later"]
    await tab.run(ScheduledState, "pause", item.id)
    assert "editor role" in page.error
    await tab.run(ScheduledState, "ask_cancel", item.id)
    await tab.run(ScheduledState, "confirm_cancel")
    assert "editor role" in page.dialog_error
    await tab.run(ScheduledState, "open_new")
    await tab.run(ScheduledState, "set_chat", str(chat))
    await tab.run(ScheduledState, "save", {"title": "Mine", "text": "x", "send_at": soon})
    assert "editor role" in page.dialog_error
    assert _stored() == [("Later", "pending", None)]

"""Scheduled messages as the page and the API change them: cron in words and its next
times, the target chat, edits of pending and paused messages only, pause and resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from engine.models import (
    AuditLog,
    BotInstance,
    Community,
    ConnectorKind,
    FlowDefinition,
    Role,
    ScheduledDelivery,
    ScheduledMessage,
    ScheduledStatus,
)
from engine.nodes.utility import as_utc
from engine.services import auth
from engine.services import scheduled_messages as scheduled
from engine.services.scheduled_messages import InvalidSchedule, NotChangeable, ScheduleFields
from flowbot_ui.state.scheduled import agenda_days
from tests.unit.test_community_service import chat, user

BERLIN = "Europe/Berlin"
LATER = datetime(2030, 1, 7, 9, 0)  # a Monday, naive: read in the message's time zone


def test_a_cron_in_words_and_its_next_times_in_its_zone() -> None:
    assert scheduled.describe_cron("0 9 * * MON") == "At 09:00 AM, only on Monday"
    # Berlin moves to summer time on 29 March 2026: 09:00 stays 09:00, one hour less UTC.
    runs = scheduled.next_runs("0 9 * * MON", BERLIN, after=datetime(2026, 3, 20, tzinfo=UTC))
    assert [r.astimezone(UTC).strftime("%m-%d %H:%M") for r in runs] == [
        "03-23 08:00",
        "03-30 07:00",
        "04-06 07:00",
        "04-13 07:00",
        "04-20 07:00",
    ]
    assert all(r.tzinfo is not None and r.strftime("%H:%M") == "09:00" for r in runs)


@pytest.mark.parametrize(
    ("cron", "zone", "problem"),
    [
        ("every monday", "UTC", "is not a cron schedule"),
        ("61 * * * *", "UTC", "is not a cron schedule"),
        ("0 9 * * * *", "UTC", "five fields"),
        ("0 9 * * MON", "Mars/Olympus", "Unknown time zone 'Mars/Olympus'"),
    ],
)
def test_a_bad_cron_or_zone_is_refused_in_words(cron: str, zone: str, problem: str) -> None:
    with pytest.raises(InvalidSchedule, match=problem):
        scheduled.next_runs(cron, zone)


def _world(session: Session) -> tuple[int, int, int]:
    """(bot instance, community, discovered chat) of a Telegram group in a community."""
    bot = BotInstance(name="Bot", kind=ConnectorKind.telegram_bot)
    community = Community(name="Club")
    session.add_all([bot, community])
    session.commit()
    group = chat(session, "telegram", "-100", "Club chat", bot_instance_id=bot.id,
                 community_id=community.id)  # fmt: skip
    return bot.id or 0, community.id or 0, group.id or 0


def test_an_editor_schedules_for_a_discovered_chat_in_its_time_zone(
    sqlite_session: Session,
) -> None:
    bot_id, community_id, chat_id = _world(sqlite_session)
    fields = ScheduleFields(title="Call", chat_id=chat_id, text="**Call**", send_at=LATER,
                            timezone=BERLIN)  # fmt: skip
    with pytest.raises(auth.PermissionDenied):
        scheduled.create(sqlite_session, user(sqlite_session, Role.viewer), fields)

    view = scheduled.create(sqlite_session, user(sqlite_session, Role.editor), fields)

    assert view.next_at == datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
    assert (view.status, view.repeats, view.chat_title, view.platform) == (
        "pending", "", "Club chat", "telegram",
    )  # fmt: skip
    row = sqlite_session.get(ScheduledMessage, view.scheduled_id)
    assert row and (row.bot_instance_id, row.community_id, row.chat_id) == (
        bot_id, community_id, "-100",
    )  # fmt: skip
    audit = sqlite_session.exec(select(AuditLog).where(AuditLog.target_type == "scheduled_message"))
    assert [a.action for a in audit] == ["scheduled_message_created"]


def test_a_past_time_a_missing_chat_no_time_or_too_long_a_text_is_refused(
    sqlite_session: Session,
) -> None:
    _, _, chat_id = _world(sqlite_session)
    channel = chat(sqlite_session, "discord", "c1", "general", type="text")
    editor = user(sqlite_session, Role.editor)
    refused = {
        "That time has passed": ScheduleFields(
            chat_id=chat_id, text="x", send_at=datetime(2020, 1, 1)
        ),
        "was never discovered": ScheduleFields(chat_id=999, text="x", send_at=LATER),
        "Give a time": ScheduleFields(chat_id=chat_id, text="x"),
        "too long: the Discord version is 2001 characters long; Discord takes at most 2000": (
            ScheduleFields(chat_id=channel.id, text="x" * 2001, send_at=LATER)
        ),
    }
    for problem, fields in refused.items():
        with pytest.raises(InvalidSchedule, match=problem):
            scheduled.create(sqlite_session, editor, fields)
    with pytest.raises(InvalidSchedule, match="chat_id: Pick the chat to post in"):
        scheduled.fields_from({"chat_id": None, "text": "x", "send_at": LATER})
    with pytest.raises(InvalidSchedule, match="repeat_cron: .* is not a cron schedule"):
        scheduled.fields_from({"chat_id": chat_id, "text": "x", "repeat_cron": "daily"})


def test_edits_keep_or_replace_the_schedule_and_only_upcoming_messages_change(
    sqlite_session: Session,
) -> None:
    _, _, chat_id = _world(sqlite_session)
    editor = user(sqlite_session, Role.editor)
    made = scheduled.create(sqlite_session, editor, ScheduleFields(chat_id=chat_id, text="a",
                                                                    send_at=LATER))  # fmt: skip
    sid = made.scheduled_id

    renamed = scheduled.update(sqlite_session, editor, sid, {"text": "b", "title": "New"})
    assert (renamed.text, renamed.title, renamed.next_at) == ("b", "New", made.next_at)

    weekly = scheduled.update(
        sqlite_session, editor, sid, {"repeat_cron": "0 9 * * MON", "timezone": BERLIN}
    )
    assert weekly.repeats == "At 09:00 AM, only on Monday"
    assert weekly.next_at.astimezone(scheduled.zone(BERLIN)).strftime("%a %H:%M") == "Mon 09:00"

    once = scheduled.update(sqlite_session, editor, sid, {"send_at": LATER + timedelta(days=1)})
    assert once.repeat_cron is None and once.next_at == datetime(2030, 1, 8, 8, 0, tzinfo=UTC)

    with pytest.raises(InvalidSchedule, match="not a cron schedule"):
        scheduled.update(sqlite_session, editor, sid, {"repeat_cron": "soon"})
    scheduled.pause(sqlite_session, editor, sid)
    assert scheduled.update(sqlite_session, editor, sid, {"text": "c"}).status == "paused"
    scheduled.cancel(sqlite_session, editor, sid)
    with pytest.raises(NotChangeable, match="cancelled"):
        scheduled.update(sqlite_session, editor, sid, {"text": "d"})


def test_pause_keeps_the_time_and_resume_skips_passed_repetitions(
    sqlite_session: Session,
) -> None:
    _, _, chat_id = _world(sqlite_session)
    editor = user(sqlite_session, Role.editor)
    weekly = scheduled.create(
        sqlite_session, editor,
        ScheduleFields(chat_id=chat_id, text="w", repeat_cron="0 9 * * MON", timezone=BERLIN),
    )  # fmt: skip
    once = scheduled.create(
        sqlite_session, editor, ScheduleFields(chat_id=chat_id, text="o", send_at=LATER)
    )
    for view in (weekly, once):
        paused = scheduled.pause(sqlite_session, editor, view.scheduled_id)
        assert (paused.status, paused.next_at) == ("paused", view.next_at)
        with pytest.raises(NotChangeable, match="paused, not pending"):
            scheduled.pause(sqlite_session, editor, view.scheduled_id)

    # Resumed weeks after the weekly one's time: the next Monday after then, not a burst.
    much_later = max(weekly.next_at, once.next_at) + timedelta(days=20)
    resumed = scheduled.resume(sqlite_session, editor, weekly.scheduled_id, now=much_later)
    assert resumed.status == "pending" and resumed.next_at > much_later
    assert resumed.next_at - much_later <= timedelta(days=7)
    assert resumed.next_at.astimezone(scheduled.zone(BERLIN)).strftime("%a %H:%M") == "Mon 09:00"
    # A one-off keeps its passed time: the next sweep sends it.
    late = scheduled.resume(sqlite_session, editor, once.scheduled_id, now=much_later)
    assert (late.status, late.next_at) == ("pending", once.next_at)

    scheduled.cancel(sqlite_session, editor, once.scheduled_id)
    with pytest.raises(NotChangeable):
        scheduled.resume(sqlite_session, editor, once.scheduled_id)
    with pytest.raises(auth.PermissionDenied):
        scheduled.pause(sqlite_session, user(sqlite_session, Role.viewer), weekly.scheduled_id)


def test_the_agenda_is_upcoming_by_next_time_and_names_the_flow_that_scheduled(
    sqlite_session: Session,
) -> None:
    bot_id, community_id, chat_id = _world(sqlite_session)
    editor = user(sqlite_session, Role.editor)
    flow = FlowDefinition(name="Reminders")
    sqlite_session.add(flow)
    sqlite_session.commit()
    later = scheduled.create(sqlite_session, editor, ScheduleFields(chat_id=chat_id, text="2",
                                                                     send_at=LATER))  # fmt: skip
    by_flow = scheduled.create_for_flow(
        sqlite_session, flow.id, platform="telegram", bot_instance_id=bot_id, chat_id="-100",
        community_id=community_id, text="1", media_url=None,
        send_at=datetime(2029, 5, 1, tzinfo=UTC), repeat_cron=None, timezone="UTC",
    )  # fmt: skip
    gone = scheduled.create(sqlite_session, editor, ScheduleFields(chat_id=chat_id, text="3",
                                                                    send_at=LATER))  # fmt: skip
    scheduled.cancel(sqlite_session, editor, gone.scheduled_id)

    upcoming = scheduled.agenda(sqlite_session)
    assert [v.text for v in upcoming] == ["1", "2"]
    assert (upcoming[0].flow_id, upcoming[0].flow_name, upcoming[0].chat_id) == (
        flow.id, "Reminders", chat_id,
    )  # fmt: skip
    cancelled = scheduled.agenda(sqlite_session, status=ScheduledStatus.cancelled)
    assert [v.scheduled_id for v in cancelled] == [gone.scheduled_id]
    assert scheduled.agenda(sqlite_session, community_id=community_id + 1) == []
    assert [v.scheduled_id for v in scheduled.page(sqlite_session, 2)] == [
        gone.scheduled_id, by_flow.id,
    ]  # fmt: skip
    assert [v.scheduled_id for v in scheduled.page(sqlite_session, 5, before=by_flow.id)] == [
        later.scheduled_id
    ]


def test_deliveries_newest_first(sqlite_session: Session) -> None:
    _, _, chat_id = _world(sqlite_session)
    hourly = ScheduleFields(chat_id=chat_id, text="x", repeat_cron="0 * * * *")
    made = scheduled.create(sqlite_session, user(sqlite_session, Role.editor), hourly)
    due, sid = datetime(2030, 1, 1, 9, tzinfo=UTC), made.scheduled_id
    sqlite_session.add_all([
        ScheduledDelivery(scheduled_message_id=sid, due_at=due, platform_message_id="5"),
        ScheduledDelivery(scheduled_message_id=sid, due_at=due + timedelta(hours=1), ok=False,
                          error="Forbidden: bot was kicked"),
    ])  # fmt: skip
    sqlite_session.commit()
    rows = scheduled.deliveries(sqlite_session, made.scheduled_id)
    assert [(as_utc(r.due_at), r.ok, r.error, r.platform_message_id) for r in rows] == [
        (due + timedelta(hours=1), False, "Forbidden: bot was kicked", None),
        (due, True, None, "5"),
    ]
    with pytest.raises(scheduled.ScheduledNotFound):
        scheduled.deliveries(sqlite_session, 999)


def test_the_page_groups_the_agenda_by_day_in_the_viewers_zone(sqlite_session: Session) -> None:
    _, _, chat_id = _world(sqlite_session)
    editor = user(sqlite_session, Role.editor)
    tokyo = scheduled.zone("Asia/Tokyo")
    for text, when in [("b", "2030-01-07T23:30:00"), ("a", "2030-01-07T10:00:00"),
                       ("c", "2030-01-08T00:30:00"), ("d", "2030-01-10T09:00:00")]:  # fmt: skip
        fields = ScheduleFields(chat_id=chat_id, text=text, send_at=when, timezone="Asia/Tokyo")
        scheduled.create(sqlite_session, editor, fields)
    now = datetime(2030, 1, 7, 12, 0, tzinfo=tokyo)

    days = agenda_days(scheduled.agenda(sqlite_session), tokyo, now)

    # "a" is already past in Tokyo (a one-off resumed late): under Today, for the next sweep.
    assert [(d.label, [(m.preview, m.time) for m in d.messages]) for d in days] == [
        ("Today", [("a", "10:00"), ("b", "23:30")]),
        ("Tomorrow", [("c", "00:30")]),
        ("Thu 10 Jan 2030", [("d", "09:00")]),
    ]
    in_utc = agenda_days(scheduled.agenda(sqlite_session), scheduled.zone("UTC"), now)
    # In UTC it is 03:00 on the 7th: a, b and c fall on that day, d just after midnight.
    assert [(d.label, len(d.messages)) for d in in_utc] == [("Today", 3), ("Thu 10 Jan 2030", 1)]

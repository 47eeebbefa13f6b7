"""The moderation log and overview read back what moderation wrote, on both databases."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from engine.models import (
    AdminUser,
    Community,
    ModerationAction,
    Role,
)
from engine.services import auth, moderation_log
from engine.services.moderation_log import CommunityNotFound, InvalidFilter, LogFilters
from tests.moderation_world import World, ok, refused

NOW = datetime(2030, 3, 15, 12, 0, tzinfo=UTC)
VIEWER = AdminUser(username="victor", role=Role.viewer, password_hash="")


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def entries(session: Session, **filters: object) -> list[int]:
    found = moderation_log.log_entries(session, VIEWER, LogFilters(**filters), limit=50)
    return [e.log_id for e in found]


def test_the_log_filters_newest_first(world: World, session: Session) -> None:
    hour = timedelta(hours=1)
    a = world.log(world.cats, ModerationAction.warn, world.ann_tg, NOW, actor="rules:antilink")
    b = world.log(world.cats, ModerationAction.ban, world.ann_dc, NOW + hour, reason="raid")
    c = world.log(world.dogs, ModerationAction.mute, world.bob, NOW + 2 * hour, actor="flow:7")
    d = world.log(None, ModerationAction.note, None, NOW + 3 * hour)
    ids = [x.id for x in (a, b, c, d)]
    assert entries(session) == ids[::-1]
    assert entries(session, community_id=world.cats.id) == [b.id, a.id]
    assert entries(session, platform="telegram") == [c.id, a.id]
    assert entries(session, action="ban") == [b.id]
    assert entries(session, actor="rules:antilink") == [a.id]
    assert entries(session, account_id=world.bob.id) == [c.id]
    # Search by name, @username or platform id; LIKE wildcards are plain characters.
    assert entries(session, member="ann") == [b.id, a.id]
    assert entries(session, member="@bobby") == [c.id]
    assert entries(session, member="300") == [c.id]
    assert entries(session, member="%") == []
    assert entries(session, since=NOW + hour, until=NOW + 3 * hour) == [c.id, b.id]
    # A naive time is UTC.
    assert entries(session, since=(NOW + 2 * hour).replace(tzinfo=None)) == [d.id, c.id]


def test_keyset_pages_and_rows(world: World, session: Session) -> None:
    made = [
        world.log(world.cats, ModerationAction.kick, world.bob, NOW + timedelta(minutes=n))
        for n in range(5)
    ]
    first = moderation_log.log_entries(session, VIEWER, LogFilters(), limit=2)
    rest = moderation_log.log_entries(
        session, VIEWER, LogFilters(), limit=10, before=first[-1].log_id
    )
    assert [e.log_id for e in first + rest] == [m.id for m in reversed(made)]
    row = first[0]
    assert (row.community_name, row.action, row.platform) == ("Cats", "kick", "telegram")
    assert (row.target_name, row.actor, row.created_at) == (
        "@bobby",
        "ada",
        NOW + timedelta(minutes=4),
    )


def test_results_per_target(world: World, session: Session) -> None:
    both = [ok("telegram", "-1001"), ok("discord", "42")]
    world.log(world.cats, ModerationAction.ban, world.ann_tg, NOW, results=both)
    mixed = [ok("telegram", "-1001"), refused("discord", "42", "Missing Permissions")]
    world.log(world.cats, ModerationAction.ban, world.ann_tg, NOW, results=mixed)
    world.log(world.cats, ModerationAction.ban, world.ann_tg, NOW, results=mixed[1:])
    world.log(world.cats, ModerationAction.warn, world.ann_tg, NOW)
    unsupported = {**refused("whatsapp", "g1@g.us", "WhatsApp cannot mute"), "skipped": True}
    world.log(world.cats, ModerationAction.mute, world.ann_tg, NOW, results=[unsupported])
    world.log(world.cats, ModerationAction.mute, world.ann_tg, NOW, results=[*both, unsupported])
    found = moderation_log.log_entries(session, VIEWER, LogFilters(), limit=10)
    assert [e.result for e in found] == ["ok", "skipped", "", "failed", "partial", "ok"]
    assert found[0].targets[2].summary == "skipped (WhatsApp cannot mute)"
    assert found[3].targets[0].error == "Missing Permissions" and not found[3].targets[0].ok


def test_refusals(world: World, session: Session) -> None:
    with pytest.raises(CommunityNotFound, match="Community 999 does not exist"):
        entries(session, community_id=999)
    with pytest.raises(InvalidFilter, match="Unknown platform 'icq'"):
        entries(session, platform="icq")
    with pytest.raises(InvalidFilter, match="Unknown action 'smite'"):
        entries(session, action="smite")
    with pytest.raises(InvalidFilter, match="ends before it starts"):
        entries(session, since=NOW, until=NOW)
    with pytest.raises(InvalidFilter, match="at most"):
        entries(session, member="x" * 200)
    with pytest.raises(CommunityNotFound):
        moderation_log.overview(session, VIEWER, 999)
    gone = AdminUser(username="gone", role=Role.admin, password_hash="", is_active=False)
    with pytest.raises(auth.PermissionDenied):
        moderation_log.log_entries(session, gone, LogFilters(), limit=1)
    with pytest.raises(auth.PermissionDenied):
        moderation_log.overview(session, gone)


def read_csv(session: Session, filters: LogFilters) -> list[list[str]]:
    text, before = moderation_log.csv_chunk(session, VIEWER, filters)
    while before is not None:
        more, before = moderation_log.csv_chunk(session, VIEWER, filters, before=before)
        text += more
    return list(csv.reader(io.StringIO(text)))


def test_csv_is_chunked_and_never_a_formula(
    world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moderation_log, "CSV_BATCH", 2)
    reasons = ['=HYPERLINK("http://evil")', "+1", "-2", "@SUM(A1)", "\tx", "plain, with comma"]
    for n, reason in enumerate(reasons):
        world.log(
            world.cats,
            ModerationAction.mute,
            world.eve,
            NOW + timedelta(minutes=n),
            reason=reason,
            results=[refused("whatsapp", "g1@g.us", "not an admin")],
        )
    rows = read_csv(session, LogFilters(community_id=world.cats.id))
    assert rows[0] == list(moderation_log.CSV_HEADER)
    body = rows[1:]
    assert len(body) == len(reasons)  # every chunk, the header once
    column = moderation_log.CSV_HEADER.index
    assert [r[column("reason")] for r in body] == [
        "plain, with comma",
        "'\tx",
        "'@SUM(A1)",
        "'-2",
        "'+1",
        '\'=HYPERLINK("http://evil")',
    ]
    first = body[0]
    assert first[column("target")] == "'=cmd|' /C calc'!A0"
    assert first[column("result")] == "failed"
    assert first[column("targets")] == "whatsapp g1@g.us: failed (not an admin)"
    assert first[column("time (UTC)")] == "2030-03-15 12:05:00"
    assert read_csv(session, LogFilters(action="ban")) == [list(moderation_log.CSV_HEADER)]


def test_safe_cell() -> None:
    assert moderation_log.safe_cell("=1+1") == "'=1+1"
    assert moderation_log.safe_cell("a=1") == "a=1"
    assert moderation_log.safe_cell(-3) == "'-3"
    assert moderation_log.safe_cell(None) == ""


def test_overview(world: World, session: Session) -> None:
    today, day = NOW, timedelta(days=1)
    # Warnings: Ann on both platforms (counted together), Bob once; one revoked, one expired.
    world.warn(world.cats, world.ann_tg, today)
    world.warn(world.cats, world.ann_dc, today - day)
    world.warn(world.cats, world.ann_dc, today - day)
    world.warn(world.cats, world.bob, today.replace(hour=0, minute=0))
    world.warn(world.cats, world.bob, today, revoked=True)
    world.warn(world.cats, world.bob, today - 40 * day, expires=today - day)
    world.warn(world.dogs, world.bob, today - 2 * day)
    world.log(world.cats, ModerationAction.mute, world.ann_tg, today - day)
    world.log(world.cats, ModerationAction.ban, world.ann_dc, today)
    world.log(world.cats, ModerationAction.kick, world.bob, today.replace(hour=23, minute=59))
    world.log(world.cats, ModerationAction.ban, world.bob, today - 30 * day)  # before the window
    world.log(world.dogs, ModerationAction.ban, world.bob, today - 2 * day)
    world.log(world.cats, ModerationAction.warn, world.bob, today)
    session.commit()

    cats = moderation_log.overview(session, VIEWER, world.cats.id, now=NOW)
    assert len(cats.days) == 30 and cats.days[-1].day == date(2030, 3, 15)
    assert cats.since == datetime(2030, 2, 14, tzinfo=UTC)
    by_day = {d.day: d for d in cats.days if d != moderation_log.DayCount(day=d.day)}
    assert by_day == {
        date(2030, 3, 14): moderation_log.DayCount(date(2030, 3, 14), warnings=2, mutes=1),
        date(2030, 3, 15): moderation_log.DayCount(date(2030, 3, 15), warnings=3, kicks=1, bans=1),
    }
    assert (cats.warnings, cats.bans, cats.actions) == (5, 1, 4)
    assert cats.by_action == {"ban": 1, "kick": 1, "mute": 1, "warn": 1}
    assert cats.by_platform == {"telegram": 3, "discord": 1}
    [ann, bob] = cats.offenders
    assert (ann.name, ann.identity_id, ann.platforms, ann.accounts) == (
        "Ann",
        world.ann_tg.identity_id,
        ("discord", "telegram"),
        2,
    )
    assert (ann.active_warnings, ann.sanctions, ann.account_id) == (3, 2, world.ann_dc.id)
    assert (bob.name, bob.active_warnings, bob.sanctions, bob.accounts) == ("@bobby", 1, 1, 1)
    assert [e.action for e in cats.recent] == ["warn", "ban", "kick", "ban", "mute"]

    everything = moderation_log.overview(session, VIEWER, now=NOW)
    assert everything.community_id is None and everything.bans == 2
    assert {o.name: o.active_warnings for o in everything.offenders} == {"Ann": 3, "@bobby": 2}
    assert everything.days[-3].warnings == 1  # Dogs' warning two days ago

    birds = Community(name="Birds")
    session.add(birds)
    session.flush()
    empty = moderation_log.overview(session, VIEWER, birds.id, now=NOW)
    assert (empty.offenders, empty.by_action, empty.warnings) == ([], {}, 0)


def test_pickers(world: World, session: Session) -> None:
    world.log(world.cats, ModerationAction.warn, world.bob, NOW, actor="rules:antiflood")
    world.log(world.dogs, ModerationAction.ban, world.bob, NOW, actor="ada")
    assert moderation_log.community_choices(session, VIEWER) == [
        (world.cats.id, "Cats"),
        (world.dogs.id, "Dogs"),
    ]
    assert moderation_log.actor_choices(session, VIEWER) == ["ada", "rules:antiflood"]
    assert moderation_log.actor_choices(session, VIEWER, world.dogs.id) == ["ada"]

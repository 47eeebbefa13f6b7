"""Reputation: adjustments with their history, earning rules on replies, daily caps."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from aiogram.types import Update
from sqlmodel import Session, select

from connectors.telegram_bot.mapper import map_update
from engine.community_rules import parse_rules
from engine.db import session_scope
from engine.models import (
    AuditLog,
    Community,
    Platform,
    PlatformAccount,
    ReputationEvent,
    ReputationScore,
    Role,
    UserIdentity,
    utcnow,
)
from engine.platform_event import EventChat, EventUser, PlatformEvent
from engine.services import auth, reputation
from engine.services.reputation import InvalidAdjustment
from tests.fakes import DISCORD_CHANNEL_ID as CHANNEL
from tests.fakes import telegram_objects as tg
from tests.flow_helpers import make_admin
from tests.unit.test_discord_mapper import Running, instance_id, running  # noqa: F401 - fixtures

THANKS = {"reputation": {"earning": [{"keywords": ["thanks", "спасибо", "thank you"]}]}}


def community(session: Session, name: str = "Chess") -> int:
    row = Community(name=name)
    session.add(row)
    session.flush()
    return row.id or 0


def account(session: Session, platform: str, uid: str, **extra: Any) -> int:
    row = PlatformAccount(platform=Platform(platform), platform_user_id=uid, **extra)
    session.add(row)
    session.flush()
    return row.id or 0


def reply(
    text: str,
    *,
    author: str = "1",
    to: dict[str, Any] | None = None,
    platform: str = "telegram",
    author_is_bot: bool = False,
) -> PlatformEvent:
    return PlatformEvent(
        event_id=f"e-{text}-{author}",
        kind="tg_message",
        platform=platform,
        chat=EventChat(id="-100", type="supergroup"),
        user=EventUser(id=author, display_name="Giver", is_bot=author_is_bot),
        text=text,
        reply_to_message_id="5",
        data={"reply_to_user": to if to is not None else {"id": "2", "display_name": "Helper"}},
    )


def scores(session: Session, community_id: int) -> dict[str, tuple[int, int, int]]:
    rows = session.exec(
        select(PlatformAccount.platform_user_id, ReputationScore)
        .join(ReputationScore, ReputationScore.platform_account_id == PlatformAccount.id)
        .where(ReputationScore.community_id == community_id)
    ).all()
    return {uid: (s.score, s.given_up, s.given_down) for uid, s in rows}


def test_adjust_writes_the_event_and_the_score_together(session: Session) -> None:
    chess = community(session)
    alex, bo = account(session, "telegram", "1"), account(session, "telegram", "2")
    assert reputation.adjust(session, "flow:3", chess, alex, 5, "good answer") == 5
    assert reputation.adjust(session, "flow:3", chess, alex, -2, "off topic") == 3
    assert reputation.adjust(session, "flow:3", chess, bo, 1, "ok", giver_account_id=alex) == 1
    assert scores(session, chess) == {"1": (3, 1, 0), "2": (1, 0, 0)}
    events = session.exec(select(ReputationEvent).order_by(ReputationEvent.id)).all()
    assert [(e.delta, e.reason, e.actor, e.rule) for e in events] == [
        (5, "good answer", "flow:3", None),
        (-2, "off topic", "flow:3", None),
        (1, "ok", "flow:3", None),
    ]
    assert reputation.score_of(session, [alex, bo]) == 4


def test_manual_adjustments_need_an_editor_and_a_reason(session: Session) -> None:
    admin = make_admin()  # its own transaction: before this one writes
    viewer = auth.create_user(session, "vic", "a-long-password", Role.viewer, actor=admin)
    editor = auth.create_user(session, "eve", "a-long-password", Role.editor, actor=admin)
    chess = community(session)
    alex = account(session, "discord", "9")
    with pytest.raises(auth.PermissionDenied):
        reputation.adjust_manually(session, viewer, chess, alex, 1, "nice")
    for delta, reason, message in [
        (1, "  ", "reason"),
        (0, "x", "not 0"),
        (1001, "x", "between"),
        (1, "x" * 501, "under"),
    ]:
        with pytest.raises(InvalidAdjustment, match=message):
            reputation.adjust_manually(session, editor, chess, alex, delta, reason)
    with pytest.raises(reputation.ReputationNotFound):
        reputation.adjust_manually(session, editor, chess + 100, alex, 1, "x")
    assert reputation.adjust_manually(session, editor, chess, alex, 4, " helped ") == 4
    [event] = session.exec(select(ReputationEvent)).all()
    assert (event.actor, event.reason) == ("user:eve", "helped")
    assert session.exec(select(AuditLog).where(AuditLog.action == "reputation_adjusted")).one()


def test_earning_gives_points_to_the_replied_to_member(session: Session) -> None:
    chess = community(session)
    giver = account(session, "telegram", "1")
    rules = parse_rules(THANKS)
    given = reputation.earn(session, chess, reply("Thanks a lot!"), rules)
    assert [(g["rule"], g["points"], g["score"]) for g in given] == [(0, 1, 1)]
    receiver = session.exec(
        select(PlatformAccount).where(PlatformAccount.platform_user_id == "2")
    ).one()  # recorded when first replied to
    assert receiver.display_name == "Helper" and given[0]["account_id"] == receiver.id
    assert reputation.earn(session, chess, reply("СПАСИБО, друг"), rules)
    assert reputation.earn(session, chess, reply("oh, thank   you"), rules) == []
    assert reputation.earn(session, chess, reply("thank you!"), rules)
    assert scores(session, chess) == {"1": (0, 3, 0), "2": (3, 0, 0)}
    [event, *_] = session.exec(select(ReputationEvent)).all()
    assert (event.actor, event.rule, event.reason) == (
        "rules:reputation",
        "0",
        "reply containing “Thanks”",
    )
    assert giver


@pytest.mark.parametrize(
    "event",
    [
        reply("thanksgiving is near"),  # not a whole word
        reply("no keyword here"),
        reply("thanks", author="2"),  # to oneself
        reply("thanks", to={"id": "2", "is_bot": True}),  # to a bot
        reply("thanks", author_is_bot=True),  # from a bot
        reply("thanks", to={}),  # not a reply to anyone known
    ],
)
def test_earning_ignores(sqlite_session: Session, event: PlatformEvent) -> None:
    chess = community(sqlite_session)
    assert reputation.earn(sqlite_session, chess, event, parse_rules(THANKS)) == []
    assert sqlite_session.exec(select(ReputationEvent)).all() == []


def test_earning_respects_the_switch_and_platform_overrides(sqlite_session: Session) -> None:
    chess = community(sqlite_session)
    off = parse_rules({**THANKS, "overrides": {"discord": {"reputation": {"enabled": False}}}})
    assert reputation.earn(sqlite_session, chess, reply("thanks", platform="discord"), off) == []
    assert reputation.earn(sqlite_session, chess, reply("thanks"), off)


def test_daily_cap_counts_the_days_events_per_receiver_and_rule(session: Session) -> None:
    chess, go = community(session), community(session, "Go")
    rules = parse_rules(
        {
            "reputation": {
                "earning": [
                    {"keywords": ["thanks"], "points": 1, "daily_cap": 2},
                    {"keywords": ["great"], "points": 3, "daily_cap": 1},
                ]
            }
        }
    )
    receiver = account(session, "telegram", "2")
    session.add(  # yesterday's do not count
        ReputationEvent(
            community_id=chess, platform_account_id=receiver, delta=1, rule="0",
            created_at=utcnow() - timedelta(days=1),
        )
    )  # fmt: skip
    given = [reputation.earn(session, chess, reply(f"thanks {n}"), rules) for n in range(4)]
    assert [len(g) for g in given] == [1, 1, 0, 0]
    both = reputation.earn(session, chess, reply("great, thanks"), rules)
    assert [g["rule"] for g in both] == [1]
    assert reputation.earn(session, go, reply("thanks"), rules)  # another community's cap
    other = reply("thanks", to={"id": "3"})
    assert reputation.earn(session, chess, other, rules)  # another receiver's cap
    assert scores(session, chess)["2"][0] == 2 + 3  # the inserted old event is history only


def test_leaderboard_sums_a_persons_linked_accounts(session: Session) -> None:
    chess, go = community(session), community(session, "Go")
    person = UserIdentity(display_name="Alex")
    session.add(person)
    session.flush()
    tg = account(session, "telegram", "1", identity_id=person.id, display_name="a_tg")
    dc = account(session, "discord", "2", identity_id=person.id, display_name="a_dc")
    bo = account(session, "telegram", "3", display_name="Bo")
    bot = account(session, "telegram", "4", display_name="Bot", is_bot=True)
    for where, who, delta in [(chess, tg, 2), (chess, dc, 2), (chess, bo, 3), (go, bo, 2)]:
        reputation.adjust(session, "test", where, who, delta, "")
    reputation.adjust(session, "test", chess, bot, 50, "")
    board = reputation.leaderboard(session, chess)
    assert [(x.rank, x.name, x.score, x.identity_id) for x in board] == [
        (1, "Alex", 4, person.id),
        (2, "Bo", 3, None),
    ]
    assert [a.platform for a in board[0].accounts] == ["telegram", "discord"]
    overall = reputation.leaderboard(session, None, limit=1)
    assert [(x.name, x.score) for x in overall] == [("Bo", 5)]
    history = reputation.history(session, 10, identity_id=person.id)
    assert [h.account_id for h in history] == [dc, tg]


# --- the connectors name the replied-to user ---------------------------------------------------


def test_a_telegram_reply_earns_through_the_mapper(sqlite_session: Session) -> None:
    """From the Bot API update as aiogram parses it to the points, nothing hand-built."""
    chess = community(sqlite_session)
    group = tg.chat(-1001234567890, title="Chess")
    helper = tg.user(42, first_name="Helga", username="helga")
    asker = tg.user(7, first_name="Ada")
    question = tg.message(10, group, from_user=helper, text="Try e4")
    update = {
        "update_id": 1,
        "message": tg.message(11, group, from_user=asker, text="Danke!", reply_to_message=question),
    }
    [event] = map_update(Update.model_validate(update), instance_id=1, bot_username="bot")
    assert event.data["reply_to_user"]["id"] == "42"
    given = reputation.earn(sqlite_session, chess, event, parse_rules({}))  # default keywords
    assert [g["points"] for g in given] == [1]
    topic_opening = tg.message(
        3, group, from_user=helper, forum_topic_created={"name": "Openings", "icon_color": 1}
    )
    in_topic = {
        "update_id": 2,
        "message": tg.message(
            12, group, from_user=asker, text="thanks", reply_to_message=topic_opening
        ),
    }
    [event] = map_update(Update.model_validate(in_topic), instance_id=1, bot_username="bot")
    assert "reply_to_user" not in event.data  # a topic's messages answer no one


async def test_a_discord_reply_names_the_replied_to_author(running: Running) -> None:  # noqa: F811
    question = running.fake.user_message("Which opening?", user_id="5550001")
    answer = running.fake.user_message(
        "thanks!",
        message_reference={"type": 0, "message_id": question["id"], "channel_id": CHANNEL},
        referenced_message=question,
        type=19,
    )
    await running.fake.dispatch("MESSAGE_CREATE", answer)
    event = await running.next_event()
    assert event.reply_to_message_id == question["id"]
    assert event.data["reply_to_user"]["id"] == "5550001"
    assert event.data["reply_to_user"]["is_bot"] is False


def test_workers_crediting_one_member_at_once_never_overshoot_the_cap(session: Session) -> None:
    """Eight workers thank the same member at the same moment, each in its own transaction:
    the score row is locked before the day's events are counted, so the cap of 3 holds."""
    chess = community(session)
    session.commit()
    rules = parse_rules({"reputation": {"earning": [{"keywords": ["thanks"], "daily_cap": 3}]}})
    start = threading.Barrier(8)

    def thank(n: int) -> None:
        start.wait()
        with session_scope() as own:
            reputation.earn(own, chess, reply("thanks", author=str(100 + n)), rules)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(thank, range(8)))
    session.expire_all()
    assert len(session.exec(select(ReputationEvent)).all()) == 3
    assert scores(session, chess)["2"][0] == 3

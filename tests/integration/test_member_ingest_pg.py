"""Workers observing at the same moment (threads released together, each in its own
session), on SQLite and PostgreSQL (the ``session`` fixture): one row per chat, account and
member, every message counted, one event counted once, no deadlock between group changes;
and end to end from the fake Telegram through the connector and route_event."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select

from engine.db import session_scope
from engine.models import Chat, Community, CommunityMember, PlatformAccount
from engine.models.connections import ConnectorKind
from engine.platform_event import EventChat, EventUser, PlatformEvent
from engine.services.member_ingest import ObservedEvent, observe
from tests.fakes import TELEGRAM_CHAT_ID, TELEGRAM_USER_ID, FakeTelegramBotAPI
from tests.integration.supervised import supervised_instance

WORKERS = 8
GROUP = EventChat(id="-100777", type="supergroup", title="Busy group")
WA_GROUP = EventChat(id="1203@g.us", type="group", title="Street")
PEOPLE = [EventUser(id=str(1000 + n), first_name=f"Person {n}") for n in range(4)]


def race(work: Callable[[int], Any], workers: int = WORKERS) -> list[Any]:
    """Run ``work(n)`` in ``workers`` threads released together; their results."""
    start = threading.Barrier(workers)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            results.append(work(n))
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == workers
    return results


def observed(item: PlatformEvent) -> ObservedEvent:
    with session_scope() as session:
        return observe(session, item)


def message(event_id: str, user: EventUser, chat: EventChat = GROUP) -> PlatformEvent:
    kind = "wa_group_message" if chat is WA_GROUP else "tg_message"
    platform = "whatsapp" if chat is WA_GROUP else "telegram"
    return PlatformEvent(
        event_id=event_id, kind=kind, platform=platform, chat=chat, user=user, text="hi"
    )


def attach(session: Session, platform_chat_id: str) -> int:
    community = Community(name="Busy")
    session.add(community)
    session.flush()
    chat = session.exec(select(Chat).where(Chat.platform_chat_id == platform_chat_id)).one()
    chat.community_id = community.id
    session.commit()
    assert community.id is not None
    return community.id


def test_first_sight_of_a_chat_and_its_people_at_once_makes_one_row_each(
    session: Session,
) -> None:
    results = race(lambda n: observed(message(f"first:{n}", PEOPLE[n % len(PEOPLE)])))
    chats = session.exec(select(Chat)).all()
    assert len(chats) == 1
    assert {r.chat_id for r in results} == {chats[0].id}
    assert sum(r.first_seen_chat for r in results) == 1
    accounts = session.exec(select(PlatformAccount)).all()
    assert sorted(a.platform_user_id for a in accounts) == [p.id for p in PEOPLE]


def test_messages_at_once_are_all_counted_and_one_event_only_once(session: Session) -> None:
    observed(message("hello", PEOPLE[0]))
    community_id = attach(session, GROUP.id)
    rounds = 5
    # Each worker writes `rounds` messages, as different people and as the same person.
    race(
        lambda n: [
            observed(message(f"m:{n}:{r}", PEOPLE[(n + r) % len(PEOPLE)])) for r in range(rounds)
        ]
    )
    session.expire_all()
    members = session.exec(
        select(CommunityMember).where(CommunityMember.community_id == community_id)
    ).all()
    assert len(members) == len(PEOPLE)
    assert sum(m.message_count for m in members) == WORKERS * rounds

    # One event delivered to every worker at once: counted by exactly one of them.
    twice = message("redelivered", PEOPLE[0])
    results = race(lambda _: observed(twice))
    assert sum(not r.repeated for r in results) == 1
    session.expire_all()
    counts = session.exec(select(CommunityMember.message_count)).all()
    assert sum(counts) == WORKERS * rounds + 1


def test_group_changes_naming_the_same_people_in_any_order_do_not_deadlock(
    session: Session,
) -> None:
    observed(message("hello", PEOPLE[0], WA_GROUP))
    attach(session, WA_GROUP.id)
    jids = [f"49151000000{n}@s.whatsapp.net" for n in range(6)]

    def change(n: int) -> ObservedEvent:
        people = jids if n % 2 else list(reversed(jids))
        kind = "wa_group_joined" if n % 3 else "wa_group_left"
        return observed(
            PlatformEvent(
                event_id=f"wa:{n}",
                kind=kind,
                platform="whatsapp",
                chat=WA_GROUP,
                user=EventUser(id=people[0]),
                data={"participants": people},
            )
        )

    race(change)
    session.expire_all()
    accounts = session.exec(
        select(PlatformAccount.phone).where(PlatformAccount.platform_user_id.in_(jids))
    ).all()
    assert sorted(accounts) == [f"+49151000000{n}" for n in range(6)]
    assert len(session.exec(select(CommunityMember)).all()) == len(jids)


# --- end to end: the fake Telegram → connector → route_event → rows ------------------------------


async def eventually(check: Callable[[Session], Any], timeout: float = 20) -> Any:
    """``check``'s first truthy answer on a fresh session, polled until ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with session_scope() as session:
            if answer := check(session):
                return answer
        assert asyncio.get_running_loop().time() < deadline, "not recorded in time"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.usefixtures("pg_worker")
async def test_telegram_bot_added_discovers_the_chat_and_joins_and_messages_make_members(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeTelegramBotAPI() as fake:
        fake.add_chat(TELEGRAM_CHAT_ID, chat_type="supergroup", title="Flowbot fans")
        fake.add_user(TELEGRAM_USER_ID, first_name="Ada", username="ada_l")
        settings = {"api_base_url": fake.base_url, "poll_timeout": 1}
        async with supervised_instance(monkeypatch, ConnectorKind.telegram_bot, fake.token,
                                       settings):  # fmt: skip
            await fake.wait_for_call("getUpdates", timeout=10)
            fake.push_chat_member(fake.me["id"], new_status="administrator", actor_id=1)

            def discovered(session: Session) -> Chat | None:
                return session.exec(
                    select(Chat).where(Chat.platform_chat_id == str(TELEGRAM_CHAT_ID))
                ).first()

            chat = await eventually(discovered)
            assert (chat.type, chat.title, chat.bot_is_admin) == (
                "supergroup",
                "Flowbot fans",
                True,
            )
            with session_scope() as session:
                community_id = attach(session, str(TELEGRAM_CHAT_ID))

            fake.push_chat_member(TELEGRAM_USER_ID, new_status="member")
            fake.push_message("hello all", user_id=TELEGRAM_USER_ID)

            def counted(session: Session) -> CommunityMember | None:
                row = session.exec(select(CommunityMember)).first()
                return row if row is not None and row.message_count == 1 else None

            member = await eventually(counted)

    assert member.community_id == community_id and member.left_at is None
    with session_scope() as session:
        account = session.get(PlatformAccount, member.platform_account_id)
        assert account is not None
        assert (account.platform_user_id, account.username) == (str(TELEGRAM_USER_ID), "ada_l")

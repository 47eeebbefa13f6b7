"""Events become chats, accounts and members (engine/services/member_ingest.py), through
route_event's hook (engine/community_events.py), on a real SQLite database."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import pytest
from dramatiq.common import iter_queue
from sqlmodel import Session, select

from engine import actors, broker, community_events, events
from engine.broker import QUEUE
from engine.community_automation import run_rules
from engine.db import session_scope
from engine.models import BotInstance, Chat, Community, CommunityMember, PlatformAccount
from engine.nodes.utility import as_utc
from engine.platform_event import EventChat, EventUser, PlatformEvent
from engine.services.member_ingest import ObservedEvent, observe, record_members

T0 = datetime(2030, 6, 14, 12, tzinfo=UTC)
TG_GROUP = EventChat(id="-1001", type="supergroup", title="Ada's group")
ADA = EventUser(id="42", username="ada_l", first_name="Ada", last_name="L", language="en")
GUILD = "900"
DC_CHANNEL = EventChat(id="901", type="guild", title="general", guild_id=GUILD)
DC_GUILD = EventChat(id=GUILD, type="guild", title="Ada's server", guild_id=GUILD)
DC_ADA = EventUser(id="7001", username="ada", display_name="Ada D")
WA_GROUP = EventChat(id="1203@g.us", type="group", title="Street")


def event(kind: str, event_id: str, *, at: datetime = T0, **fields: Any) -> PlatformEvent:
    platform = {"dc": "discord", "wa": "whatsapp"}.get(kind[:2], "telegram")
    return PlatformEvent(event_id=event_id, kind=kind, platform=platform, occurred_at=at, **fields)


def seen(chat: EventChat, event_id: str, platform: str = "telegram", **data: Any) -> PlatformEvent:
    payload = {"username": None, "member_count": None, "bot_is_admin": None, "bot_rights": {}}
    payload |= {"gone": False, **data}
    return PlatformEvent(
        event_id=event_id, kind="chat_seen", platform=platform, chat=chat, data=payload
    )


def ingest(item: PlatformEvent) -> ObservedEvent:
    with session_scope() as session:
        return observe(session, item)


def route(item: PlatformEvent) -> None:
    actors.route_event.fn(item.as_trigger())


def chat_row(session: Session, platform_chat_id: str) -> Chat:
    session.expire_all()
    return session.exec(select(Chat).where(Chat.platform_chat_id == platform_chat_id)).one()


def member(session: Session, user_id: str) -> CommunityMember:
    session.expire_all()
    return session.exec(
        select(CommunityMember)
        .join(PlatformAccount, PlatformAccount.id == CommunityMember.platform_account_id)
        .where(PlatformAccount.platform_user_id == user_id)
    ).one()


def in_community(session: Session, *platform_chat_ids: str) -> int:
    community = Community(name="Ada's community")
    session.add(community)
    session.flush()
    for platform_chat_id in platform_chat_ids:
        chat_row(session, platform_chat_id).community_id = community.id
    session.commit()
    assert community.id is not None
    return community.id


def bot_instance(session: Session) -> int:
    instance = BotInstance(name="bot", kind="telegram_bot")
    session.add(instance)
    session.commit()
    assert instance.id is not None
    return instance.id


# --- chats ---------------------------------------------------------------------------------------


def test_a_message_in_an_unknown_group_discovers_the_chat_and_the_account(
    sqlite_session: Session,
) -> None:
    first = ingest(event("tg_message", "m1", chat=TG_GROUP, user=ADA, text="hi"))
    again = ingest(event("tg_message", "m2", chat=TG_GROUP, user=ADA, text="hi"))

    chat = chat_row(sqlite_session, "-1001")
    assert (chat.platform, chat.type, chat.title, chat.community_id) == (
        "telegram", "supergroup", "Ada's group", None
    )  # fmt: skip
    assert first.chat_id == chat.id and first.first_seen_chat
    assert again.chat_id == chat.id and not again.first_seen_chat
    assert first.community_id is None and first.member_id is None  # no community: no member
    account = sqlite_session.exec(select(PlatformAccount)).one()
    assert (account.platform_user_id, account.username, account.display_name) == (
        "42", "ada_l", "Ada L"
    )  # fmt: skip
    assert (account.language, account.is_bot, account.phone) == ("en", False, None)
    assert first.account_id == again.account_id == account.id


def test_private_chats_are_not_chats_but_their_people_are_accounts(
    sqlite_session: Session,
) -> None:
    private = EventChat(id="42", type="private", title="Ada L")
    observed = ingest(event("tg_message", "p1", chat=private, user=ADA, text="hi"))
    dm = EventChat(id="555", type="dm")
    ingest(event("dc_message", "d1", chat=dm, user=DC_ADA, text="hi"))

    assert sqlite_session.exec(select(Chat)).all() == []
    assert observed.chat_id is None and observed.account_id is not None
    assert len(sqlite_session.exec(select(PlatformAccount)).all()) == 2


def test_chat_seen_updates_what_changed_and_marks_the_chat_gone_and_back(
    sqlite_session: Session,
) -> None:
    instance_id = bot_instance(sqlite_session)
    rights = {"can_delete_messages": True, "can_restrict_members": True}
    ingest(event("tg_message", "m1", chat=TG_GROUP, user=ADA, text="hi"))
    observed = ingest(
        seen(
            TG_GROUP.model_copy(update={"title": "Renamed"}),
            "s1",
            username="adas_group",
            member_count=120,
            bot_is_admin=True,
            bot_rights=rights,
        ).model_copy(update={"instance_id": instance_id})
    )
    chat = chat_row(sqlite_session, "-1001")
    assert observed.chat_id == chat.id and not observed.first_seen_chat
    assert (chat.title, chat.username, chat.member_count, chat.bot_is_admin) == (
        "Renamed", "adas_group", 120, True
    )  # fmt: skip
    assert chat.bot_rights == rights and chat.bot_instance_id == instance_id
    assert chat.gone_at is None
    # A refresh from list_chats says nothing of rights or the username: both are kept.
    ingest(seen(TG_GROUP, "s1b", member_count=121))
    chat = chat_row(sqlite_session, "-1001")
    assert (chat.bot_rights, chat.username, chat.member_count) == (rights, "adas_group", 121)

    ingest(seen(TG_GROUP, "s2", gone=True, bot_is_admin=False))
    gone = chat_row(sqlite_session, "-1001")
    assert gone.gone_at is not None and not gone.bot_is_admin and gone.bot_rights == {}
    assert gone.member_count == 121  # not said again: kept
    ingest(seen(TG_GROUP, "s3", gone=True))
    assert chat_row(sqlite_session, "-1001").gone_at == gone.gone_at  # keeps when it went

    # The bot's own removal notice must not undo "gone"; a message proves it is back.
    removed = {"old_status": "administrator", "new_status": "left"}
    ingest(event("tg_bot_status_changed", "b1", chat=TG_GROUP, user=ADA, data=removed))
    assert chat_row(sqlite_session, "-1001").gone_at is not None
    ingest(event("tg_message", "m2", chat=TG_GROUP, user=ADA, text="back"))
    assert chat_row(sqlite_session, "-1001").gone_at is None


def test_an_unchanged_chat_is_not_written(sqlite_session: Session) -> None:
    ingest(event("tg_message", "m1", chat=TG_GROUP, user=ADA, text="hi"))
    before = chat_row(sqlite_session, "-1001").updated_at
    ingest(event("tg_message", "m2", chat=TG_GROUP, user=ADA, text="hi"))
    untitled = TG_GROUP.model_copy(update={"title": None})
    ingest(event("tg_reaction", "r1", chat=untitled, user=ADA, data={"emoji": "👍"}))
    assert chat_row(sqlite_session, "-1001").updated_at == before
    assert chat_row(sqlite_session, "-1001").title == "Ada's group"  # no title: kept


def test_a_poll_voters_chat_is_not_a_chat_the_bot_is_in(sqlite_session: Session) -> None:
    channel = EventChat(id="-1009", type="channel", title="Voters")
    ingest(event("tg_poll_answer", "v1", chat=channel, user=ADA, data={"option_ids": [0]}))
    assert sqlite_session.exec(select(Chat)).all() == []


def test_discord_channels_are_recorded_under_their_guild_which_holds_the_community(
    sqlite_session: Session,
) -> None:
    first = ingest(event("dc_message", "d1", chat=DC_CHANNEL, user=DC_ADA, text="hi"))
    channel, guild = chat_row(sqlite_session, "901"), chat_row(sqlite_session, GUILD)
    assert (channel.type, channel.title, channel.parent_chat_id) == ("text", "general", GUILD)
    assert (guild.type, guild.parent_chat_id) == ("guild", None)
    assert first.chat_id == channel.id and first.first_seen_chat

    ingest(event("dc_member_join", "j1", chat=DC_GUILD, user=DC_ADA))
    assert chat_row(sqlite_session, GUILD).title == "Ada's server"
    community_id = in_community(sqlite_session, GUILD)

    observed = ingest(event("dc_message", "d2", chat=DC_CHANNEL, user=DC_ADA, text="again"))
    assert observed.chat_id == channel.id and observed.community_id == community_id
    assert member(sqlite_session, "7001").message_count == 1

    text = EventChat(id="902", type="text", title="rules", guild_id=GUILD)
    ingest(seen(text, "s1", platform="discord"))
    assert chat_row(sqlite_session, "902").type == "text"
    assert chat_row(sqlite_session, "902").parent_chat_id == GUILD
    ingest(seen(EventChat(id="903", type="guild", title="Other"), "s2", platform="discord"))
    assert chat_row(sqlite_session, "903").parent_chat_id is None

    # The bot leaves the guild: Discord says so of the guild; its channels go with it.
    ingest(seen(EventChat(id=GUILD, type="guild"), "s3", platform="discord", gone=True))
    assert all(chat_row(sqlite_session, c).gone_at is not None for c in (GUILD, "901", "902"))
    assert chat_row(sqlite_session, "903").gone_at is None


# --- members -------------------------------------------------------------------------------------


def test_joins_messages_and_leaves_make_a_members_history(sqlite_session: Session) -> None:
    ingest(event("tg_message", "m0", chat=TG_GROUP, user=ADA, text="before"))
    community_id = in_community(sqlite_session, "-1001")

    promoted = {"old_status": "left", "new_status": "administrator"}
    joined = ingest(event("tg_member_joined", "j1", chat=TG_GROUP, user=ADA, data=promoted))
    assert joined.joined and not joined.left and joined.community_id == community_id
    row = member(sqlite_session, "42")
    assert joined.member_id == row.id
    assert (row.role, row.message_count, row.left_at, as_utc(row.joined_at)) == (
        "admin", 0, None, T0
    )  # fmt: skip

    for n, kind in enumerate(["tg_message", "tg_message", "tgu_message"]):
        ingest(event(kind, f"m{n + 1}", at=T0 + timedelta(minutes=n + 1), chat=TG_GROUP, user=ADA))
    # The same message seen again as a command, a media message, an edit: not counted.
    for n, kind in enumerate(["tg_command", "tg_media_message", "tg_edited_message"]):
        ingest(event(kind, f"x{n}", at=T0 + timedelta(hours=1), chat=TG_GROUP, user=ADA))
    row = member(sqlite_session, "42")
    assert row.message_count == 3
    assert as_utc(row.last_active_at) == T0 + timedelta(minutes=3)
    # An older message arriving late does not move last_active_at back.
    ingest(event("tg_message", "late", at=T0 - timedelta(days=1), chat=TG_GROUP, user=ADA))
    assert as_utc(member(sqlite_session, "42").last_active_at) == T0 + timedelta(minutes=3)

    gone_at = T0 + timedelta(hours=2)
    left = ingest(event("tg_member_left", "l1", at=gone_at, chat=TG_GROUP, user=ADA))
    assert left.left and not left.joined and left.member_id == row.id
    assert as_utc(member(sqlite_session, "42").left_at) == gone_at
    # A join that happened before the leave (delivered late) does not undo it.
    ingest(event("tg_member_joined", "j0", at=T0 + timedelta(hours=1), chat=TG_GROUP, user=ADA))
    assert as_utc(member(sqlite_session, "42").left_at) == gone_at

    back = {"old_status": "left", "new_status": "member"}
    ingest(
        event(
            "tg_member_joined", "j2", at=gone_at + timedelta(1), chat=TG_GROUP, user=ADA, data=back
        )
    )
    row = member(sqlite_session, "42")
    assert row.left_at is None and row.role == "member"
    assert as_utc(row.joined_at) == T0  # the first join is kept
    assert len(sqlite_session.exec(select(CommunityMember)).all()) == 1


def test_writing_after_leaving_means_back(sqlite_session: Session) -> None:
    ingest(event("tg_message", "m0", chat=TG_GROUP, user=ADA, text="hi"))
    in_community(sqlite_session, "-1001")
    ingest(event("tg_member_left", "l1", chat=TG_GROUP, user=ADA))
    ingest(event("tg_message", "m1", at=T0 + timedelta(1), chat=TG_GROUP, user=ADA, text="hi"))
    row = member(sqlite_session, "42")
    assert row.left_at is None and row.message_count == 1


def test_whatsapp_group_changes_record_every_participant_with_their_phone(
    sqlite_session: Session,
) -> None:
    ingest(seen(WA_GROUP, "s1", platform="whatsapp"))
    in_community(sqlite_session, "1203@g.us")
    people = ["4915112345678@s.whatsapp.net", "4917600000001:3@s.whatsapp.net"]
    added = event(
        "wa_group_joined",
        "w1",
        chat=WA_GROUP,
        user=EventUser(id=people[0]),
        data={"participants": people, "by": None},
    )
    observed = ingest(added)
    accounts = sqlite_session.exec(select(PlatformAccount).order_by(PlatformAccount.id)).all()
    assert [(a.platform, a.platform_user_id, a.phone) for a in accounts] == [
        ("whatsapp", people[0], "+4915112345678"),
        ("whatsapp", people[1], "+4917600000001"),
    ]
    assert observed.joined and observed.member_id == member(sqlite_session, people[0]).id
    assert member(sqlite_session, people[1]).left_at is None

    ingest(event("wa_group_left", "w2", chat=WA_GROUP, user=EventUser(id=people[1])))
    assert member(sqlite_session, people[1]).left_at is not None
    ingest(event("wa_media_message", "w3", chat=WA_GROUP, user=EventUser(id=people[0])))
    assert member(sqlite_session, people[0]).message_count == 1


def test_an_event_without_a_name_keeps_the_accounts_known_name(sqlite_session: Session) -> None:
    ingest(event("tg_message", "m1", at=T0, chat=TG_GROUP, user=ADA, text="hi"))
    bare = EventUser(id="42")
    ingest(event("tg_reaction", "r1", at=T0 - timedelta(1), chat=TG_GROUP, user=bare))
    account = sqlite_session.exec(select(PlatformAccount)).one()
    assert (account.username, account.display_name, account.language) == ("ada_l", "Ada L", "en")
    assert as_utc(account.last_seen_at) == T0  # an older event does not move it back


# --- backfill ------------------------------------------------------------------------------------


def test_record_members_backfills_roles_without_duplicates(sqlite_session: Session) -> None:
    ingest(event("dc_message", "d1", chat=DC_CHANNEL, user=DC_ADA, text="hi"))
    community_id = in_community(sqlite_session, GUILD)
    ingest(event("dc_message", "d2", chat=DC_CHANNEL, user=DC_ADA, text="bye"))
    ingest(event("dc_member_leave", "l1", at=T0 + timedelta(1), chat=DC_GUILD, user=DC_ADA))
    seen_at = sqlite_session.exec(select(PlatformAccount.last_seen_at)).one()

    listed = [
        {"user": DC_ADA.model_dump(mode="json"), "role": "owner", "phone": None},
        {"user": {"id": "7002", "username": "bob", "is_bot": False}, "role": "admin"},
        {"user": {"id": "7003", "display_name": "Flowbot", "is_bot": True}, "role": "member"},
        {"user": {"id": "7002", "username": "bob"}, "role": "admin"},  # listed twice
    ]
    with session_scope() as session:
        assert record_members(session, community_id, "discord", listed) == 3
    with session_scope() as session:  # listed again: updated, not duplicated
        assert record_members(session, community_id, "discord", listed[:2]) == 2

    rows = {uid: member(sqlite_session, uid) for uid in ("7001", "7002", "7003")}
    assert {uid: r.role for uid, r in rows.items()} == {
        "7001": "owner", "7002": "admin", "7003": "member"
    }  # fmt: skip
    assert rows["7001"].left_at is None and rows["7001"].message_count == 1
    assert len(sqlite_session.exec(select(CommunityMember)).all()) == 3
    bot = sqlite_session.exec(
        select(PlatformAccount).where(PlatformAccount.platform_user_id == "7003")
    ).one()
    assert bot.is_bot and bot.display_name == "Flowbot"
    ada = sqlite_session.exec(
        select(PlatformAccount).where(PlatformAccount.platform_user_id == "7001")
    ).one()
    assert ada.last_seen_at == seen_at  # listed is not seen


def test_record_members_of_a_large_guild_spans_insert_batches(sqlite_session: Session) -> None:
    ingest(seen(DC_GUILD.model_copy(update={"guild_id": None}), "s1", platform="discord"))
    community_id = in_community(sqlite_session, GUILD)
    listed = [{"user": {"id": str(10_000 + n)}, "role": "member"} for n in range(1_234)]
    with session_scope() as session:
        assert record_members(session, community_id, "discord", listed) == 1_234
    assert len(sqlite_session.exec(select(CommunityMember)).all()) == 1_234


# --- through route_event -------------------------------------------------------------------------


def test_an_event_routed_twice_is_counted_once(sqlite_session: Session) -> None:
    ingest(event("tg_message", "m0", chat=TG_GROUP, user=ADA, text="hi"))
    in_community(sqlite_session, "-1001")
    message = event("tg_message", "m1", chat=TG_GROUP, user=ADA, text="hi")
    route(message)
    route(message)  # redelivered
    assert member(sqlite_session, "42").message_count == 1
    assert ingest(message).repeated


async def test_joins_leaves_and_new_chats_are_announced_on_the_bus(
    sqlite_session: Session,
) -> None:
    async with events.subscribe("community.*") as subscription:
        await asyncio.to_thread(route, event("tg_message", "m0", chat=TG_GROUP, user=ADA))
        first = await asyncio.wait_for(anext(subscription), 2)
        community_id = in_community(sqlite_session, "-1001")
        joined = event("tg_member_joined", "j1", chat=TG_GROUP, user=ADA)
        await asyncio.to_thread(route, joined)
        await asyncio.to_thread(route, joined)  # redelivered: announced once
        await asyncio.to_thread(route, event("tg_member_left", "l1", chat=TG_GROUP, user=ADA))
        got = [await asyncio.wait_for(anext(subscription), 2) for _ in range(2)]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(subscription), 0.2)
    chat_id = chat_row(sqlite_session, "-1001").id
    assert first.topic == community_events.CHAT_SEEN
    assert first.payload == {
        "community_id": None,
        "chat_id": chat_id,
        "platform": "telegram",
        "chat_title": "Ada's group",
        "platform_chat_id": "-1001",
        "type": "supergroup",
        "first_seen": True,
        "gone": False,
    }
    member_id = member(sqlite_session, "42").id
    assert [(e.topic, e.payload["member_id"], e.payload["name"]) for e in got] == [
        (community_events.MEMBER_JOINED, member_id, "Ada L"),
        (community_events.MEMBER_LEFT, member_id, "Ada L"),
    ]
    assert got[0].payload["community_id"] == community_id
    assert got[0].payload["user_id"] == "42"


async def test_a_message_in_a_community_is_announced_with_its_community_only(
    sqlite_session: Session,
) -> None:
    """Analytics' live figures of today follow these; a chat of no community says nothing."""
    ingest(event("tg_message", "m0", chat=TG_GROUP, user=ADA))
    async with events.subscribe(community_events.MESSAGE) as subscription:
        await asyncio.to_thread(route, event("tg_message", "m1", chat=TG_GROUP, user=ADA))
        community_id = in_community(sqlite_session, "-1001")
        await asyncio.to_thread(route, event("tg_message", "m2", chat=TG_GROUP, user=ADA))
        await asyncio.to_thread(route, event("tg_member_left", "l1", chat=TG_GROUP, user=ADA))
        got = await asyncio.wait_for(anext(subscription), 2)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(subscription), 0.2)
    assert got.payload == {"community_id": community_id}


def test_a_failure_to_record_never_fails_the_routing(
    sqlite_session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """A chat seen by a bot instance deleted meanwhile is refused by its foreign key: logged,
    and route_event returns normally (Dramatiq would otherwise route the event again)."""
    orphan = event("tg_message", "m1", chat=TG_GROUP, user=ADA, text="hi")
    route(orphan.model_copy(update={"instance_id": 999}))
    assert sqlite_session.exec(select(Chat)).all() == []
    assert "not recorded for communities" in caplog.text


def sent_messages() -> list[dramatiq.Message]:
    """What route_event sent, taken off the in-process broker's queue, each marked done
    there (else the queue counts them as being worked on: the System status page's depth)."""
    queue = actors.broker.queues[QUEUE]  # type: ignore[attr-defined]
    taken = list(iter_queue(queue))
    for _ in taken:
        queue.task_done()
    return [dramatiq.Message.decode(data) for data in taken]


def test_an_event_in_a_community_is_handed_to_its_rules_once(sqlite_session: Session) -> None:
    actors.broker.flush_all()
    route(event("tg_message", "m0", chat=TG_GROUP, user=ADA, text="outside"))
    assert [m.actor_name for m in sent_messages()] == []  # no community: no rules

    community_id = in_community(sqlite_session, "-1001")
    message = event("tg_message", "m1", chat=TG_GROUP, user=ADA, text="inside")
    route(message)
    route(message)  # redelivered: the rules ran (or will) on the first delivery
    (sent,) = sent_messages()
    assert sent.actor_name == run_rules.actor_name
    member_id = member(sqlite_session, "42").id
    assert sent.args == (message.as_trigger(), community_id, member_id)


def test_the_in_process_claim_expires_between_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Embedded claims (no Redis) are swept only now and then; an expired one must still
    be free to take again before the next sweep, and a live one must stay taken."""
    monkeypatch.setattr(broker, "_claims", {})
    monkeypatch.setattr(broker, "_SWEEP_SECONDS", 3600.0)
    assert broker.claim_once("sweep:a", 50) and broker.claim_once("sweep:b", 60_000)
    time.sleep(0.06)
    assert broker.claim_once("sweep:a", 50)  # expired, not yet swept
    assert not broker.claim_once("sweep:b", 60_000)

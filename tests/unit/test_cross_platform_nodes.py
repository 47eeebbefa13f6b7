"""The cross-platform nodes' runners: the pool calls they make and the rows they write."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from engine import events
from engine.models import (
    AuditLog,
    BotInstance,
    BroadcastTarget,
    Chat,
    Community,
    CommunityMember,
    MemberRole,
    ModerationLog,
    PlatformAccount,
    ReputationScore,
    ScheduledMessage,
    UserIdentity,
    Warning,
)
from engine.nodes import REGISTRY, NodePlatform
from engine.nodes.utility import as_utc
from engine.platform_calls import DEFAULT_KIND
from engine.services import moderation
from engine.services.broadcasts import InvalidBroadcast
from tests.fakes.pool import FakePool
from tests.unit.test_condition_nodes import FakeContext, World, event, make_world, run


def test_cross_platform_nodes_declared() -> None:
    nodes = [t for t in REGISTRY if t.platform is NodePlatform.cross_platform]
    assert len(nodes) == 11
    for node in nodes:
        assert node.run is not None
        for name, info in node.params.model_fields.items():
            assert info.description and info.examples, f"{node.id}.{name}"


def add_discord_and_whatsapp(session: Session, world: World) -> None:
    """The community also has a Discord guild and a WhatsApp group."""
    bot = BotInstance(name="dc", kind="discord_bot")
    session.add(bot)
    session.flush()
    community = session.get(Community, world.community_id)
    assert community
    community.bot_instance_id = bot.id
    cid = world.community_id
    session.add_all(
        [
            Chat(platform="discord", platform_chat_id="G1", type="guild", community_id=cid),
            Chat(
                platform="discord",
                platform_chat_id="C-ann",
                type="text",
                parent_chat_id="G1",
                community_id=cid,
            ),
            Chat(platform="whatsapp", platform_chat_id="g@g.us", community_id=cid),
        ]
    )
    session.commit()


# --- reply_in_place ---


@pytest.mark.parametrize(
    ("platform", "connector", "chat", "expected"),
    [
        (
            "telegram",
            "telegram_bot",
            {"id": "-100", "type": "group"},
            ("send_message", {"chat_id": "-100", "text": "hi", "reply_to_message_id": "7"}),
        ),
        (
            "telegram",
            "telegram_user",
            {"id": "-100", "type": "group"},
            ("send_message", {"chat_id": "-100", "text": "hi", "reply_to_message_id": "7"}),
        ),
        (
            "discord",
            "discord_bot",
            {"id": "C1", "type": "guild", "guild_id": "G1"},
            ("reply", {"channel_id": "C1", "content": "hi", "message_id": "7"}),
        ),
        (
            "whatsapp",
            "whatsapp_user",
            {"id": "g@g.us", "type": "group"},
            ("send_text", {"chat_id": "g@g.us", "text": "hi", "reply_to_message_id": "7"}),
        ),
    ],
)
async def test_reply_in_place_maps_to_the_connector(
    platform: str, connector: str, chat: dict, expected: tuple
) -> None:
    ctx = FakeContext(event(platform=platform, connector=connector, chat=chat, instance_id=5))
    result = await run("reply_in_place", ctx, text="hi")
    assert ctx.calls == [(connector, *expected, 5)]
    assert result.output["result"] == {"message_id": "m1"}


async def test_reply_in_place_without_quoting() -> None:
    ctx = FakeContext(event(platform="discord", connector=None, chat={"id": "C1", "type": "dm"}))
    await run("reply_in_place", ctx, text="hi", reply=False)
    assert ctx.calls == [
        ("discord_bot", "send_message", {"channel_id": "C1", "content": "hi"}, None)
    ]


# --- warn_user ---


def sanctions(pool: FakePool) -> list[tuple[str, str, dict, int | None]]:
    """The pool calls asked to act on members (not the lines posted to the log chat -999)."""
    return [
        (c.kind, c.action, c.params, c.instance_id)
        for c in pool.requests.calls
        if c.params.get("chat_id") != "-999"
    ]


def log_lines(pool: FakePool) -> list[str]:
    return [c.params["text"] for c in pool.executions.calls if c.params.get("chat_id") == "-999"]


async def test_warn_user_mutes_then_bans_at_thresholds(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    world = make_world(sqlite_session, warnings={"mute_at": 2, "ban_at": 3, "mute_minutes": 10})
    ctx = FakeContext(event(instance_id=3), flow_id=world.flow_id)
    first = await run("warn_user", ctx, reason="spam")
    assert first.output["active_warnings"] == 1 and first.output["action_taken"] == "none"
    assert "sanction" not in first.output and sanctions(fake_pool) == []
    second = await run("warn_user", ctx, reason="spam")
    assert second.output["action_taken"] == "mute" and second.output["sanction"]["ok"]
    assert sanctions(fake_pool)[-1] == (
        "telegram_bot",
        "mute_member",
        {"chat_id": "-100", "user_id": "42", "duration_seconds": 600},
        None,
    )
    third = await run("warn_user", ctx, reason="spam")
    assert third.output["action_taken"] == "ban" and third.output["sanction"]["ok"]
    assert sanctions(fake_pool)[-1] == (
        "telegram_bot",
        "ban_member",
        {"chat_id": "-100", "user_id": "42"},
        None,
    )
    sqlite_session.expire_all()
    warnings = sqlite_session.exec(select(Warning)).all()
    assert len(warnings) == 3 and all(w.expires_at for w in warnings)
    logs = sqlite_session.exec(select(ModerationLog).order_by(ModerationLog.id)).all()
    assert [log.action for log in logs] == ["warn", "warn", "mute", "warn", "ban"]
    flow = f"flow:{world.flow_id}"
    assert [log.actor for log in logs] == [
        flow,
        flow,
        f"{flow} (threshold)",
        flow,
        f"{flow} (threshold)",
    ]
    member = sqlite_session.get(CommunityMember, world.member_id)
    assert member and member.is_banned and member.muted_until
    assert log_lines(fake_pool)[2] == (
        f"🔇 42 (@alice) muted for 10 min by {flow} (threshold) — reason: 2 active warnings: spam"
    )


async def test_warn_user_records_a_failed_sanction(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    world = make_world(sqlite_session, warnings={"mute_at": 1})
    fake_pool.fail("mute_member", "platform", "not enough rights")
    ctx = FakeContext(event(), flow_id=world.flow_id)
    result = await run("warn_user", ctx, user_id="77")
    assert result.output["user_id"] == "77" and result.output["action_taken"] == "mute"
    sanction = result.output["sanction"]
    assert sanction["ok"] is False and sanction["results"] == [
        {
            "platform": "telegram",
            "chat_id": "-100",
            "ok": False,
            "error": "not enough rights",
            "community_id": world.community_id,
            "user_id": "77",
            "skipped": False,
        }
    ]
    sqlite_session.expire_all()
    entry = sqlite_session.get(ModerationLog, sanction["log_id"])
    assert entry and entry.details["results"][0]["error"] == "not enough rights"
    member = sqlite_session.exec(
        select(CommunityMember).where(
            CommunityMember.platform_account_id == entry.target_account_id
        )
    ).one()  # recorded from the trigger, and not marked muted: Telegram refused
    assert member.muted_until is None


async def test_warn_user_needs_a_community(sqlite_session: Session) -> None:
    make_world(sqlite_session)
    ctx = FakeContext(event(chat={"id": "-5", "type": "group"}))
    with pytest.raises(ValueError, match="not linked to a community"):
        await run("warn_user", ctx)


# --- ban_everywhere / unban_everywhere ---


async def test_ban_and_unban_everywhere(sqlite_session: Session, fake_pool: FakePool) -> None:
    world = make_world(sqlite_session)
    add_discord_and_whatsapp(sqlite_session, world)
    person = UserIdentity(display_name="Alice")
    sqlite_session.add(person)
    sqlite_session.flush()
    telegram = sqlite_session.get(PlatformAccount, world.account_id)
    assert telegram
    telegram.identity_id = person.id
    discord = PlatformAccount(platform="discord", platform_user_id="D42", identity_id=person.id)
    sqlite_session.add(discord)
    sqlite_session.commit()

    ctx = FakeContext(event(), flow_id=world.flow_id)
    fake_pool.fail("ban_member", "platform", "not enough rights")  # the first: Telegram's
    banned = await run("ban_everywhere", ctx, reason="raid")
    calls = {
        (kind, action): (params, instance)
        for kind, action, params, instance in sanctions(fake_pool)
    }
    dc_instance = sqlite_session.get(Community, world.community_id).bot_instance_id  # type: ignore[union-attr]
    assert calls == {
        ("telegram_bot", "ban_member"): ({"chat_id": "-100", "user_id": "42"}, None),
        ("discord_bot", "ban_member"): (
            {"guild_id": "G1", "user_id": "D42", "reason": "raid"},
            dc_instance,
        ),
    }
    assert banned.output["succeeded"] == 1 and banned.output["failed"] == 1
    assert banned.output["communities"] == [world.community_id]
    assert [r["error"] for r in banned.output["results"]] == ["not enough rights", None]
    sqlite_session.expire_all()
    member = sqlite_session.get(CommunityMember, world.member_id)
    assert member and not member.is_banned  # Telegram refused: the flag says what holds
    logs = sqlite_session.exec(select(ModerationLog)).all()
    assert {(log.action, log.platform) for log in logs} == {("ban", "telegram"), ("ban", "discord")}
    assert all(log.details["everywhere"] for log in logs)

    fake_pool.requests.calls.clear()
    unbanned = await run("unban_everywhere", ctx)
    assert {c[1] for c in sanctions(fake_pool)} == {"unban_member"}
    assert unbanned.output["succeeded"] == 2


async def test_ban_everywhere_on_whatsapp_removes_from_groups(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    world = make_world(sqlite_session)
    add_discord_and_whatsapp(sqlite_session, world)
    trigger = event(
        platform="whatsapp",
        connector="whatsapp_user",
        chat={"id": "g@g.us", "type": "group"},
        user={"id": "1@s.whatsapp.net"},
    )
    ctx = FakeContext(trigger, flow_id=world.flow_id)
    await run("ban_everywhere", ctx)
    assert sanctions(fake_pool) == [
        (
            "whatsapp_user",
            "remove_participants",
            {"group_id": "g@g.us", "participants": ["1@s.whatsapp.net"]},
            None,
        )
    ]
    fake_pool.requests.calls.clear()
    unbanned = await run("unban_everywhere", ctx)
    assert sanctions(fake_pool) == []
    [result] = unbanned.output["results"]
    assert result["skipped"] and result["error"] == "Unban is not supported on WhatsApp"


# --- adjust_reputation ---


async def test_adjust_reputation_upserts_atomically(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    ctx = FakeContext(event(), flow_id=world.flow_id)
    assert (await run("adjust_reputation", ctx, delta=3, user_id="77")).output["score"] == 3
    assert (await run("adjust_reputation", ctx, delta=-1, user_id="77")).output["score"] == 2
    own = await run("adjust_reputation", ctx, delta=5)
    assert own.output == {"applied": True, "user_id": "42", "delta": 5, "score": 5}
    sqlite_session.expire_all()
    giver = sqlite_session.exec(
        select(ReputationScore).where(ReputationScore.platform_account_id == world.account_id)
    ).one()
    assert (giver.score, giver.given_up, giver.given_down) == (5, 1, 1)


async def test_adjust_reputation_respects_the_community_switch(sqlite_session: Session) -> None:
    make_world(sqlite_session, reputation={"enabled": False})
    result = await run("adjust_reputation", FakeContext(event()), delta=1)
    assert result.output["applied"] is False
    assert sqlite_session.exec(select(ReputationScore)).all() == []


# --- log_moderation / notify_admins ---


async def test_log_moderation(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    ctx = FakeContext(event(), flow_id=world.flow_id)
    async with events.subscribe(moderation.TOPIC) as announced:  # live pages hear of it
        params = {"action": "kick", "reason": "flood", "details": {"n": 9}}
        out = (await run("log_moderation", ctx, **params)).output
        heard = await asyncio.wait_for(anext(announced), 10)
    assert heard.payload["log_id"] == out["log_id"] and heard.payload["action"] == "kick"
    entry = sqlite_session.get(ModerationLog, out["log_id"])
    assert entry and entry.action == "kick" and entry.target_account_id == world.account_id
    assert entry.details == {"n": 9} and entry.actor == f"flow:{world.flow_id}"
    no_user = await run("log_moderation", FakeContext(event(user=None)), reason="note")
    assert no_user.output["community_id"] == world.community_id


async def test_notify_admins_in_log_chats_and_directly(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    add_discord_and_whatsapp(sqlite_session, world)
    member = sqlite_session.get(CommunityMember, world.member_id)
    assert member
    member.role = MemberRole.owner
    sqlite_session.commit()
    ctx = FakeContext(event(), flow_id=world.flow_id)
    out = (await run("notify_admins", ctx, text="raid!", direct=True)).output
    assert out["sent"] == 2 and out["failed"] == 0
    sent = {(c[0], c[1], tuple(sorted(c[2].items()))) for c in ctx.calls}
    assert sent == {  # the community's one log chat, and the owner directly
        ("telegram_bot", "send_message", (("chat_id", "-999"), ("text", "raid!"))),
        ("telegram_bot", "send_message", (("chat_id", "42"), ("text", "raid!"))),
    }


# --- send_to_identity ---


async def test_send_to_identity_prefers_the_preferred_platform(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    person = UserIdentity(display_name="Alice", preferred_platform="discord")
    sqlite_session.add(person)
    sqlite_session.flush()
    telegram = sqlite_session.get(PlatformAccount, world.account_id)
    assert telegram
    telegram.identity_id = person.id
    sqlite_session.add(
        PlatformAccount(platform="discord", platform_user_id="D42", identity_id=person.id)
    )
    sqlite_session.commit()
    ctx = FakeContext(event(instance_id=4))
    out = (await run("send_to_identity", ctx, text="psst")).output
    assert ctx.calls == [("discord_bot", "send_dm", {"user_id": "D42", "content": "psst"}, None)]
    assert out["identity_id"] == person.id and out["ok"]
    ctx.calls.clear()
    await run("send_to_identity", ctx, text="psst", identity_id=person.id, platform="telegram")
    assert ctx.calls == [("telegram_bot", "send_message", {"chat_id": "42", "text": "psst"}, 4)]
    with pytest.raises(ValueError, match="no whatsapp account"):
        await run("send_to_identity", ctx, text="x", platform="whatsapp")
    with pytest.raises(ValueError, match="no linked identity"):
        await run("send_to_identity", FakeContext(event(user={"id": "5"})), text="x")


# --- schedule_message ---


async def test_schedule_message_rows(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    ctx = FakeContext(event(instance_id=None), flow_id=world.flow_id)
    out = (
        await run(
            "schedule_message",
            ctx,
            text="meeting",
            send_at="2030-01-01T09:00:00",
            timezone="Europe/Berlin",
        )
    ).output
    row = sqlite_session.get(ScheduledMessage, out["scheduled_message_id"])
    assert row and row.chat_id == "-100" and row.community_id == world.community_id
    assert as_utc(row.send_at) == datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
    assert row.status == "pending" and row.created_by == f"flow:{world.flow_id}"
    weekly = (
        await run("schedule_message", ctx, text="weekly", chat_id="-5", repeat_cron="0 9 * * MON")
    ).output
    row = sqlite_session.get(ScheduledMessage, weekly["scheduled_message_id"])
    assert row and row.repeat_cron == "0 9 * * MON" and as_utc(row.send_at).weekday() == 0
    with pytest.raises(ValueError, match="cron"):
        REGISTRY.get("schedule_message").params(text="x", repeat_cron="every day")
    with pytest.raises(ValueError, match="time zone"):
        REGISTRY.get("schedule_message").params(text="x", timezone="Nowhere/Land")


# --- broadcast ---


async def test_broadcast_hands_a_broadcast_to_the_delivery_job(
    sqlite_session: Session, delivery_started: list[int]
) -> None:
    world = make_world(sqlite_session)
    add_discord_and_whatsapp(sqlite_session, world)
    for chat in sqlite_session.exec(select(Chat)).all():  # each seen by a connection
        instance = BotInstance(name=chat.platform_chat_id, kind=DEFAULT_KIND[chat.platform])
        sqlite_session.add(instance)
        sqlite_session.flush()
        chat.bot_instance_id = instance.id
    sqlite_session.commit()
    ctx = FakeContext(event(), flow_id=world.flow_id)
    out = (await run("broadcast", ctx, text="**news**")).output  # the trigger's community
    assert out == {"broadcast_id": out["broadcast_id"], "targets": 3, "status": "sending"}
    assert ctx.calls == [] and delivery_started == [
        out["broadcast_id"]
    ]  # the job posts, not the flow
    sqlite_session.expire_all()
    targets = sqlite_session.exec(
        select(BroadcastTarget.platform_chat_id).where(
            BroadcastTarget.broadcast_id == out["broadcast_id"]
        )
    ).all()
    assert sorted(targets) == ["-100", "C-ann", "g@g.us"]  # not the guild, not the log chat
    actor = sqlite_session.exec(
        select(AuditLog.actor).where(AuditLog.target_id == str(out["broadcast_id"]))
    ).one()
    assert actor == f"flow:{world.flow_id}"
    only = await run(
        "broadcast", ctx, text="tg", community_ids=[world.community_id], platforms=["telegram"]
    )
    assert only.output["targets"] == 1
    with pytest.raises(InvalidBroadcast, match="Discord version"):
        await run("broadcast", ctx, text="a" * 2001)

"""The moderation service with the recording pool fake (SQLite; PostgreSQL too where the SQL
is more than a lookup): the calls each connector gets, the rows written, the flags, the log
chat line, the role checks and the refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from engine import events
from engine.models import (
    AdminUser,
    BotInstance,
    Chat,
    Community,
    CommunityConfig,
    CommunityMember,
    ModerationAction,
    ModerationLog,
    PlatformAccount,
    Role,
    UserIdentity,
    Warning,
    utcnow,
)
from engine.nodes.utility import as_utc
from engine.services import moderation
from engine.services.auth import PermissionDenied, create_user
from engine.services.errors import Conflict, NotFound
from tests.fakes.pool import FakePool, PoolCall

ADA = moderation.Actor.system("Ada")


@dataclass
class World:
    """A community with a Telegram group (its own bot), a Discord guild with a text channel,
    a WhatsApp group and a Telegram log chat; one member on each platform."""

    community_id: int
    tg_bot: int
    dc_bot: int
    log_chat: int
    tg_group: int
    members: dict[str, int]  # platform → account id


def make_world(session: Session, **rules: object) -> World:
    tg_bot, dc_bot = (
        BotInstance(name="tg", kind="telegram_bot"),
        BotInstance(name="dc", kind="discord_bot"),
    )
    session.add_all([tg_bot, dc_bot])
    session.flush()
    community = Community(name="Makers", bot_instance_id=dc_bot.id)
    session.add(community)
    session.flush()
    cid = community.id
    group = Chat(
        platform="telegram",
        platform_chat_id="-100",
        community_id=cid,
        bot_instance_id=tg_bot.id,
        type="supergroup",
    )
    log_chat = Chat(
        platform="telegram", platform_chat_id="-999", bot_instance_id=tg_bot.id, title="Mod log"
    )
    session.add_all(
        [
            group,
            log_chat,
            Chat(platform="discord", platform_chat_id="G1", type="guild", community_id=cid),
            Chat(
                platform="discord",
                platform_chat_id="C1",
                type="text",
                parent_chat_id="G1",
                community_id=cid,
            ),
            Chat(platform="whatsapp", platform_chat_id="g@g.us", community_id=cid),
            Chat(platform="telegram", platform_chat_id="-200", community_id=cid, gone_at=utcnow()),
        ]
    )
    accounts = {
        "telegram": PlatformAccount(
            platform="telegram", platform_user_id="42", display_name="Ann", username="ann"
        ),
        "discord": PlatformAccount(platform="discord", platform_user_id="D42", display_name="Ann"),
        "whatsapp": PlatformAccount(platform="whatsapp", platform_user_id="49@s.whatsapp.net"),
    }
    session.add_all(accounts.values())
    session.flush()
    session.add(CommunityConfig(community_id=cid, rules={**rules, "log_chat_id": log_chat.id}))
    for account in accounts.values():
        session.add(CommunityMember(community_id=cid, platform_account_id=account.id))
    session.commit()
    return World(
        cid,  # type: ignore[arg-type]
        tg_bot.id,  # type: ignore[arg-type]
        dc_bot.id,  # type: ignore[arg-type]
        log_chat.id,  # type: ignore[arg-type]
        group.id,  # type: ignore[arg-type]
        {p: a.id for p, a in accounts.items()},  # type: ignore[misc]
    )


def member(session: Session, world: World, platform: str) -> CommunityMember:
    session.expire_all()
    return session.exec(
        select(CommunityMember).where(
            CommunityMember.community_id == world.community_id,
            CommunityMember.platform_account_id == world.members[platform],
        )
    ).one()


def acts(pool: FakePool) -> list[PoolCall]:
    """Every call asked of the pool, except the lines posted to the log chat."""
    return [c for c in pool.requests.calls if c.params.get("chat_id") != "-999"]


def lines(pool: FakePool) -> list[str]:
    return [c.params["text"] for c in pool.executions.calls if c.params.get("chat_id") == "-999"]


# --- act -----------------------------------------------------------------------------------------


async def test_mute_on_discord_times_out_in_the_guild(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    world = make_world(sqlite_session)
    async with events.subscribe(moderation.TOPIC) as bus:
        outcome = await moderation.act(
            ADA,
            world.community_id,
            world.members["discord"],
            ModerationAction.mute,
            reason="spam",
            minutes=60,
        )
        announced = await bus.__anext__()
    [call] = acts(fake_pool)
    assert (call.kind, call.action, call.instance_id) == (
        "discord_bot",
        "timeout_member",
        world.dc_bot,
    )
    assert call.params == {
        "guild_id": "G1",
        "user_id": "D42",
        "reason": "spam",
        "duration_seconds": 3600,
    }
    assert call.idempotency_key == f"moderation:{outcome.log_id}:discord:G1:0"
    assert outcome.ok and outcome.results == [
        moderation.TargetResult("discord", "G1", True, None, world.community_id, "D42")
    ]
    muted = member(sqlite_session, world, "discord").muted_until
    assert muted and timedelta(minutes=59) < as_utc(muted) - as_utc(utcnow()) <= timedelta(
        minutes=60
    )
    entry = sqlite_session.get(ModerationLog, outcome.log_id)
    assert entry and (entry.action, entry.platform, entry.actor, entry.reason) == (
        "mute",
        "discord",
        "Ada",
        "spam",
    )
    assert entry.details["minutes"] == 60 and entry.details["results"][0]["ok"]
    assert entry.details["log_chat"] == {"chat_id": "-999", "ok": True, "error": None}
    assert lines(fake_pool) == ["🔇 Ann muted for 60 min by Ada — reason: spam"]
    log_post = fake_pool.executions.calls[-1]
    assert (log_post.kind, log_post.instance_id) == ("telegram_bot", world.tg_bot)
    assert announced.payload == {
        "log_id": outcome.log_id,
        "community_id": world.community_id,
        "account_id": world.members["discord"],
        "action": "mute",
        "actor": "Ada",
        "ok": True,
    }


async def test_telegram_kick_is_a_ban_lifted_at_once_in_each_live_group(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    world = make_world(sqlite_session)
    outcome = await moderation.act(
        ADA, world.community_id, world.members["telegram"], ModerationAction.kick
    )
    calls = [
        (c.kind, c.action, c.params, c.instance_id, c.idempotency_key) for c in acts(fake_pool)
    ]
    member_params = {"chat_id": "-100", "user_id": "42"}
    key = f"moderation:{outcome.log_id}:telegram:-100"
    assert calls == [  # -200 is gone: the bot left it
        ("telegram_bot", "ban_member", member_params, world.tg_bot, f"{key}:0"),
        ("telegram_bot", "unban_member", member_params, world.tg_bot, f"{key}:1"),
    ]
    assert member(sqlite_session, world, "telegram").left_at is not None
    assert lines(fake_pool) == ["👢 Ann (@ann) kicked by Ada"]


async def test_a_refusal_is_a_failed_target_and_leaves_the_flags(
    session: Session, fake_pool: FakePool
) -> None:
    world = make_world(session)
    fake_pool.fail("ban_member", "forbidden", "Bad Request: not enough rights to restrict/ban")
    outcome = await moderation.act(
        ADA, world.community_id, world.members["telegram"], ModerationAction.ban, reason="raid"
    )
    assert not outcome.ok
    assert outcome.results[0].error == "Bad Request: not enough rights to restrict/ban"
    assert not member(session, world, "telegram").is_banned
    entry = session.get(ModerationLog, outcome.log_id)
    assert entry and entry.details["results"][0]["error"] == outcome.results[0].error
    assert lines(fake_pool) == [
        "⛔ Ann (@ann) banned by Ada — reason: raid — failed: Telegram -100: "
        "Bad Request: not enough rights to restrict/ban"
    ]


async def test_whatsapp_cannot_mute_but_removes_for_a_ban(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    world = make_world(sqlite_session)
    wa = world.members["whatsapp"]
    muted = await moderation.act(ADA, world.community_id, wa, ModerationAction.mute, minutes=5)
    assert acts(fake_pool) == [] and not muted.ok
    assert (
        muted.results[0].skipped and muted.results[0].error == "Mute is not supported on WhatsApp"
    )
    assert member(sqlite_session, world, "whatsapp").muted_until is None
    fake_pool.results["remove_participants"] = {
        "participants": [{"id": "49@s.whatsapp.net", "error": "403"}]
    }
    refused = await moderation.act(ADA, world.community_id, wa, ModerationAction.ban)
    [call] = acts(fake_pool)
    assert (call.action, call.params) == (
        "remove_participants",
        {"group_id": "g@g.us", "participants": ["49@s.whatsapp.net"]},
    )
    assert refused.results[0].error == "WhatsApp refused 49@s.whatsapp.net: error 403"
    fake_pool.results["remove_participants"] = {
        "participants": [{"id": "49@s.whatsapp.net", "error": None}]
    }
    assert (await moderation.act(ADA, world.community_id, wa, ModerationAction.ban)).ok
    assert member(sqlite_session, world, "whatsapp").is_banned


async def test_a_telegram_account_connection_kicks_and_bans_but_cannot_mute(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    world = make_world(sqlite_session)
    account = BotInstance(name="me", kind="telegram_user")
    sqlite_session.add(account)
    sqlite_session.flush()
    group = sqlite_session.get(Chat, world.tg_group)
    assert group
    group.bot_instance_id = account.id
    sqlite_session.commit()
    tg = world.members["telegram"]
    await moderation.act(ADA, world.community_id, tg, ModerationAction.ban)
    [call] = acts(fake_pool)
    assert (call.kind, call.action, call.params) == (
        "telegram_user",
        "kick_member",
        {"chat_id": "-100", "user_id": "42", "ban": True},
    )
    muted = await moderation.act(ADA, world.community_id, tg, ModerationAction.mute)
    assert muted.results[0].error == "Mute is not supported on a Telegram account"


async def test_unmute_and_unban_clear_the_flags(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    world = make_world(sqlite_session)
    tg = world.members["telegram"]
    await moderation.act(ADA, world.community_id, tg, ModerationAction.mute)  # 28 days by default
    assert [c.params.get("duration_seconds") for c in acts(fake_pool)] == [28 * 24 * 3600]
    await moderation.act(ADA, world.community_id, tg, ModerationAction.ban)
    await moderation.act(ADA, world.community_id, tg, ModerationAction.unmute)
    await moderation.act(ADA, world.community_id, tg, ModerationAction.unban)
    assert [c.action for c in acts(fake_pool)] == [
        "mute_member",
        "ban_member",
        "unmute_member",
        "unban_member",
    ]
    row = member(sqlite_session, world, "telegram")
    assert row.muted_until is None and not row.is_banned


@pytest.mark.parametrize(
    ("action", "minutes", "message"),
    [
        (ModerationAction.warn, None, "not a sanction"),
        (ModerationAction.kick, 5, "Only a mute has a duration"),
        (ModerationAction.mute, 40_321, "1 to 40320 minutes"),
        (ModerationAction.mute, 0, "1 to 40320 minutes"),
    ],
)
async def test_act_refuses_what_is_not_a_sanction(
    sqlite_session: Session, action: ModerationAction, minutes: int | None, message: str
) -> None:
    world = make_world(sqlite_session)
    with pytest.raises(moderation.InvalidModeration, match=message):
        await moderation.act(
            ADA, world.community_id, world.members["telegram"], action, minutes=minutes
        )
    assert sqlite_session.exec(select(ModerationLog)).all() == []


async def test_unknown_community_or_account(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    with pytest.raises(NotFound, match="Community 999"):
        await moderation.act(ADA, 999, world.members["telegram"], ModerationAction.ban)
    with pytest.raises(NotFound, match="account 999"):
        await moderation.warn(ADA, world.community_id, 999, "spam")


def people(session: Session) -> tuple[AdminUser, AdminUser]:
    admin = create_user(session, "root", "a-long-password", Role.admin, actor=None)
    viewer = create_user(session, "vic", "a-long-password", Role.viewer, actor=admin)
    editor = create_user(session, "eddie", "a-long-password", Role.editor, actor=admin)
    session.commit()
    return viewer, editor


async def test_a_viewer_cannot_moderate_an_editor_can(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    world = make_world(sqlite_session)
    viewer, editor = people(sqlite_session)
    watcher = moderation.Actor.of_user(viewer)
    tg = world.members["telegram"]
    with pytest.raises(PermissionDenied):
        await moderation.act(watcher, world.community_id, tg, ModerationAction.ban)
    with pytest.raises(PermissionDenied):
        await moderation.warn(watcher, world.community_id, tg, "spam")
    with pytest.raises(PermissionDenied):
        await moderation.ban_everywhere(watcher, tg, "raid")
    with pytest.raises(PermissionDenied):
        await moderation.delete_message(watcher, world.community_id, world.tg_group, "7", "spam")
    assert fake_pool.requests.calls == [] and sqlite_session.exec(select(ModerationLog)).all() == []
    done = await moderation.act(
        moderation.Actor.of_user(editor), world.community_id, tg, ModerationAction.ban
    )
    entry = sqlite_session.get(ModerationLog, done.log_id)
    assert done.ok and entry and entry.actor == "eddie"


# --- warnings -------------------------------------------------------------------------------------


async def test_warnings_expire_per_platform_and_ban_before_mute(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    world = make_world(
        sqlite_session,
        warnings={"mute_at": 2, "ban_at": 2, "expire_days": 30},
        overrides={"discord": {"warnings": {"expire_days": 1}}},
    )
    dc = world.members["discord"]
    first = await moderation.warn(ADA, world.community_id, dc, "spam")
    assert (first.active_warnings, first.sanction, first.outcome) == (1, "none", None)
    warning = sqlite_session.get(Warning, first.warning_id)
    assert warning and warning.issued_by == "Ada"
    assert timedelta(hours=23) < as_utc(warning.expires_at) - as_utc(utcnow()) <= timedelta(days=1)  # type: ignore[arg-type]
    second = await moderation.warn(ADA, world.community_id, dc, "spam again")
    assert second.sanction == "ban" and second.outcome and second.outcome.ok
    assert [c.action for c in acts(fake_pool)] == ["ban_member"]
    ban = sqlite_session.get(ModerationLog, second.outcome.log_id)
    assert ban and ban.actor == "Ada (threshold)" and ban.reason == "2 active warnings: spam again"
    assert ban.details["warnings"] == 2 and ban.details["warning_id"] == second.warning_id
    assert lines(fake_pool)[:2] == [
        "⚠️ Ann warned (1 active) by Ada — reason: spam",
        "⚠️ Ann warned (2 active) by Ada — reason: spam again",
    ]
    assert member(sqlite_session, world, "discord").is_banned


async def test_linked_accounts_count_together_and_expired_ones_do_not(
    session: Session, fake_pool: FakePool
) -> None:
    world = make_world(session, warnings={"mute_at": 3, "ban_at": None, "mute_minutes": 15})
    person = UserIdentity(display_name="Ann")
    session.add(person)
    session.flush()
    for account_id in (world.members["telegram"], world.members["discord"]):
        session.get(PlatformAccount, account_id).identity_id = person.id  # type: ignore[union-attr]
    old = Warning(
        community_id=world.community_id,
        platform_account_id=world.members["discord"],
        expires_at=utcnow() - timedelta(days=1),
    )
    session.add(old)
    session.commit()
    await moderation.warn(ADA, world.community_id, world.members["discord"], "one")
    await moderation.warn(ADA, world.community_id, world.members["telegram"], "two")
    third = await moderation.warn(ADA, world.community_id, world.members["telegram"], "three")
    assert (third.active_warnings, third.sanction) == (3, "mute")
    [call] = acts(fake_pool)  # the warned account is muted, on its own platform
    assert (call.action, call.params) == (
        "mute_member",
        {"chat_id": "-100", "user_id": "42", "duration_seconds": 900},
    )


async def test_revoke_warning(sqlite_session: Session, fake_pool: FakePool) -> None:
    world = make_world(sqlite_session)
    viewer, editor = people(sqlite_session)
    tg = world.members["telegram"]
    made = await moderation.warn(ADA, world.community_id, tg, "spam")
    with pytest.raises(PermissionDenied):
        moderation.revoke_warning(
            sqlite_session, moderation.Actor.of_user(viewer), made.warning_id, "oops"
        )
    async with events.subscribe(moderation.TOPIC) as bus:
        moderation.revoke_warning(
            sqlite_session, moderation.Actor.of_user(editor), made.warning_id, "my mistake"
        )
        sqlite_session.commit()
        announced = await bus.__anext__()
    assert announced.payload["action"] == "unwarn" and announced.payload["actor"] == "eddie"
    assert moderation.active_warnings(sqlite_session, world.community_id, tg) == 0
    entry = sqlite_session.exec(select(ModerationLog).where(ModerationLog.action == "unwarn")).one()
    assert (entry.reason, entry.details, entry.target_account_id) == (
        "my mistake",
        {"warning_id": made.warning_id},
        tg,
    )
    with pytest.raises(Conflict, match="already revoked"):
        moderation.revoke_warning(sqlite_session, ADA, made.warning_id, "again")
    with pytest.raises(NotFound):
        moderation.revoke_warning(sqlite_session, ADA, 999, "none")


# --- everywhere ---------------------------------------------------------------------------------


async def test_ban_everywhere_once_per_chat_and_linked_account(
    session: Session, fake_pool: FakePool
) -> None:
    world = make_world(session)
    other = Community(name="Other")
    session.add(other)
    session.flush()
    session.add(Chat(platform="telegram", platform_chat_id="-300", community_id=other.id))
    person = UserIdentity(display_name="Ann")
    session.add(person)
    session.flush()
    for account_id in (world.members["telegram"], world.members["discord"]):
        session.get(PlatformAccount, account_id).identity_id = person.id  # type: ignore[union-attr]
    # A member of the other community on Discord only: their Telegram account is banned on its
    # Telegram chat all the same, and their Discord membership flagged (no Discord chat there).
    assert other.id
    session.add(
        CommunityMember(community_id=other.id, platform_account_id=world.members["discord"])
    )
    session.commit()
    outcome = await moderation.ban_everywhere(ADA, world.members["discord"], "raid")
    calls = sorted(
        (c.action, c.params.get("chat_id") or c.params.get("guild_id"), c.params["user_id"])
        for c in acts(fake_pool)
    )
    assert calls == [
        ("ban_member", "-100", "42"),
        ("ban_member", "-300", "42"),
        ("ban_member", "G1", "D42"),
    ]
    assert outcome.ok and len(outcome.results) == 3 and len(outcome.log_ids) == 4
    logs = session.exec(select(ModerationLog)).all()
    assert sorted((log.community_id or 0, str(log.platform)) for log in logs) == [
        (world.community_id, "discord"),
        (world.community_id, "telegram"),
        (other.id, "discord"),
        (other.id, "telegram"),
    ]
    assert all(log.details["everywhere"] and log.action == "ban" for log in logs)
    assert (
        member(session, world, "telegram").is_banned and member(session, world, "discord").is_banned
    )
    fake_pool.requests.calls.clear()
    lifted = await moderation.ban_everywhere(ADA, world.members["telegram"], "appeal", unban=True)
    assert lifted.ok and sorted(c.action for c in acts(fake_pool)) == ["unban_member"] * 3
    assert not member(session, world, "discord").is_banned


async def test_ban_everywhere_of_someone_in_no_community(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    make_world(sqlite_session)
    loner = PlatformAccount(platform="telegram", platform_user_id="7")
    sqlite_session.add(loner)
    sqlite_session.commit()
    outcome = await moderation.ban_everywhere(ADA, loner.id, "raid")  # type: ignore[arg-type]
    assert (outcome.log_id, outcome.results, fake_pool.requests.calls) == (None, [], [])


# --- messages -------------------------------------------------------------------------------------


async def test_delete_message(sqlite_session: Session, fake_pool: FakePool) -> None:
    world = make_world(sqlite_session)
    tg = world.members["telegram"]
    outcome = await moderation.delete_message(
        ADA, world.community_id, world.tg_group, "7", "link", account_id=tg
    )
    [call] = acts(fake_pool)
    assert (call.kind, call.action, call.params) == (
        "telegram_bot",
        "delete_message",
        {"chat_id": "-100", "message_id": "7"},
    )
    entry = sqlite_session.get(ModerationLog, outcome.log_id)
    assert entry and entry.action == "delete_message" and entry.target_account_id == tg
    assert entry.details["message_id"] == "7" and lines(fake_pool) == [
        "🗑 Ann (@ann) had a message deleted by Ada — reason: link"
    ]
    group = sqlite_session.exec(select(Chat).where(Chat.platform == "whatsapp")).one()
    blind = await moderation.delete_message(ADA, world.community_id, group.id, "ABC", "link")  # type: ignore[arg-type]
    assert blind.results[0].skipped and "without its sender" in (blind.results[0].error or "")
    with pytest.raises(NotFound, match="not a chat of community"):
        await moderation.delete_message(ADA, world.community_id, world.log_chat, "1", "x")

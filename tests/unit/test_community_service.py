"""Communities: names, roles, chats (one community each, Discord guilds whole), the picker,
rules with per-field errors, deleting with or without moving, and the pool's chat lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from engine.db import session_scope
from engine.models import (
    AdminUser,
    AuditLog,
    BotInstance,
    Chat,
    Community,
    CommunityConfig,
    CommunityMember,
    ConnectorKind,
    ModerationLog,
    PlatformAccount,
    PlatformConnection,
    ReputationEvent,
    ReputationScore,
    Role,
    Warning,
    utcnow,
)
from engine.services import auth, communities
from engine.services.communities import (
    ChatFilters,
    ChatNotFound,
    ChatTaken,
    CommunityNotFound,
    InvalidCommunity,
    InvalidRules,
)
from engine.services.errors import NotFound
from tests.fakes.pool import FakePool
from tests.flow_helpers import make_admin


def user(session: Session, role: Role) -> AdminUser:
    made = auth.create_user(session, f"u_{role.value}", "a-long-password", role, actor=make_admin())
    session.commit()
    return made


def connection(session: Session, kind: ConnectorKind, name: str) -> tuple[int, int]:
    """(connection id, instance id) of a new connection of ``kind``."""
    instance = BotInstance(name=name, kind=kind)
    session.add(instance)
    session.flush()
    link = PlatformConnection(bot_instance_id=instance.id or 0)
    session.add(link)
    session.commit()
    return link.id or 0, instance.id or 0


def chat(session: Session, platform: str, chat_id: str, title: str, **fields: object) -> Chat:
    row = Chat(platform=platform, platform_chat_id=chat_id, title=title, **fields)
    session.add(row)
    session.commit()
    return row


def account(session: Session, platform: str, user_id: str) -> PlatformAccount:
    row = PlatformAccount(platform=platform, platform_user_id=user_id, display_name=user_id)
    session.add(row)
    session.commit()
    return row


def member(session: Session, community_id: int, account_id: int, **fields: object) -> None:
    session.add(
        CommunityMember(community_id=community_id, platform_account_id=account_id, **fields)
    )
    session.commit()


def test_create_list_rename_with_clear_names(sqlite_session: Session) -> None:
    admin = make_admin()
    made = communities.create_community(sqlite_session, admin, "  Photo   club ", "Cameras")
    sqlite_session.commit()
    assert made.name == "Photo club"
    with pytest.raises(InvalidCommunity, match="already a community named 'photo CLUB'"):
        communities.create_community(sqlite_session, admin, "photo CLUB")
    with pytest.raises(InvalidCommunity, match="Give the community a name"):
        communities.create_community(sqlite_session, admin, "   ")
    other = communities.create_community(sqlite_session, admin, "Hikers")
    with pytest.raises(InvalidCommunity, match="already a community"):
        communities.update_community(sqlite_session, admin, other.id or 0, name="Photo Club")
    communities.update_community(sqlite_session, admin, made.id or 0, name="photo club")
    communities.update_community(sqlite_session, admin, other.id or 0, description=" Trails ")
    sqlite_session.commit()
    views = communities.list_communities(sqlite_session)
    assert [(v.name, v.description) for v in views] == [
        ("Hikers", "Trails"),
        ("photo club", "Cameras"),
    ]
    assert views[0].chats_by_platform == {} and views[0].member_count == 0
    assert communities.get_rules(sqlite_session, made.id or 0) == communities.CommunityRules()
    actions = sqlite_session.exec(select(AuditLog.action)).all()
    assert actions.count("community_created") == 2 and "community_updated" in actions
    with pytest.raises(CommunityNotFound, match="Community 999 does not exist"):
        communities.get_community(sqlite_session, 999)


def test_viewers_look_editors_edit_admins_delete(sqlite_session: Session) -> None:
    made = communities.create_community(sqlite_session, make_admin(), "Club")
    sqlite_session.commit()
    cid = made.id or 0
    telegram = chat(sqlite_session, "telegram", "-100", "Group")
    viewer, editor = user(sqlite_session, Role.viewer), user(sqlite_session, Role.editor)
    for change in (
        lambda who: communities.create_community(sqlite_session, who, "New"),
        lambda who: communities.update_community(sqlite_session, who, cid, name="X"),
        lambda who: communities.attach_chats(sqlite_session, who, cid, [telegram.id or 0]),
        lambda who: communities.update_rules(sqlite_session, who, cid, {"rules_text": "Be kind"}),
        lambda who: communities.save_rules(sqlite_session, who, cid, {}),
        lambda who: communities.delete_community(sqlite_session, who, cid),
    ):
        with pytest.raises(auth.PermissionDenied):
            change(viewer)
    communities.attach_chats(sqlite_session, editor, cid, [telegram.id or 0])
    communities.update_rules(sqlite_session, editor, cid, {"rules_text": "Be kind"})
    with pytest.raises(auth.PermissionDenied):
        communities.delete_community(sqlite_session, editor, cid)
    assert communities.get_community(sqlite_session, cid).chats_by_platform == {"telegram": 1}


def test_a_chat_belongs_to_one_community_and_a_guild_goes_whole(sqlite_session: Session) -> None:
    admin = make_admin()
    club = communities.create_community(sqlite_session, admin, "Club").id or 0
    other = communities.create_community(sqlite_session, admin, "Other").id or 0
    group = chat(sqlite_session, "telegram", "-100", "Group")
    guild = chat(sqlite_session, "discord", "g1", "Server", type="guild")
    general = chat(sqlite_session, "discord", "c1", "general", type="text", parent_chat_id="g1")
    memes = chat(sqlite_session, "discord", "c2", "memes", type="text", parent_chat_id="g1")
    gone = chat(sqlite_session, "whatsapp", "w@g.us", "Left", gone_at=utcnow())

    attached = communities.attach_chats(
        sqlite_session, admin, club, [general.id or 0, group.id or 0]
    )
    assert sorted(attached) == sorted([guild.id, general.id, memes.id, group.id])
    assert communities.attach_chats(sqlite_session, admin, club, [memes.id or 0]) == []
    with pytest.raises(ChatTaken, match="Discord chat 'memes' belongs to the community 'Club'"):
        communities.attach_chats(sqlite_session, admin, other, [memes.id or 0])
    with pytest.raises(ChatNotFound, match="gone"):
        communities.attach_chats(sqlite_session, admin, other, [gone.id or 0])
    with pytest.raises(ChatNotFound, match="never discovered"):
        communities.attach_chats(sqlite_session, admin, other, [12345])
    assert communities.get_community(sqlite_session, club).chats_by_platform == {
        "discord": 1,  # the guild, not each channel
        "telegram": 1,
    }
    listed = communities.community_chats(sqlite_session, club)
    assert [c.title for c in listed] == ["Server", "general", "memes", "Group"]

    detached = communities.detach_chat(sqlite_session, admin, club, general.id or 0)
    assert sorted(detached) == sorted([guild.id, general.id, memes.id])
    with pytest.raises(ChatNotFound, match="not attached to community"):
        communities.detach_chat(sqlite_session, admin, club, guild.id or 0)
    communities.attach_chats(sqlite_session, admin, other, [guild.id or 0])
    assert {c.title for c in communities.community_chats(sqlite_session, other)} == {
        "Server",
        "general",
        "memes",
    }


def test_a_channel_whose_guild_was_not_seen_brings_a_guild_row(sqlite_session: Session) -> None:
    admin = make_admin()
    club = communities.create_community(sqlite_session, admin, "Club").id or 0
    channel = chat(sqlite_session, "discord", "c9", "news", type="text", parent_chat_id="g9")
    communities.attach_chats(sqlite_session, admin, club, [channel.id or 0])
    guild = sqlite_session.exec(select(Chat).where(Chat.platform_chat_id == "g9")).one()
    assert (guild.community_id, guild.type) == (club, "guild")


def test_the_picker_filters_and_says_where_each_chat_is(sqlite_session: Session) -> None:
    admin = make_admin()
    club = communities.create_community(sqlite_session, admin, "Club").id or 0
    tg_conn, tg_instance = connection(sqlite_session, ConnectorKind.telegram_bot, "Helper bot")
    _, dc_instance = connection(sqlite_session, ConnectorKind.discord_bot, "Discord bot")
    first = chat(sqlite_session, "telegram", "-1", "Cats 50%", bot_instance_id=tg_instance)
    chat(sqlite_session, "telegram", "-2", "Dogs", bot_instance_id=tg_instance, username="dogs")
    chat(sqlite_session, "discord", "g", "Server", type="guild", bot_instance_id=dc_instance)
    chat(sqlite_session, "telegram", "-3", "Old", bot_instance_id=tg_instance, gone_at=utcnow())
    communities.attach_chats(sqlite_session, admin, club, [first.id or 0])

    def titles(**filters: object) -> list[str]:
        found = communities.chat_page(sqlite_session, ChatFilters(**filters), 50)  # type: ignore[arg-type]
        return [c.title for c in found]

    assert titles() == ["Server", "Dogs", "Cats 50%"]
    assert titles(platform="telegram") == ["Dogs", "Cats 50%"]
    assert titles(connection_id=tg_conn, include_gone=True) == ["Old", "Dogs", "Cats 50%"]
    assert titles(search="DOG") == ["Dogs"] and titles(search="50%") == ["Cats 50%"]
    assert titles(search="%") == ["Cats 50%"]  # a wildcard is a character, not "anything"
    assert titles(attached=False) == ["Server", "Dogs"] and titles(attached=True) == ["Cats 50%"]
    [cats] = communities.chat_page(sqlite_session, ChatFilters(community_id=club), 50)
    assert (cats.community_name, cats.connection_id, cats.connection_name) == (
        "Club",
        tg_conn,
        "Helper bot",
    )
    page = communities.chat_page(sqlite_session, ChatFilters(), 1, before=cats.chat_id + 2)
    assert [c.title for c in page] == ["Dogs"]


def test_rules_per_section_whole_and_errors_per_field(sqlite_session: Session) -> None:
    admin = make_admin()
    club = communities.create_community(sqlite_session, admin, "Club").id or 0
    log = chat(sqlite_session, "telegram", "-9", "Mods")
    communities.update_rules(
        sqlite_session, admin, club,
        {"antilink": {"enabled": True, "allowed_domains": ["www.Example.com"]}},
    )  # fmt: skip
    rules = communities.update_rules(
        sqlite_session,
        admin,
        club,
        {
            "antilink": {"action": "delete_mute"},
            "log_chat_id": log.id,
            "overrides": {"discord": {"welcome": {"message": "Hi {{ member.name }}"}}},
        },
    )
    assert rules.antilink.enabled and rules.antilink.allowed_domains == ["example.com"]
    assert rules.antilink.action == "delete_mute" and rules.log_chat_id == log.id
    assert rules.for_platform("discord").welcome.message == "Hi {{ member.name }}"
    assert communities.get_rules(sqlite_session, club) == rules
    stored = sqlite_session.exec(select(CommunityConfig.rules)).one()
    assert stored["antilink"]["allowed_domains"] == ["example.com"]

    with pytest.raises(InvalidRules) as wrong:
        communities.update_rules(
            sqlite_session, admin, club,
            {"warnings": {"mute_at": 0}, "antilink": {"allowed_domains": ["not a domain"]}},
        )  # fmt: skip
    assert set(wrong.value.errors) == {"warnings.mute_at", "antilink.allowed_domains"}
    assert "not a domain name: not a domain" in wrong.value.errors["antilink.allowed_domains"]
    with pytest.raises(InvalidRules) as wrong:
        communities.update_rules(
            sqlite_session, admin, club, {"overrides": {"discord": {"welcome": {"nope": 1}}}}
        )
    assert list(wrong.value.errors) == ["overrides.discord.welcome.nope"]
    with pytest.raises(InvalidRules) as wrong:
        communities.update_rules(
            sqlite_session, admin, club, {"overrides": {"irc": {"rules_text": "x"}}}
        )
    assert "overrides.irc" in wrong.value.errors
    with pytest.raises(InvalidRules) as wrong:
        communities.save_rules(sqlite_session, admin, club, {"log_chat_id": 404})
    assert wrong.value.errors == {"log_chat_id": "chat 404 is not a discovered chat"}
    with pytest.raises(InvalidRules, match="banned_words.words: not a valid regular expression"):
        communities.save_rules(
            sqlite_session, admin, club,
            {"banned_words": {"words": [{"pattern": "(", "regex": True}]}},
        )  # fmt: skip

    saved = communities.save_rules(sqlite_session, admin, club, {"rules_text": "Be kind"})
    assert saved.rules_text == "Be kind" and not saved.antilink.enabled  # whole: the rest reset
    cleared = communities.update_rules(sqlite_session, admin, club, {"overrides": {"discord": {}}})
    assert cleared.overrides == {}


def _populated(session: Session, admin: AdminUser) -> tuple[int, int, int, int]:
    """Two communities sharing one account; (source, target, shared account, own account)."""
    source = communities.create_community(session, admin, "Old club").id or 0
    target = communities.create_community(session, admin, "New club").id or 0
    shared, own = account(session, "telegram", "1"), account(session, "telegram", "2")
    early, late = utcnow() - timedelta(days=9), utcnow()
    member(session, source, shared.id or 0, joined_at=early, message_count=3, is_banned=True)
    member(session, target, shared.id or 0, last_active_at=late, message_count=4)
    member(session, source, own.id or 0, message_count=1)
    session.add_all(
        [
            Warning(community_id=source, platform_account_id=shared.id or 0, reason="spam"),
            ModerationLog(community_id=source, actor="admin", reason="spam"),
            ReputationEvent(community_id=source, platform_account_id=own.id or 0, delta=2),
            ReputationScore(community_id=source, platform_account_id=shared.id or 0, score=2),
            ReputationScore(community_id=target, platform_account_id=shared.id or 0, score=5),
        ]
    )
    communities.attach_chats(
        session, admin, source, [chat(session, "telegram", "-5", "Old group").id or 0]
    )
    session.commit()
    return source, target, shared.id or 0, own.id or 0


def test_deleting_takes_members_warnings_logs_and_reputation(sqlite_session: Session) -> None:
    admin = make_admin()
    source, target, _, _ = _populated(sqlite_session, admin)
    with pytest.raises(InvalidCommunity, match="Type the community's name, 'Old club'"):
        communities.delete_community(sqlite_session, admin, source, confirm_name="old")
    communities.delete_community(sqlite_session, admin, source, confirm_name="Old club")
    sqlite_session.commit()
    assert sqlite_session.get(Community, source) is None
    for model in (CommunityMember, Warning, ModerationLog, ReputationEvent, ReputationScore):
        communities_left = set(sqlite_session.exec(select(model.community_id)).all())  # type: ignore[attr-defined]
        assert source not in communities_left and communities_left <= {target}
    assert sqlite_session.exec(select(Chat.community_id)).all() == [None]
    assert communities.get_community(sqlite_session, target).member_count == 1


def test_deleting_into_another_merges_members(sqlite_session: Session) -> None:
    admin = make_admin()
    source, target, shared, own = _populated(sqlite_session, admin)
    with pytest.raises(InvalidCommunity, match="another community"):
        communities.delete_community(sqlite_session, admin, source, move_to=source)
    with pytest.raises(CommunityNotFound):
        communities.delete_community(sqlite_session, admin, source, move_to=999)
    communities.delete_community(sqlite_session, admin, source, move_to=target)
    sqlite_session.commit()
    members = {m.platform_account_id: m for m in sqlite_session.exec(select(CommunityMember)).all()}
    assert set(members) == {shared, own} and {m.community_id for m in members.values()} == {target}
    kept = members[shared]
    assert kept.message_count == 7 and kept.is_banned and kept.last_active_at is not None
    assert kept.joined_at < utcnow() - timedelta(days=8)
    assert sqlite_session.exec(select(ReputationScore.score)).all() == [7]
    for model in (Warning, ModerationLog, ReputationEvent, Chat):
        assert set(sqlite_session.exec(select(model.community_id)).all()) == {target}  # type: ignore[attr-defined]
    view = communities.get_community(sqlite_session, target)
    assert view.member_count == 2 and view.chats_by_platform == {"telegram": 1}
    deleted = sqlite_session.exec(
        select(AuditLog).where(AuditLog.action == "community_deleted")
    ).one()
    assert deleted.details == {"name": "Old club", "moved_to": target}


async def test_refresh_records_what_the_connection_lists(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    conn, instance = connection(sqlite_session, ConnectorKind.discord_bot, "Discord bot")
    fake_pool.results["list_chats"] = {
        "chats": [
            {"id": "g1", "type": "guild", "title": "Server", "member_count": 40,
             "bot_is_admin": True, "guild_id": None, "username": None},
            {"id": "c1", "type": "text", "title": "general", "guild_id": "g1",
             "member_count": None, "bot_is_admin": True, "username": None},
        ]
    }  # fmt: skip
    with session_scope() as session:
        target = communities.authorize_refresh(session, make_admin(), conn)
    done = await communities.refresh_chats(target)
    assert done.error is None and done.seen == 2
    [call] = fake_pool.executions.calls
    assert (call.kind, call.action, call.instance_id) == ("discord_bot", "list_chats", instance)
    rows = {c.platform_chat_id: c for c in sqlite_session.exec(select(Chat)).all()}
    assert rows["g1"].title == "Server" and rows["g1"].member_count == 40
    assert rows["c1"].parent_chat_id == "g1" and rows["g1"].bot_instance_id == instance

    fake_pool.fail("list_chats", "platform", "Missing Access")
    refused = await communities.refresh_chats(target)
    assert refused.error == "Missing Access" and refused.seen == 0
    with pytest.raises(auth.PermissionDenied):
        communities.authorize_refresh(sqlite_session, user(sqlite_session, Role.viewer), conn)
    with pytest.raises(NotFound, match="Connection 999 does not exist"):
        communities.authorize_refresh(sqlite_session, make_admin(), 999)


async def test_backfill_records_members_and_reports_refusals(
    sqlite_session: Session, fake_pool: FakePool
) -> None:
    admin = make_admin()
    club = communities.create_community(sqlite_session, admin, "Club").id or 0
    _, tg = connection(sqlite_session, ConnectorKind.telegram_bot, "Bot")
    _, wa = connection(sqlite_session, ConnectorKind.whatsapp_user, "Phone")
    group = chat(sqlite_session, "telegram", "-100", "Group", bot_instance_id=tg)
    chat_ids = communities.attach_chats(sqlite_session, admin, club, [group.id or 0])
    whatsapp = chat(sqlite_session, "whatsapp", "1@g.us", "Family", bot_instance_id=wa)
    chat_ids += communities.attach_chats(sqlite_session, admin, club, [whatsapp.id or 0])
    sqlite_session.commit()
    owner = {"id": "7", "username": "ann", "first_name": "Ann", "last_name": None,
             "display_name": "Ann", "is_bot": False, "language": "en"}  # fmt: skip
    fake_pool.results["list_members"] = {
        "members": [{"user": owner, "role": "owner", "phone": None}]
    }
    fake_pool.fail("list_members", "platform", "not logged in")  # the first chat asked only

    done = {b.title: b for b in await communities.backfill_members(club, chat_ids)}
    asked = sorted(
        c.params["chat_id"] for c in fake_pool.requests.calls if c.action == "list_members"
    )
    assert asked == ["-100", "1@g.us"]
    refused = [b for b in done.values() if b.error]
    recorded = [b for b in done.values() if not b.error]
    assert len(refused) == 1 and refused[0].error == "not logged in"
    assert len(recorded) == 1 and recorded[0].recorded == 1
    assert communities.get_community(sqlite_session, club).member_count == 1

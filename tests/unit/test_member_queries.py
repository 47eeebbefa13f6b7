"""The Members page's queries on a real (SQLite) database: every sort walked page by page
against the order Python computes, each filter, the cursor's refusals, and the member detail
with its linked accounts counted together."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlmodel import Session

from engine.models import (
    AdminUser,
    Community,
    CommunityMember,
    MemberRole,
    ModerationAction,
    ModerationLog,
    Platform,
    PlatformAccount,
    ReputationEvent,
    ReputationScore,
    Role,
    UserIdentity,
    Warning,
    utcnow,
)
from engine.services import members
from engine.services.auth import PermissionDenied
from engine.services.members import MemberFilter, MemberSort

NOW = utcnow()


def _account(session: Session, n: int, platform: Platform, **fields: object) -> PlatformAccount:
    named = {"username": f"user{n}", "display_name": f"Person {n}", **fields}
    account = PlatformAccount(platform=platform, platform_user_id=str(1000 + n), **named)
    session.add(account)
    session.flush()
    return account


def _community(session: Session, name: str = "Makers") -> int:
    community = Community(name=name)
    session.add(community)
    session.flush()
    return community.id or 0


def _seed(session: Session, count: int = 37) -> int:
    """``count`` members with varied activity; some never active, some tied on every sort."""
    rng = random.Random(3)
    community_id = _community(session)
    platforms = list(Platform)
    for n in range(count):
        account = _account(session, n, platforms[n % 3])
        active = None if n % 5 == 0 else NOW - timedelta(minutes=rng.randrange(0, 20))
        session.add(
            CommunityMember(
                community_id=community_id,
                platform_account_id=account.id or 0,
                joined_at=NOW - timedelta(days=rng.randrange(0, 4)),
                last_active_at=active,
                message_count=rng.randrange(0, 6),
                role=MemberRole.admin if n % 7 == 0 else MemberRole.member,
            )
        )
        for _ in range(n % 3):
            session.add(
                Warning(community_id=community_id, platform_account_id=account.id or 0, reason="x")
            )
        if n % 4:
            session.add(
                ReputationScore(
                    community_id=community_id,
                    platform_account_id=account.id or 0,
                    score=rng.randrange(-3, 4),
                )
            )
    session.commit()
    return community_id


def _walk(
    session: Session, community_id: int, sort: MemberSort, limit: int, **filters: object
) -> list[members.MemberRow]:
    rows: list[members.MemberRow] = []
    cursor = None
    for _ in range(1000):
        page = members.member_page(
            session,
            community_id,
            sort=sort,
            limit=limit,
            cursor=cursor,
            filters=MemberFilter(**filters),  # type: ignore[arg-type]
        )
        rows += page.rows
        if page.next_cursor is None:
            return rows
        assert len(page.rows) == limit
        cursor = page.next_cursor
    raise AssertionError("the pages never ended")


def _key(sort: MemberSort, row: members.MemberRow) -> tuple[object, ...]:
    """Descending by the sort's value, then by id; members never active last."""
    if sort is MemberSort.last_active:
        ranked = row.last_active_at is not None
        stamp = members._aware(row.last_active_at).timestamp() if row.last_active_at else 0
        return (not ranked, -stamp, -row.member_id)
    value = {
        MemberSort.joined: lambda r: members._aware(r.joined_at).timestamp(),
        MemberSort.messages: lambda r: r.message_count,
        MemberSort.warnings: lambda r: r.active_warnings,
        MemberSort.reputation: lambda r: r.reputation,
    }[sort](row)
    return (-value, -row.member_id)


@pytest.mark.parametrize("sort", list(MemberSort))
@pytest.mark.parametrize("limit", [1, 4, 50])
def test_each_sort_pages_through_everyone_once_in_order(
    sqlite_session: Session, sort: MemberSort, limit: int
) -> None:
    community_id = _seed(sqlite_session)
    rows = _walk(sqlite_session, community_id, sort, limit)
    assert len({r.member_id for r in rows}) == len(rows) == 37
    assert rows == sorted(rows, key=lambda r: _key(sort, r))


def test_warnings_and_reputation_are_on_each_row(sqlite_session: Session) -> None:
    community_id = _seed(sqlite_session)
    rows = _walk(sqlite_session, community_id, MemberSort.warnings, 50)
    assert {r.platform_user_id: r.active_warnings for r in rows}["1005"] == 2
    assert rows[0].active_warnings == 2 and rows[-1].active_warnings == 0


def _one(session: Session, community_id: int, **filters: object) -> set[str]:
    """The platform user ids the filter keeps."""
    return {
        r.platform_user_id for r in _walk(session, community_id, MemberSort.joined, 200, **filters)
    }


def test_filters_and_search(sqlite_session: Session) -> None:
    session = sqlite_session
    community_id = _community(session, "Filters")
    other = _community(session, "Elsewhere")
    made: dict[str, int] = {}
    specs = {
        "plain": {},
        "warned": {},
        "expired": {},
        "revoked": {},
        "muted": {"muted_until": NOW + timedelta(hours=1)},
        "was_muted": {"muted_until": NOW - timedelta(hours=1)},
        "banned": {"is_banned": True},
        "left": {"left_at": NOW - timedelta(days=1)},
        "old": {"joined_at": NOW - timedelta(days=40)},
        "owner": {"role": MemberRole.owner},
    }
    for n, (label, fields) in enumerate(specs.items()):
        platform = Platform.discord if label == "owner" else Platform.telegram
        account = _account(session, n, platform, display_name=f"{label} 100%_match")
        account.username = f"{label}_u"
        made[label] = account.id or 0
        session.add(
            CommunityMember(
                community_id=community_id, platform_account_id=account.id or 0, **fields
            )
        )
    session.add(CommunityMember(community_id=other, platform_account_id=made["plain"]))
    for label, extra in (
        ("warned", {}),
        ("expired", {"expires_at": NOW - timedelta(days=1)}),
        ("revoked", {"revoked_at": NOW - timedelta(hours=2)}),
    ):
        session.add(Warning(community_id=community_id, platform_account_id=made[label], **extra))
    session.add(Warning(community_id=other, platform_account_id=made["plain"]))
    session.commit()
    ids = {label: str(1000 + n) for n, label in enumerate(specs)}

    def pick(*labels: str) -> set[str]:
        return {ids[label] for label in labels}

    assert _one(session, community_id) == set(ids.values())
    assert _one(session, community_id, warned=True) == pick("warned")
    assert len(_one(session, community_id, warned=False)) == len(specs) - 1
    assert _one(session, community_id, muted=True) == pick("muted")
    assert _one(session, community_id, banned=True) == pick("banned")
    assert _one(session, community_id, left=True) == pick("left")
    assert ids["left"] not in _one(session, community_id, left=False)
    assert ids["old"] not in _one(session, community_id, joined_within_days=30)
    assert _one(session, community_id, joined_within_days=60) == set(ids.values())
    assert _one(session, community_id, platform=Platform.discord) == pick("owner")
    assert _one(session, community_id, role=MemberRole.owner) == pick("owner")
    assert _one(session, community_id, search="@MUTED") == pick("muted", "was_muted")
    assert _one(session, community_id, search="banned 100") == pick("banned")
    assert _one(session, community_id, search=ids["old"]) == pick("old")
    # % and _ are letters in a search, not wildcards
    assert _one(session, community_id, search="100%_") == set(ids.values())
    assert _one(session, community_id, search="ain_1") == set()
    assert _one(session, community_id, search="1%0") == set()
    assert _one(session, other) == pick("plain")


def test_refusals(sqlite_session: Session) -> None:
    community_id = _seed(sqlite_session, 5)
    page = members.member_page(sqlite_session, community_id, limit=2)
    assert page.next_cursor
    with pytest.raises(members.InvalidMemberQuery, match="cursor"):
        members.member_page(
            sqlite_session, community_id, sort=MemberSort.joined, cursor=page.next_cursor
        )
    for cursor in ("not-base64!", "e30=", page.next_cursor[:-4]):
        with pytest.raises(members.InvalidMemberQuery):
            members.member_page(sqlite_session, community_id, cursor=cursor)
    with pytest.raises(members.InvalidMemberQuery, match="1 to 3650"):
        members.member_page(
            sqlite_session, community_id, filters=MemberFilter(joined_within_days=0)
        )
    with pytest.raises(members.InvalidMemberQuery, match="characters"):
        members.member_page(sqlite_session, community_id, filters=MemberFilter(search="x" * 200))
    with pytest.raises(members.MemberNotFound):
        members.member_page(sqlite_session, 999)
    with pytest.raises(members.MemberNotFound):
        members.member_detail(sqlite_session, 999)


def test_detail_counts_linked_accounts_together(sqlite_session: Session) -> None:
    session = sqlite_session
    here, there = _community(session, "Here"), _community(session, "There")
    identity = UserIdentity(display_name="Ada")
    session.add(identity)
    session.flush()
    telegram = _account(session, 1, Platform.telegram, identity_id=identity.id)
    discord = _account(session, 2, Platform.discord, identity_id=identity.id, phone="+100")
    stranger = _account(session, 3, Platform.telegram)
    member = CommunityMember(community_id=here, platform_account_id=telegram.id or 0)
    session.add(member)
    session.add(
        CommunityMember(community_id=here, platform_account_id=discord.id or 0, message_count=4)
    )
    session.add(
        CommunityMember(community_id=there, platform_account_id=discord.id or 0, is_banned=True)
    )
    session.add(CommunityMember(community_id=here, platform_account_id=stranger.id or 0))
    revoked = Warning(
        community_id=here,
        platform_account_id=discord.id or 0,
        reason="spam",
        issued_by="eddie",
        revoked_at=NOW,
    )
    session.add_all(
        [
            Warning(community_id=here, platform_account_id=telegram.id or 0, reason="rude"),
            revoked,
            Warning(
                community_id=here,
                platform_account_id=telegram.id or 0,
                expires_at=NOW - timedelta(days=1),
            ),
            Warning(community_id=there, platform_account_id=telegram.id or 0),
            Warning(community_id=here, platform_account_id=stranger.id or 0),
            ReputationScore(community_id=here, platform_account_id=telegram.id or 0, score=3),
            ReputationScore(community_id=here, platform_account_id=discord.id or 0, score=2),
            ReputationScore(community_id=there, platform_account_id=discord.id or 0, score=50),
            ReputationEvent(
                community_id=here, platform_account_id=discord.id or 0, delta=2, reason="thanks"
            ),
        ]
    )
    session.flush()
    session.add_all(
        [
            ModerationLog(
                community_id=here,
                action=ModerationAction.unwarn,
                target_account_id=discord.id,
                reason="a mistake",
                details={"warning_id": revoked.id},
            ),
            ModerationLog(
                community_id=there, action=ModerationAction.ban, target_account_id=discord.id
            ),
            ModerationLog(
                community_id=here, action=ModerationAction.ban, target_account_id=stranger.id
            ),
        ]
    )
    session.commit()

    detail = members.member_detail(session, member.id or 0)
    assert detail.community_name == "Here" and detail.identity_name == "Ada"
    assert [a.platform for a in detail.accounts] == ["telegram", "discord"]
    assert detail.accounts[1].phone == "+100"
    assert [m.community_name for m in detail.accounts[1].memberships] == ["Here", "There"]
    assert sorted(w.status for w in detail.warnings) == ["active", "expired", "revoked"]
    assert next(w for w in detail.warnings if w.status == "revoked").revoke_reason == "a mistake"
    assert [e.reason for e in detail.reputation_history] == ["thanks"]
    assert sorted(e.action for e in detail.moderation) == ["ban", "unwarn"]
    assert detail.totals == members.IdentityTotals(
        accounts=2, active_warnings=1, warnings=3, reputation=5, messages=4, bans=1
    )
    assert detail.member.active_warnings == 1 and detail.member.reputation == 3
    assert detail.warning_thresholds == {"mute_at": 3, "ban_at": 5}


def test_actions_need_an_editor(sqlite_session: Session) -> None:
    community_id = _seed(sqlite_session, 2)
    member_id = members.member_page(sqlite_session, community_id).rows[0].member_id
    viewer = AdminUser(username="victor", role=Role.viewer, password_hash="")
    editor = AdminUser(username="eddie", role=Role.editor, password_hash="")
    with pytest.raises(PermissionDenied):
        members.action_target(sqlite_session, viewer, member_id)
    with pytest.raises(PermissionDenied):
        members.warning_target(sqlite_session, viewer, 1)
    target = members.action_target(sqlite_session, editor, member_id)
    assert (target.member_id, target.community_id) == (member_id, community_id)
    with pytest.raises(members.MemberNotFound):
        members.action_target(sqlite_session, editor, 999)
    with pytest.raises(members.MemberNotFound):
        members.warning_target(sqlite_session, editor, 999)

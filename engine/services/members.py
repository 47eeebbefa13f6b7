"""A community's members: the Members page's list, one member's detail, and their actions.

The list pages by keyset on the chosen sort (the value and the row id travel in an opaque
cursor), so page 2,000 costs what page 1 does: sorting by last activity or join time walks
the (community_id, last_active_at, id) and (community_id, joined_at, id) indexes; members
never active come after the active ones. There is no count of the whole set per page.

A member is one platform account in one community; the detail page also shows every account
linked to the same identity, and the totals (warnings, reputation, bans) count those
accounts together. Actions (warn, mute, ban everywhere...) are engine/services/moderation.py's:
this module only checks the role, finds the member's community and account, and shapes the
outcome for the page and the API.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.community_rules import parse_rules
from engine.models import (
    AdminUser,
    Community,
    CommunityConfig,
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
from engine.services import moderation
from engine.services.auth import require_role
from engine.services.errors import NotFound

MAX_PAGE = 200
MAX_SEARCH = 128
MAX_JOINED_WITHIN_DAYS = 3650
HISTORY_LIMIT = 100


class MemberSort(StrEnum):
    """Newest/highest first, always."""

    last_active = "last_active"
    joined = "joined"
    messages = "messages"
    warnings = "warnings"
    reputation = "reputation"


class MemberAction(StrEnum):
    """What the member page and ``POST /members/{id}/actions`` can do (warnings aside)."""

    mute = "mute"
    unmute = "unmute"
    kick = "kick"
    ban = "ban"
    unban = "unban"
    ban_everywhere = "ban_everywhere"


class InvalidMemberQuery(ValueError):
    """A filter, sort or cursor the members list cannot use; says which."""


class InvalidMemberAction(ValueError):
    """A member action refused before reaching the platforms, with a message to show."""


class MemberNotFound(NotFound):
    """No such member (or community, or warning)."""


@dataclass(frozen=True)
class MemberFilter:
    """Narrowing of the list; None everywhere means every member, left ones included."""

    search: str = ""
    platform: Platform | None = None
    role: MemberRole | None = None
    warned: bool | None = None
    muted: bool | None = None
    banned: bool | None = None
    left: bool | None = None
    joined_within_days: int | None = None


@dataclass(frozen=True)
class MemberRow:
    member_id: int
    community_id: int
    account_id: int
    identity_id: int | None
    platform: str
    platform_user_id: str
    username: str | None
    display_name: str
    is_bot: bool
    role: str
    joined_at: datetime
    left_at: datetime | None
    last_active_at: datetime | None
    message_count: int
    is_banned: bool
    muted_until: datetime | None
    active_warnings: int
    reputation: int

    @property
    def name(self) -> str:
        """What a person reads: display name, else @username, else the platform id."""
        return (
            self.display_name
            or (f"@{self.username}" if self.username else "")
            or (self.platform_user_id)
        )

    def is_muted(self, now: datetime) -> bool:
        return muted_at(self.muted_until, now)


@dataclass(frozen=True)
class MemberPage:
    rows: list[MemberRow]
    next_cursor: str | None


@dataclass(frozen=True)
class Membership:
    """One community a linked account is in."""

    member_id: int
    community_id: int
    community_name: str
    role: str
    message_count: int
    is_banned: bool
    muted_until: datetime | None
    left_at: datetime | None
    last_active_at: datetime | None

    def is_muted(self, now: datetime) -> bool:
        return muted_at(self.muted_until, now)


@dataclass(frozen=True)
class LinkedAccount:
    account_id: int
    platform: str
    platform_user_id: str
    username: str | None
    display_name: str
    phone: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    memberships: list[Membership]


@dataclass(frozen=True)
class WarningView:
    warning_id: int
    account_id: int
    platform: str
    reason: str
    issued_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    status: str  # active, expired or revoked
    revoke_reason: str


@dataclass(frozen=True)
class ReputationEntry:
    account_id: int
    delta: int
    reason: str
    actor: str
    rule: str | None
    created_at: datetime


@dataclass(frozen=True)
class ModerationEntry:
    log_id: int
    community_id: int | None
    account_id: int | None
    action: str
    platform: str | None
    actor: str
    reason: str
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class IdentityTotals:
    """The member's linked accounts counted together, in this community (bans: anywhere)."""

    accounts: int
    active_warnings: int
    warnings: int
    reputation: int
    messages: int
    bans: int


@dataclass(frozen=True)
class MemberDetail:
    member: MemberRow
    community_name: str
    identity_name: str
    accounts: list[LinkedAccount]
    warnings: list[WarningView]
    reputation_history: list[ReputationEntry]
    moderation: list[ModerationEntry]
    totals: IdentityTotals
    first_seen_at: datetime
    last_seen_at: datetime
    warning_thresholds: dict[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class TargetView:
    """One chat (or guild) an action ran on, and what its platform answered."""

    platform: str
    chat_id: str
    ok: bool
    error: str | None
    skipped: bool  # the platform has no such action (muting on WhatsApp): nothing was tried


@dataclass(frozen=True)
class ActionResult:
    """What an action did, per platform target, for the toast, the panel and the API."""

    action: str
    ok: bool
    summary: str
    log_id: int | None
    targets: list[TargetView]
    warning_id: int | None = None
    active_warnings: int | None = None
    sanction: str | None = None


# --- the list -------------------------------------------------------------------------------


def _sorted_by(base: Any, sort: MemberSort, community_id: int, now: datetime) -> tuple[Any, Any]:
    """``base`` joined to what ``sort`` needs, and the expression it orders by (NULL for
    members it cannot rank: never active). Warnings and reputation come from one aggregate
    joined by hash, not a count per member."""
    if sort is MemberSort.last_active:
        return base, col(CommunityMember.last_active_at)
    if sort is MemberSort.joined:
        return base, col(CommunityMember.joined_at)
    if sort is MemberSort.messages:
        return base, col(CommunityMember.message_count)
    if sort is MemberSort.warnings:
        counted = (
            select(Warning.platform_account_id, sa.func.count().label("value"))
            .where(col(Warning.community_id) == community_id, Warning.active_at(now))
            .group_by(col(Warning.platform_account_id))
            .subquery("active_warnings")
        )
    else:
        counted = (
            select(ReputationScore.platform_account_id, col(ReputationScore.score).label("value"))
            .where(col(ReputationScore.community_id) == community_id)
            .subquery("reputation")
        )
    account = counted.c.platform_account_id
    joined = base.outerjoin(counted, account == col(CommunityMember.platform_account_id))
    return joined, sa.func.coalesce(counted.c.value, 0)


def _filtered(community_id: int, filters: MemberFilter, now: datetime) -> list[Any]:
    conditions: list[Any] = [col(CommunityMember.community_id) == community_id]
    term = filters.search.strip()
    if len(term) > MAX_SEARCH:
        raise InvalidMemberQuery(f"Search for at most {MAX_SEARCH} characters.")
    if term:
        # The matching accounts first, in one pass (lower() LIKE: the same on SQLite, faster
        # than ILIKE on PostgreSQL), then the members among them: never a LIKE per member
        # while walking the sort's index.
        bare, lowered = term.removeprefix("@").lower(), term.lower()
        matching = (
            select(PlatformAccount.id)
            .where(
                sa.or_(
                    sa.func.lower(col(PlatformAccount.username)).contains(bare, autoescape=True),
                    sa.func.lower(col(PlatformAccount.display_name)).contains(
                        lowered, autoescape=True
                    ),
                    col(PlatformAccount.platform_user_id) == term,
                )
            )
            .cte("matching_accounts")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        conditions.append(col(CommunityMember.platform_account_id).in_(select(matching.c.id)))
    if filters.platform is not None:
        conditions.append(col(PlatformAccount.platform) == filters.platform)
    if filters.role is not None:
        conditions.append(col(CommunityMember.role) == filters.role)
    if filters.warned is not None:
        has = sa.exists(
            select(Warning.id).where(
                col(Warning.community_id) == col(CommunityMember.community_id),
                col(Warning.platform_account_id) == col(CommunityMember.platform_account_id),
                Warning.active_at(now),
            )
        )
        conditions.append(has if filters.warned else ~has)
    if filters.muted is not None:
        muted = sa.and_(
            col(CommunityMember.muted_until).is_not(None), col(CommunityMember.muted_until) > now
        )
        conditions.append(muted if filters.muted else ~muted)
    if filters.banned is not None:
        conditions.append(col(CommunityMember.is_banned).is_(filters.banned))
    if filters.left is not None:
        left = col(CommunityMember.left_at)
        conditions.append(left.is_not(None) if filters.left else left.is_(None))
    if filters.joined_within_days is not None:
        days = filters.joined_within_days
        if not 1 <= days <= MAX_JOINED_WITHIN_DAYS:
            raise InvalidMemberQuery(f"Joined within 1 to {MAX_JOINED_WITHIN_DAYS} days.")
        conditions.append(col(CommunityMember.joined_at) >= now - timedelta(days=days))
    return conditions


def member_page(
    session: Session,
    community_id: int,
    *,
    filters: MemberFilter = MemberFilter(),
    sort: MemberSort = MemberSort.last_active,
    limit: int = 50,
    cursor: str | None = None,
) -> MemberPage:
    """One page of the community's members, ``sort`` descending, then newest id first.

    Rows without a value to sort by (never active) follow all the others, by id."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidMemberQuery(f"A page holds 1 to {MAX_PAGE} members.")
    _community(session, community_id)
    now = utcnow()
    after = _decode(cursor, sort)
    base, sort_by = _sorted_by(
        select(CommunityMember, PlatformAccount)
        .join(PlatformAccount, col(PlatformAccount.id) == col(CommunityMember.platform_account_id))
        .where(*_filtered(community_id, filters, now)),
        sort,
        community_id,
        now,
    )
    base = base.add_columns(sort_by.label("sort_value"))
    member_id = col(CommunityMember.id)
    found: list[Any] = []
    if after is None or not after.unranked:
        ranked = base.where(sort_by.is_not(None))
        if after is not None:
            # A row comparison PostgreSQL turns into an index bound: a deep page starts there.
            ranked = ranked.where(sa.tuple_(sort_by, member_id) < sa.tuple_(after.value, after.id))
        # NULLS FIRST (none are left) lets PostgreSQL walk the ascending index backwards.
        order = (sort_by.desc().nulls_first(), member_id.desc())
        found = list(session.exec(ranked.order_by(*order).limit(limit + 1)).all())
    if len(found) <= limit and sort is MemberSort.last_active:
        unranked = base.where(sort_by.is_(None))
        if after is not None and after.unranked:
            unranked = unranked.where(member_id < after.id)
        rest = unranked.order_by(member_id.desc()).limit(limit + 1 - len(found))
        found += list(session.exec(rest).all())
    page, more = found[:limit], len(found) > limit
    rows = _rows(session, [(member, account) for member, account, _ in page], now)
    next_cursor = None
    if more and page:
        member, _, value = page[-1]
        next_cursor = _encode(sort, value, member.id or 0)
    return MemberPage(rows=rows, next_cursor=next_cursor)


def _rows(
    session: Session, pairs: Sequence[tuple[CommunityMember, PlatformAccount]], now: datetime
) -> list[MemberRow]:
    """The page's members with their active warnings and reputation (two small queries)."""
    if not pairs:
        return []
    community_id = pairs[0][0].community_id
    account_ids = [account.id for _, account in pairs]
    warned = dict(
        session.exec(
            select(Warning.platform_account_id, sa.func.count())
            .where(
                col(Warning.community_id) == community_id,
                col(Warning.platform_account_id).in_(account_ids),
                Warning.active_at(now),
            )
            .group_by(col(Warning.platform_account_id))
        ).all()
    )
    scores = dict(
        session.exec(
            select(ReputationScore.platform_account_id, ReputationScore.score).where(
                col(ReputationScore.community_id) == community_id,
                col(ReputationScore.platform_account_id).in_(account_ids),
            )
        ).all()
    )
    return [
        _row(member, account, warned.get(account.id or 0, 0), scores.get(account.id or 0, 0))
        for member, account in pairs
    ]


def _row(
    member: CommunityMember, account: PlatformAccount, warnings: int, reputation: int
) -> MemberRow:
    return MemberRow(
        member_id=member.id or 0,
        community_id=member.community_id,
        account_id=account.id or 0,
        identity_id=account.identity_id,
        platform=str(account.platform),
        platform_user_id=account.platform_user_id,
        username=account.username,
        display_name=account.display_name,
        is_bot=account.is_bot,
        role=str(member.role),
        joined_at=member.joined_at,
        left_at=member.left_at,
        last_active_at=member.last_active_at,
        message_count=member.message_count,
        is_banned=member.is_banned,
        muted_until=member.muted_until,
        active_warnings=warnings,
        reputation=reputation,
    )


# --- the cursor -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _After:
    value: Any
    id: int
    unranked: bool  # the page ended among the members without a sort value


def _encode(sort: MemberSort, value: Any, member_id: int) -> str:
    shown = value.isoformat() if isinstance(value, datetime) else value
    document = {"sort": sort.value, "value": shown, "id": member_id}
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


def _decode(cursor: str | None, sort: MemberSort) -> _After | None:
    if not cursor:
        return None
    refused = InvalidMemberQuery("The cursor is not one this list gave out (or for another sort).")
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        member_id, value = document["id"], document["value"]
        if document["sort"] != sort.value or not isinstance(member_id, int):
            raise refused
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise refused from None
    if value is None:
        return _After(value=None, id=member_id, unranked=True)
    try:
        if sort in (MemberSort.last_active, MemberSort.joined):
            value = _aware(datetime.fromisoformat(str(value)))
        elif not isinstance(value, int) or isinstance(value, bool):
            raise refused
    except ValueError:
        raise refused from None
    return _After(value=value, id=member_id, unranked=False)


def muted_at(muted_until: datetime | None, now: datetime) -> bool:
    """Whether a mute lasting until ``muted_until`` still holds at ``now``."""
    return muted_until is not None and _aware(muted_until) > now


def _aware(value: datetime) -> datetime:
    """SQLite hands times back without their zone; they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- one member -----------------------------------------------------------------------------


def _community(session: Session, community_id: int) -> Community:
    community = session.get(Community, community_id)
    if community is None:
        raise MemberNotFound(f"Community {community_id} does not exist.")
    return community


def community_name(session: Session, community_id: int) -> str:
    return _community(session, community_id).name


def _member(session: Session, member_id: int) -> tuple[CommunityMember, PlatformAccount]:
    member = session.get(CommunityMember, member_id)
    account = session.get(PlatformAccount, member.platform_account_id) if member else None
    if member is None or account is None:
        raise MemberNotFound(f"Member {member_id} does not exist.")
    return member, account


def get_member(session: Session, member_id: int) -> MemberRow:
    member, account = _member(session, member_id)
    return _rows(session, [(member, account)], utcnow())[0]


def _linked(session: Session, account: PlatformAccount) -> list[PlatformAccount]:
    """The account and every account linked to the same identity, this one first."""
    if account.identity_id is None:
        return [account]
    others = session.exec(
        select(PlatformAccount)
        .where(
            col(PlatformAccount.identity_id) == account.identity_id,
            col(PlatformAccount.id) != account.id,
        )
        .order_by(col(PlatformAccount.platform), col(PlatformAccount.id))
    ).all()
    return [account, *others]


def member_detail(session: Session, member_id: int) -> MemberDetail:
    """Everything the member page shows, the linked accounts' records included."""
    member, account = _member(session, member_id)
    now = utcnow()
    row = _rows(session, [(member, account)], now)[0]
    community = _community(session, member.community_id)
    accounts = _linked(session, account)
    ids = [a.id or 0 for a in accounts]
    memberships = _memberships(session, ids)
    warnings = _warnings(session, member.community_id, ids, now)
    history = [
        ReputationEntry(
            account_id=e.platform_account_id,
            delta=e.delta,
            reason=e.reason,
            actor=e.actor,
            rule=e.rule,
            created_at=e.created_at,
        )
        for e in session.exec(
            select(ReputationEvent)
            .where(
                col(ReputationEvent.community_id) == member.community_id,
                col(ReputationEvent.platform_account_id).in_(ids),
            )
            .order_by(col(ReputationEvent.created_at).desc(), col(ReputationEvent.id).desc())
            .limit(HISTORY_LIMIT)
        ).all()
    ]
    moderation = _moderation(session, ids)
    reputation = session.exec(
        select(sa.func.coalesce(sa.func.sum(ReputationScore.score), 0)).where(
            col(ReputationScore.community_id) == member.community_id,
            col(ReputationScore.platform_account_id).in_(ids),
        )
    ).one()
    here = [m for a in ids for m in memberships.get(a, []) if m.community_id == community.id]
    totals = IdentityTotals(
        accounts=len(accounts),
        active_warnings=sum(w.status == "active" for w in warnings),
        warnings=len(warnings),
        reputation=int(reputation),
        messages=sum(m.message_count for m in here),
        bans=sum(m.is_banned for a in ids for m in memberships.get(a, [])),
    )
    identity = session.get(UserIdentity, account.identity_id) if account.identity_id else None
    rules = _rules(session, community.id or 0).warnings
    return MemberDetail(
        member=row,
        community_name=community.name,
        identity_name=identity.display_name if identity else "",
        accounts=[
            LinkedAccount(
                account_id=a.id or 0,
                platform=str(a.platform),
                platform_user_id=a.platform_user_id,
                username=a.username,
                display_name=a.display_name,
                phone=a.phone,
                first_seen_at=a.first_seen_at,
                last_seen_at=a.last_seen_at,
                memberships=memberships.get(a.id or 0, []),
            )
            for a in accounts
        ],
        warnings=warnings,
        reputation_history=history,
        moderation=moderation,
        totals=totals,
        first_seen_at=min(a.first_seen_at for a in accounts),
        last_seen_at=max(a.last_seen_at for a in accounts),
        warning_thresholds={"mute_at": rules.mute_at, "ban_at": rules.ban_at},
    )


def _rules(session: Session, community_id: int) -> Any:
    config = session.exec(
        select(CommunityConfig).where(col(CommunityConfig.community_id) == community_id)
    ).first()
    return parse_rules(config.rules if config else None)


def _memberships(session: Session, account_ids: list[int]) -> dict[int, list[Membership]]:
    rows = session.exec(
        select(CommunityMember, Community.name)
        .join(Community, col(Community.id) == col(CommunityMember.community_id))
        .where(col(CommunityMember.platform_account_id).in_(account_ids))
        .order_by(col(Community.name), col(CommunityMember.id))
    ).all()
    found: dict[int, list[Membership]] = {}
    for member, name in rows:
        found.setdefault(member.platform_account_id, []).append(
            Membership(
                member_id=member.id or 0,
                community_id=member.community_id,
                community_name=name,
                role=str(member.role),
                message_count=member.message_count,
                is_banned=member.is_banned,
                muted_until=member.muted_until,
                left_at=member.left_at,
                last_active_at=member.last_active_at,
            )
        )
    return found


def _warnings(
    session: Session, community_id: int, account_ids: list[int], now: datetime
) -> list[WarningView]:
    """The linked accounts' warnings here, newest first, with why a revoked one was."""
    rows = session.exec(
        select(Warning, PlatformAccount.platform)
        .join(PlatformAccount, col(PlatformAccount.id) == col(Warning.platform_account_id))
        .where(
            col(Warning.community_id) == community_id,
            col(Warning.platform_account_id).in_(account_ids),
        )
        .order_by(col(Warning.created_at).desc(), col(Warning.id).desc())
    ).all()
    revoked_ids = {w.id for w, _ in rows if w.revoked_at is not None}
    reasons = _revoke_reasons(session, community_id, revoked_ids)
    return [
        WarningView(
            warning_id=w.id or 0,
            account_id=w.platform_account_id,
            platform=str(platform),
            reason=w.reason,
            issued_by=w.issued_by,
            created_at=w.created_at,
            expires_at=w.expires_at,
            revoked_at=w.revoked_at,
            status=_warning_status(w, now),
            revoke_reason=reasons.get(w.id or 0, ""),
        )
        for w, platform in rows
    ]


def _warning_status(warning: Warning, now: datetime) -> str:
    if warning.revoked_at is not None:
        return "revoked"
    if warning.expires_at is not None and _aware(warning.expires_at) <= now:
        return "expired"
    return "active"


def _revoke_reasons(session: Session, community_id: int, warning_ids: set[Any]) -> dict[int, str]:
    """The Warning row keeps when it was revoked; the moderation log's "unwarn" entry keeps
    why (its details name the warning)."""
    if not warning_ids:
        return {}
    entries = session.exec(
        select(ModerationLog).where(
            col(ModerationLog.community_id) == community_id,
            col(ModerationLog.action) == ModerationAction.unwarn,
        )
    ).all()
    return {
        int(e.details["warning_id"]): e.reason
        for e in entries
        if isinstance(e.details.get("warning_id"), int) and e.details["warning_id"] in warning_ids
    }


def _moderation(session: Session, account_ids: list[int]) -> list[ModerationEntry]:
    rows = session.exec(
        select(ModerationLog)
        .where(col(ModerationLog.target_account_id).in_(account_ids))
        .order_by(col(ModerationLog.created_at).desc(), col(ModerationLog.id).desc())
        .limit(HISTORY_LIMIT)
    ).all()
    return [
        ModerationEntry(
            log_id=e.id or 0,
            community_id=e.community_id,
            account_id=e.target_account_id,
            action=str(e.action),
            platform=e.platform,
            actor=e.actor,
            reason=e.reason,
            details=e.details,
            created_at=e.created_at,
        )
        for e in rows
    ]


# --- actions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Whom an action is aimed at: resolved (and the role checked) before any platform call."""

    member_id: int
    community_id: int
    account_id: int
    name: str


def action_target(session: Session, actor: AdminUser, member_id: int) -> Target:
    """The member an editor may act on; refuses viewers and unknown members."""
    require_role(actor, Role.editor)
    member, account = _member(session, member_id)
    row = _row(member, account, 0, 0)
    return Target(member_id, member.community_id, account.id or 0, row.name)


def warning_target(session: Session, actor: AdminUser, warning_id: int) -> int:
    """The id of a warning an editor may revoke; refuses viewers and unknown warnings."""
    require_role(actor, Role.editor)
    if session.get(Warning, warning_id) is None:
        raise MemberNotFound(f"Warning {warning_id} does not exist.")
    return warning_id


async def act(
    actor: AdminUser,
    target: Target,
    action: MemberAction,
    *,
    reason: str = "",
    minutes: int | None = None,
) -> ActionResult:
    """Mute (for ``minutes``), unmute, kick, ban, unban or ban everywhere, on every platform
    target, through the moderation service (which checks, logs and posts to the log chat)."""
    who = moderation.Actor.of_user(actor)
    if action is MemberAction.ban_everywhere:
        outcome = await moderation.ban_everywhere(who, target.account_id, reason)
    else:
        outcome = await moderation.act(
            who,
            target.community_id,
            target.account_id,
            ModerationAction(action.value),
            reason=reason,
            minutes=minutes,
        )
    return _result(action.value, target.name, outcome)


async def warn(actor: AdminUser, target: Target, reason: str) -> ActionResult:
    """A warning; the community's thresholds may mute or ban (shown as the sanction)."""
    made = await moderation.warn(
        moderation.Actor.of_user(actor), target.community_id, target.account_id, reason
    )
    base = (
        _result("warn", target.name, made.outcome)
        if made.outcome is not None
        else ActionResult("warn", True, "", made.log_id, [])
    )
    sanction = f", {made.sanction} applied" if made.sanction != "none" else ""
    summary = f"Warned {target.name}: {made.active_warnings} active warning(s){sanction}."
    return ActionResult(
        action="warn",
        ok=base.ok,
        summary=summary if base.ok else f"{summary} {base.summary}",
        log_id=made.log_id,
        targets=base.targets,
        warning_id=made.warning_id,
        active_warnings=made.active_warnings,
        sanction=made.sanction,
    )


def revoke_warning(session: Session, actor: AdminUser, warning_id: int, reason: str) -> None:
    """Revoke a warning with a reason (required: the log keeps it)."""
    warning_target(session, actor, warning_id)
    if not reason.strip():
        raise InvalidMemberAction("Say why the warning is revoked: the log keeps the reason.")
    moderation.revoke_warning(session, moderation.Actor.of_user(actor), warning_id, reason)


_DONE = {
    "mute": "Muted",
    "unmute": "Unmuted",
    "kick": "Kicked",
    "ban": "Banned",
    "unban": "Unbanned",
    "ban_everywhere": "Banned everywhere",
    "warn": "Warned",
}


def _result(action: str, name: str, outcome: moderation.Outcome) -> ActionResult:
    targets = [
        TargetView(
            platform=str(t.platform),
            chat_id=str(t.chat_id),
            ok=t.ok,
            error=t.error,
            skipped=t.skipped,
        )
        for t in outcome.results
    ]
    refused = [t for t in targets if not t.ok]
    if not targets:
        summary = f"{_DONE[action]} {name}: recorded; no chat of theirs to act on."
    elif not refused:
        summary = f"{_DONE[action]} {name} on {len(targets)} target(s)."
    else:
        first = refused[0]
        summary = (
            f"{len(refused)} of {len(targets)} target(s) refused: "
            f"{first.platform} {first.chat_id}: {first.error or 'refused'}"
        )
    return ActionResult(
        action=action,
        ok=outcome.ok,
        summary=summary,
        log_id=outcome.log_id,
        targets=targets,
    )

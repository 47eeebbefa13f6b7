"""Identities: one person behind accounts on several platforms.

The Accounts page, the REST API and the moderation services read and change links only
through these functions, so one rule holds everywhere: an account belongs to at most one
person; editors link, unlink and rename, viewers look. Suggestions pair accounts that
are likely the same person (same username on another platform, same display name on
another platform, same phone); an editor confirms one (the pair is linked) or dismisses
it (stored, never suggested again). Warnings, reputation and bans of linked accounts are
counted together in an identity's totals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from engine.db import insert_ignore, saved_ids, table_of
from engine.models import (
    AdminUser,
    CommunityMember,
    LinkSuggestionDismissal,
    Platform,
    PlatformAccount,
    ReputationScore,
    Role,
    UserIdentity,
    Warning,
    utcnow,
)
from engine.services import audit
from engine.services.auth import require_role
from engine.services.errors import Conflict, NotFound

MAX_NAME = 128
MAX_NOTES = 2000
MAX_SUGGESTIONS = 200


class InvalidIdentity(ValueError):
    """A link change refused, with a message fit to show the admin."""


class IdentityNotFound(InvalidIdentity, NotFound):
    """The person or account named does not exist (any more)."""


class AlreadyLinked(InvalidIdentity, Conflict):
    """The account is another person's: unlink it there first."""


# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountView:
    """One platform account and what it did, over every community it is in."""

    account_id: int
    platform: str
    platform_user_id: str
    username: str | None
    display_name: str
    is_bot: bool
    identity_id: int | None
    identity_name: str | None
    communities: int
    messages: int
    warnings: int
    reputation: int
    banned: bool
    first_seen_at: datetime
    last_seen_at: datetime

    @property
    def label(self) -> str:
        """How to name the account to a person: display name, else @username, else its id."""
        return (
            self.display_name
            or (f"@{self.username}" if self.username else "")
            or (self.platform_user_id)
        )


@dataclass(frozen=True)
class IdentityView:
    """A person: their accounts and the totals over all of them."""

    identity_id: int
    display_name: str
    notes: str
    preferred_platform: str | None
    created_at: datetime
    accounts: list[AccountView] = field(default_factory=list)

    @property
    def warnings(self) -> int:
        return sum(a.warnings for a in self.accounts)

    @property
    def reputation(self) -> int:
        return sum(a.reputation for a in self.accounts)

    @property
    def messages(self) -> int:
        return sum(a.messages for a in self.accounts)

    @property
    def banned(self) -> bool:
        return any(a.banned for a in self.accounts)

    @property
    def platforms(self) -> list[str]:
        return sorted({a.platform for a in self.accounts})


@dataclass(frozen=True)
class Suggestion:
    """Two accounts that look like one person, and why."""

    first: AccountView
    second: AccountView
    reasons: list[str]


# --- reading accounts -------------------------------------------------------------------------


def _stats_query() -> Any:
    """Accounts with their counts, one row each (correlated sub-selects: no fan-out)."""
    account = col(PlatformAccount.id)
    members = table_of(CommunityMember).c
    warnings = table_of(Warning).c
    scores = table_of(ReputationScore).c
    now = utcnow()
    communities = (
        sa.select(sa.func.count()).where(members.platform_account_id == account).scalar_subquery()
    )
    messages = (
        sa.select(sa.func.coalesce(sa.func.sum(members.message_count), 0))
        .where(members.platform_account_id == account)
        .scalar_subquery()
    )
    banned = (
        sa.select(sa.func.count())
        .where(members.platform_account_id == account, members.is_banned.is_(True))
        .scalar_subquery()
    )
    active_warnings = (
        sa.select(sa.func.count())
        .where(
            warnings.platform_account_id == account,
            Warning.active_at(now),
        )
        .scalar_subquery()
    )
    reputation = (
        sa.select(sa.func.coalesce(sa.func.sum(scores.score), 0))
        .where(scores.platform_account_id == account)
        .scalar_subquery()
    )
    return sa.select(
        PlatformAccount,
        col(UserIdentity.display_name),
        communities,
        messages,
        active_warnings,
        reputation,
        banned,
    ).outerjoin(UserIdentity, col(UserIdentity.id) == PlatformAccount.identity_id)


def _account_view(row: Any) -> AccountView:
    account, identity_name, communities, messages, warnings, reputation, banned = row
    return AccountView(
        account_id=account.id or 0,
        platform=str(account.platform),
        platform_user_id=account.platform_user_id,
        username=account.username,
        display_name=account.display_name,
        is_bot=account.is_bot,
        identity_id=account.identity_id,
        identity_name=identity_name,
        communities=int(communities or 0),
        messages=int(messages or 0),
        warnings=int(warnings or 0),
        reputation=int(reputation or 0),
        banned=bool(banned),
        first_seen_at=account.first_seen_at,
        last_seen_at=account.last_seen_at,
    )


def account_page(
    session: Session,
    limit: int,
    *,
    before: int | None = None,
    search: str | None = None,
    platform: str | None = None,
    identity_id: int | None = None,
    linked: bool | None = None,
) -> list[AccountView]:
    """Accounts newest first, ids below ``before`` (keyset paging); ``search`` matches the
    username, display name or platform id, case-insensitively."""
    query = _stats_query()
    if before is not None:
        query = query.where(col(PlatformAccount.id) < before)
    if search and search.strip():
        text = search.strip().removeprefix("@")
        query = query.where(
            sa.or_(
                col(PlatformAccount.username).icontains(text, autoescape=True),
                col(PlatformAccount.display_name).icontains(text, autoescape=True),
                col(PlatformAccount.platform_user_id) == text,
            )
        )
    if platform:
        query = query.where(PlatformAccount.platform == platform)
    if identity_id is not None:
        query = query.where(PlatformAccount.identity_id == identity_id)
    if linked is not None:
        linked_column = col(PlatformAccount.identity_id)
        query = query.where(linked_column.is_not(None) if linked else linked_column.is_(None))
    rows = session.exec(query.order_by(col(PlatformAccount.id).desc()).limit(limit)).all()
    return [_account_view(row) for row in rows]


def get_account(session: Session, account_id: int) -> AccountView:
    row = session.exec(_stats_query().where(PlatformAccount.id == account_id)).first()
    if row is None:
        raise IdentityNotFound(f"Account {account_id} does not exist.")
    return _account_view(row)


def _accounts_by_id(session: Session, account_ids: Iterable[int]) -> dict[int, AccountView]:
    ids = sorted(set(account_ids))
    rows = session.exec(_stats_query().where(col(PlatformAccount.id).in_(ids))).all()
    return {view.account_id: view for view in map(_account_view, rows)}


def linked_account_ids(session: Session, account_id: int) -> list[int]:
    """The account and every account linked to the same person (moderation "everywhere",
    a member's combined warnings and reputation)."""
    identity_id = session.exec(
        select(PlatformAccount.identity_id).where(PlatformAccount.id == account_id)
    ).first()
    if identity_id is None:
        return [account_id]
    return saved_ids(
        session.exec(
            select(col(PlatformAccount.id))
            .where(PlatformAccount.identity_id == identity_id)
            .order_by(col(PlatformAccount.id))
        ).all()
    )


# --- reading identities -----------------------------------------------------------------------


def _identity_view(identity: UserIdentity, accounts: list[AccountView]) -> IdentityView:
    return IdentityView(
        identity_id=identity.id or 0,
        display_name=identity.display_name,
        notes=identity.notes,
        preferred_platform=identity.preferred_platform,
        created_at=identity.created_at,
        accounts=accounts,
    )


def _with_accounts(session: Session, identities: list[UserIdentity]) -> list[IdentityView]:
    ids = [i.id for i in identities]
    rows = session.exec(
        _stats_query()
        .where(col(PlatformAccount.identity_id).in_(ids))
        .order_by(col(PlatformAccount.id))
    ).all()
    grouped: dict[int, list[AccountView]] = {}
    for view in map(_account_view, rows):
        grouped.setdefault(view.identity_id or 0, []).append(view)
    return [_identity_view(i, grouped.get(i.id or 0, [])) for i in identities]


def identity_page(
    session: Session, limit: int, *, before: int | None = None, search: str | None = None
) -> list[IdentityView]:
    """People newest first, ids below ``before`` (keyset paging)."""
    query = select(UserIdentity)
    if before is not None:
        query = query.where(col(UserIdentity.id) < before)
    if search and search.strip():
        query = query.where(
            col(UserIdentity.display_name).icontains(search.strip(), autoescape=True)
        )
    rows = session.exec(query.order_by(col(UserIdentity.id).desc()).limit(limit)).all()
    return _with_accounts(session, list(rows))


def get_identity(session: Session, identity_id: int) -> IdentityView:
    [view] = _with_accounts(session, [_identity(session, identity_id)])
    return view


def _identity(session: Session, identity_id: int) -> UserIdentity:
    identity = session.get(UserIdentity, identity_id)
    if identity is None:
        raise IdentityNotFound(f"Person {identity_id} does not exist.")
    return identity


def _account(session: Session, account_id: int) -> PlatformAccount:
    account = session.get(PlatformAccount, account_id)
    if account is None:
        raise IdentityNotFound(f"Account {account_id} does not exist.")
    return account


# --- changing ---------------------------------------------------------------------------------


def link_accounts(
    session: Session, actor: AdminUser, account_ids: list[int], display_name: str = ""
) -> int:
    """Make these accounts one person; the person's id.

    If some are linked already, all to one person, the others join that person; accounts
    of two different people are refused (unlink first: merging people is a decision).
    """
    require_role(actor, Role.editor)
    accounts = [_account(session, i) for i in sorted(set(account_ids))]
    if len(accounts) < 2:
        raise InvalidIdentity("Pick at least two accounts to link into one person.")
    people = {a.identity_id for a in accounts if a.identity_id is not None}
    if len(people) > 1:
        raise AlreadyLinked("These accounts belong to different people already; unlink them first.")
    if people:
        identity = _identity(session, people.pop())
        if display_name.strip():
            identity.display_name = _clean_name(display_name)
    else:
        identity = _new_identity(session, display_name or _name_of(accounts))
    for account in accounts:
        _link(session, actor, identity, account)
    return identity.id or 0


def create_identity(
    session: Session, actor: AdminUser, account_ids: list[int], display_name: str = ""
) -> int:
    """A new person holding these (unlinked) accounts; its id."""
    require_role(actor, Role.editor)
    accounts = [_account(session, i) for i in sorted(set(account_ids))]
    if not accounts:
        raise InvalidIdentity("A person needs at least one account.")
    for account in accounts:
        _refuse_if_taken(account, None)
    identity = _new_identity(session, display_name or _name_of(accounts))
    for account in accounts:
        _link(session, actor, identity, account)
    return identity.id or 0


def add_account(session: Session, actor: AdminUser, identity_id: int, account_id: int) -> None:
    """Link one more account to a person (nothing changes if it is theirs already)."""
    require_role(actor, Role.editor)
    identity = _identity(session, identity_id)
    account = _account(session, account_id)
    if account.identity_id == identity.id:
        return
    _refuse_if_taken(account, identity.id)
    _link(session, actor, identity, account)


def remove_account(session: Session, actor: AdminUser, identity_id: int, account_id: int) -> None:
    """Unlink an account from a person; the person stays (with the accounts left)."""
    require_role(actor, Role.editor)
    identity = _identity(session, identity_id)
    account = _account(session, account_id)
    if account.identity_id != identity.id:
        raise IdentityNotFound(f"Account {account_id} is not linked to person {identity_id}.")
    account.identity_id = None
    session.add(account)
    session.flush()
    _audit(session, actor, "identity_account_unlinked", identity, account_id=account_id)


def update_identity(
    session: Session,
    actor: AdminUser,
    identity_id: int,
    *,
    display_name: str | None = None,
    notes: str | None = None,
    preferred_platform: str | None = None,
) -> None:
    """Rename a person, change their notes or the platform messages to them prefer."""
    require_role(actor, Role.editor)
    identity = _identity(session, identity_id)
    changed: dict[str, Any] = {}
    if display_name is not None:
        identity.display_name = changed["display_name"] = _clean_name(display_name)
    if notes is not None:
        if len(notes) > MAX_NOTES:
            raise InvalidIdentity(f"Keep the notes under {MAX_NOTES} characters.")
        identity.notes = notes
        changed["notes"] = True
    if preferred_platform is not None:
        identity.preferred_platform = changed["preferred_platform"] = _platform(preferred_platform)
    session.add(identity)
    session.flush()
    _audit(session, actor, "identity_updated", identity, **changed)


def delete_identity(session: Session, actor: AdminUser, identity_id: int) -> None:
    """Forget a person: their accounts stay, unlinked, with all they did."""
    require_role(actor, Role.editor)
    identity = _identity(session, identity_id)
    session.execute(
        sa.update(table_of(PlatformAccount))
        .where(table_of(PlatformAccount).c.identity_id == identity_id)
        .values(identity_id=None)
    )
    _audit(session, actor, "identity_deleted", identity, display_name=identity.display_name)
    session.delete(identity)
    session.flush()


def _new_identity(session: Session, display_name: str) -> UserIdentity:
    identity = UserIdentity(display_name=_clean_name(display_name))
    session.add(identity)
    session.flush()
    return identity


def _link(
    session: Session, actor: AdminUser, identity: UserIdentity, account: PlatformAccount
) -> None:
    if account.identity_id == identity.id:
        return
    account.identity_id = identity.id
    session.add(account)
    session.flush()
    _audit(session, actor, "identity_account_linked", identity, account_id=account.id)


def _refuse_if_taken(account: PlatformAccount, identity_id: int | None) -> None:
    if account.identity_id is not None and account.identity_id != identity_id:
        raise AlreadyLinked(
            f"Account {account.id} belongs to person {account.identity_id}; unlink it there first."
        )


def _name_of(accounts: list[PlatformAccount]) -> str:
    """A new person's name: the first display name (or username) among their accounts."""
    for account in accounts:
        if account.display_name.strip() or account.username:
            return account.display_name.strip() or account.username or ""
    return f"Person {accounts[0].platform_user_id}" if accounts else "Person"


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidIdentity("Give the person a name.")
    if len(name) > MAX_NAME:
        raise InvalidIdentity(f"Keep the name under {MAX_NAME} characters.")
    return name


def _platform(value: str) -> Platform | None:
    if value == "":
        return None
    try:
        return Platform(value)
    except ValueError:
        raise InvalidIdentity(
            f"{value!r} is not a platform: use {', '.join(p.value for p in Platform)}."
        ) from None


def _audit(
    session: Session, actor: AdminUser, action: str, identity: UserIdentity, **details: Any
) -> None:
    audit.record(
        session, actor.username, action, target_type="identity", target_id=identity.id, **details
    )


# --- suggestions ------------------------------------------------------------------------------


def suggestions(session: Session, limit: int = 50) -> list[Suggestion]:
    """Pairs that are likely one person: same phone; same username or same display name
    on different platforms. Bots, pairs already one person, pairs of two different people
    and dismissed pairs are left out; the pairs with most reasons come first."""
    reasons: dict[tuple[int, int], list[str]] = {}
    for reason, pairs in (
        ("same phone", _pairs(session, "phone", any_platform=True)),
        ("same username", _pairs(session, "username")),
        ("same display name", _pairs(session, "display_name")),
    ):
        for pair in pairs:
            reasons.setdefault(pair, []).append(reason)
    ranked = sorted(reasons.items(), key=lambda item: (-len(item[1]), item[0]))
    ranked = ranked[: min(max(limit, 1), MAX_SUGGESTIONS)]
    views = _accounts_by_id(session, (i for pair, _ in ranked for i in pair))
    return [Suggestion(views[a], views[b], why) for (a, b), why in ranked]


def _pairs(
    session: Session, attribute: str, *, any_platform: bool = False
) -> list[tuple[int, int]]:
    """Account pairs (lower id first) whose ``attribute`` is equal (case-insensitively,
    blanks ignored)."""
    first, second = aliased(PlatformAccount), aliased(PlatformAccount)
    key_first = sa.func.lower(sa.func.trim(getattr(first, attribute)))
    key_second = sa.func.lower(sa.func.trim(getattr(second, attribute)))
    dismissed = table_of(LinkSuggestionDismissal).c
    query = (
        sa.select(col(first.id), col(second.id))
        .join(second, sa.and_(key_first == key_second, col(first.id) < col(second.id)))
        .where(
            key_first != "",
            col(first.is_bot).is_(False),
            col(second.is_bot).is_(False),
            # not one person already, nor two different people
            sa.or_(col(first.identity_id).is_(None), col(second.identity_id).is_(None)),
            ~sa.exists().where(
                dismissed.account_low_id == col(first.id),
                dismissed.account_high_id == col(second.id),
            ),
        )
        .order_by(col(first.id), col(second.id))
        .limit(MAX_SUGGESTIONS)
    )
    if not any_platform:
        query = query.where(col(first.platform) != col(second.platform))
    return [(a, b) for a, b in session.execute(query).all()]


def confirm_suggestion(
    session: Session, actor: AdminUser, account_id: int, other_account_id: int
) -> int:
    """The pair is one person: link them; the person's id."""
    return link_accounts(session, actor, [account_id, other_account_id])


def dismiss_suggestion(
    session: Session, actor: AdminUser, account_id: int, other_account_id: int
) -> None:
    """The pair are different people: never suggest them again (dismissing twice is fine)."""
    require_role(actor, Role.editor)
    low, high = sorted((account_id, other_account_id))
    if low == high:
        raise InvalidIdentity("A suggestion pairs two different accounts.")
    _account(session, low)
    _account(session, high)
    values = {
        "account_low_id": low,
        "account_high_id": high,
        "dismissed_by": actor.username,
        "created_at": utcnow(),
    }
    keys = ["account_low_id", "account_high_id"]
    if insert_ignore(session, table_of(LinkSuggestionDismissal), values, keys):
        audit.record(
            session,
            actor.username,
            "identity_suggestion_dismissed",
            target_type="platform_account",
            target_id=low,
            other_account_id=high,
        )

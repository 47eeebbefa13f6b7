"""Reputation: points members earn in a community, their history and the leaderboards.

Every change goes through :func:`adjust`, so a score and the event that explains it are
written in one transaction and a score is always the sum of its history. The earning
rules of a community (``rules.reputation.earning``) are applied by :func:`earn`, which
the rules runner calls for each message; their daily caps count the ``ReputationEvent``
rows of the day, so a cap holds across workers and restarts.

Leaderboards are identity-aware: the accounts linked into one person count as one row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.community_rules import CommunityRules, EarningRule
from engine.db import insert_ignore, table_of
from engine.models import (
    AdminUser,
    Community,
    PlatformAccount,
    ReputationEvent,
    ReputationScore,
    Role,
    UserIdentity,
    utcnow,
)
from engine.platform_event import PlatformEvent
from engine.services import audit
from engine.services.auth import require_role
from engine.services.errors import NotFound

MAX_DELTA = 1000
MAX_REASON = 500
EARNING_ACTOR = "rules:reputation"
MAX_LEADERBOARD = 200


class InvalidAdjustment(ValueError):
    """A manual adjustment refused, with a message fit to show the admin."""


class ReputationNotFound(InvalidAdjustment, NotFound):
    """The community or account named does not exist."""


# --- changing ---------------------------------------------------------------------------------


def adjust(
    session: Session,
    actor_label: str,
    community_id: int,
    account_id: int,
    delta: int,
    reason: str,
    rule: str | None = None,
    *,
    giver_account_id: int | None = None,
) -> int:
    """Add ``delta`` to the account's score in the community; the new score.

    The score row is changed with ``score = score + delta`` (no lost updates between
    workers) and the event is written in the same transaction. A giver other than the
    receiver has their given_up/given_down counted.
    """
    score = _add(session, community_id, account_id, {"score": delta})
    session.add(
        ReputationEvent(
            community_id=community_id,
            platform_account_id=account_id,
            delta=delta,
            reason=reason,
            actor=actor_label,
            rule=rule,
        )
    )
    if giver_account_id is not None and giver_account_id != account_id and delta:
        _add(session, community_id, giver_account_id, {_given(delta): 1})
    session.flush()
    return score


def _given(delta: int) -> str:
    return "given_up" if delta > 0 else "given_down"


def _add(session: Session, community_id: int, account_id: int, changes: dict[str, int]) -> int:
    """Atomic ``column = column + n`` on the (community, account) row, created at 0."""
    table = table_of(ReputationScore)
    keys = {"community_id": community_id, "platform_account_id": account_id}
    insert_ignore(session, table, {**keys, "updated_at": utcnow()}, list(keys))
    where = sa.and_(*(table.c[k] == v for k, v in keys.items()))
    values = {name: table.c[name] + n for name, n in changes.items()}
    session.execute(sa.update(table).where(where).values(updated_at=utcnow(), **values))
    score: int = session.execute(sa.select(table.c.score).where(where)).scalar_one()
    return score


def adjust_manually(
    session: Session,
    actor: AdminUser,
    community_id: int,
    account_id: int,
    delta: int,
    reason: str,
) -> int:
    """An editor's adjustment with a reason (UI and REST); audited; the new score."""
    require_role(actor, Role.editor)
    reason = reason.strip()
    if not reason:
        raise InvalidAdjustment("Say why: the reason is kept in the member's history.")
    if len(reason) > MAX_REASON:
        raise InvalidAdjustment(f"Keep the reason under {MAX_REASON} characters.")
    if not delta or abs(delta) > MAX_DELTA:
        raise InvalidAdjustment(f"Give a change between -{MAX_DELTA} and {MAX_DELTA}, not 0.")
    if session.get(Community, community_id) is None:
        raise ReputationNotFound(f"Community {community_id} does not exist.")
    if session.get(PlatformAccount, account_id) is None:
        raise ReputationNotFound(f"Account {account_id} does not exist.")
    score = adjust(session, f"user:{actor.username}", community_id, account_id, delta, reason)
    audit.record(
        session,
        actor.username,
        "reputation_adjusted",
        target_type="platform_account",
        target_id=account_id,
        community_id=community_id,
        delta=delta,
        score=score,
    )
    return score


# --- earning ----------------------------------------------------------------------------------


def earn(
    session: Session, community_id: int, event: PlatformEvent, rules: CommunityRules
) -> list[dict[str, Any]]:
    """Apply the community's earning rules to a reply; what was given.

    A rule gives its points to the member replied to when the reply holds one of its
    keywords (case-insensitive, as a whole word, any script); never to the author
    themselves, never to or from a bot, and no more times a day per receiver than its cap.
    The connector names the replied-to user in ``event.data["reply_to_user"]``.
    """
    settings = rules.for_platform(event.platform).reputation
    receiver = _replied_to(event)
    if not settings.enabled or receiver is None or not event.text:
        return []
    author_account = _account_id(session, event.platform, event.user.id if event.user else "")
    receiver_id: int | None = None
    given = []
    for index, rule in enumerate(settings.earning):
        keyword = _keyword_in(rule, event.text)
        if keyword is None:
            continue
        receiver_id = receiver_id or _account_for(session, event.platform, receiver)
        # The receiver's score row is locked first, so workers crediting them at once
        # count the day's events one after another and a cap is never overshot.
        _add(session, community_id, receiver_id, {})
        if _capped(session, community_id, receiver_id, str(index), rule.daily_cap):
            continue
        score = adjust(
            session,
            EARNING_ACTOR,
            community_id,
            receiver_id,
            rule.points,
            f"reply containing “{keyword}”",
            rule=str(index),
            giver_account_id=author_account,
        )
        given.append(
            {"rule": index, "account_id": receiver_id, "points": rule.points, "score": score}
        )
    return given


def _replied_to(event: PlatformEvent) -> dict[str, Any] | None:
    """The replied-to user when someone other than them, neither a bot, wrote the reply."""
    receiver = event.data.get("reply_to_user")
    author = event.user
    if not isinstance(receiver, dict) or not receiver.get("id") or author is None:
        return None
    if receiver.get("is_bot") or author.is_bot or str(receiver["id"]) == author.id:
        return None
    return receiver


def _keyword_in(rule: EarningRule, text: str) -> str | None:
    """The first of the rule's keywords that stands as a whole word in ``text``."""
    words = "|".join(re.escape(k.strip()) for k in rule.keywords if k.strip())
    if not words:
        return None
    found = re.search(rf"(?<!\w)(?:{words})(?!\w)", text, re.IGNORECASE)
    return found.group(0) if found else None


def _capped(
    session: Session, community_id: int, account_id: int, rule: str, cap: int | None
) -> bool:
    if cap is None:
        return False
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)  # UTC days
    given_today = session.exec(
        select(sa.func.count())
        .select_from(ReputationEvent)
        .where(
            ReputationEvent.community_id == community_id,
            ReputationEvent.platform_account_id == account_id,
            ReputationEvent.rule == rule,
            col(ReputationEvent.created_at) >= midnight,
        )
    ).one()
    return given_today >= cap


def _account_id(session: Session, platform: str, user_id: str) -> int | None:
    return session.exec(
        select(PlatformAccount.id).where(
            PlatformAccount.platform == platform, PlatformAccount.platform_user_id == user_id
        )
    ).first()


def _account_for(session: Session, platform: str, user: dict[str, Any]) -> int:
    """The receiver's account, recorded now if the replied-to user was never seen."""
    values = {
        "platform": platform,
        "platform_user_id": str(user["id"]),
        "username": user.get("username"),
        "display_name": user.get("display_name") or user.get("first_name") or "",
        "is_bot": False,
        "first_seen_at": utcnow(),
        "last_seen_at": utcnow(),
    }
    insert_ignore(session, table_of(PlatformAccount), values, ["platform", "platform_user_id"])
    found = _account_id(session, platform, str(user["id"]))
    assert found is not None  # inserted or already there
    return found


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkedAccount:
    account_id: int
    platform: str
    username: str | None
    display_name: str


@dataclass(frozen=True)
class Leader:
    """One person on a leaderboard: an identity's accounts summed, or one lone account."""

    rank: int
    score: int
    name: str
    identity_id: int | None
    accounts: list[LinkedAccount]


def leaderboard(session: Session, community_id: int | None, limit: int = 50) -> list[Leader]:
    """The top people by score in one community, or across all of them (``None``).

    Linked accounts are one person: their scores are summed (and, across communities, so
    are each account's scores in every community). Bots are not ranked.
    """
    person = _person_key()
    total = sa.func.sum(ReputationScore.score).label("total")
    query = (
        select(person, total)
        .select_from(ReputationScore)
        .join(PlatformAccount, col(PlatformAccount.id) == ReputationScore.platform_account_id)
        .where(col(PlatformAccount.is_bot).is_(False))
        .group_by(person)
        .order_by(total.desc(), person)
        .limit(min(max(limit, 1), MAX_LEADERBOARD))
    )
    if community_id is not None:
        query = query.where(ReputationScore.community_id == community_id)
    rows = session.exec(query).all()
    accounts = _accounts_of_keys(session, [key for key, _ in rows])
    names = _identity_names(session, [-key for key, _ in rows if key < 0])
    leaders = []
    for rank, (key, score) in enumerate(rows, start=1):
        linked = accounts.get(key, [])
        identity_id = -key if key < 0 else None
        name = names.get(identity_id or 0) or (linked[0].display_name if linked else "")
        name = name or (linked[0].username or "" if linked else "")
        leaders.append(Leader(rank, int(score or 0), name, identity_id, linked))
    return leaders


def _person_key() -> Any:
    """One number per person: minus the identity id when linked, else the account id."""
    return sa.func.coalesce(-col(PlatformAccount.identity_id), col(PlatformAccount.id)).label(
        "person"
    )


def _accounts_of_keys(session: Session, keys: list[int]) -> dict[int, list[LinkedAccount]]:
    identity_ids = [-k for k in keys if k < 0]
    account_ids = [k for k in keys if k > 0]
    found = session.exec(
        select(PlatformAccount)
        .where(
            sa.or_(
                col(PlatformAccount.identity_id).in_(identity_ids),
                col(PlatformAccount.id).in_(account_ids),
            )
        )
        .order_by(col(PlatformAccount.id))
    ).all()
    grouped: dict[int, list[LinkedAccount]] = {}
    for account in found:
        key = -account.identity_id if account.identity_id else account.id or 0
        grouped.setdefault(key, []).append(
            LinkedAccount(account.id or 0, account.platform, account.username, account.display_name)
        )
    return grouped


def _identity_names(session: Session, identity_ids: list[int]) -> dict[int, str]:
    rows = session.exec(
        select(UserIdentity.id, UserIdentity.display_name).where(
            col(UserIdentity.id).in_(identity_ids)
        )
    ).all()
    return {identity_id or 0: name for identity_id, name in rows}


@dataclass(frozen=True)
class HistoryEntry:
    event_id: int
    community_id: int
    community_name: str
    account_id: int
    platform: str
    display_name: str
    delta: int
    reason: str
    actor: str
    rule: str | None
    created_at: datetime


def history(
    session: Session,
    limit: int,
    *,
    before: int | None = None,
    account_id: int | None = None,
    identity_id: int | None = None,
    community_id: int | None = None,
) -> list[HistoryEntry]:
    """Reputation changes, newest first (keyset by id below ``before``): of one account,
    of every account linked into one identity, and/or in one community."""
    query = (
        select(ReputationEvent, PlatformAccount, Community.name)
        .join(PlatformAccount, col(PlatformAccount.id) == ReputationEvent.platform_account_id)
        .join(Community, col(Community.id) == ReputationEvent.community_id)
        .order_by(col(ReputationEvent.id).desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(col(ReputationEvent.id) < before)
    if account_id is not None:
        query = query.where(ReputationEvent.platform_account_id == account_id)
    if identity_id is not None:
        query = query.where(PlatformAccount.identity_id == identity_id)
    if community_id is not None:
        query = query.where(ReputationEvent.community_id == community_id)
    return [
        HistoryEntry(
            event_id=event.id or 0,
            community_id=event.community_id,
            community_name=community_name,
            account_id=account.id or 0,
            platform=account.platform,
            display_name=account.display_name or account.username or account.platform_user_id,
            delta=event.delta,
            reason=event.reason,
            actor=event.actor,
            rule=event.rule,
            created_at=event.created_at,
        )
        for event, account, community_name in session.exec(query).all()
    ]


def score_of(session: Session, account_ids: list[int], community_id: int | None = None) -> int:
    """The summed score of these accounts (a person's linked accounts), in one or all
    communities."""
    query = select(sa.func.coalesce(sa.func.sum(ReputationScore.score), 0)).where(
        col(ReputationScore.platform_account_id).in_(account_ids)
    )
    if community_id is not None:
        query = query.where(ReputationScore.community_id == community_id)
    return int(session.exec(query).one())

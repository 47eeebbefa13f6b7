"""The moderation overview and log: what was done to whom, read back for people.

Every moderation action (engine/services/moderation.py, the community rules, flows) writes
one ModerationLog row and every warning a Warning row; this module only reads them, for the
Moderation page, the REST API (/api/v1/moderation) and the CSV export alike. Reading is a
viewer's right. A person with linked accounts (one identity) is one offender: their
accounts' warnings and sanctions are counted together.

A log row's per-target results are the ``results`` list the moderation service writes in
``details`` (``{"platform", "chat_id", "ok", "error", "skipped"}`` per chat it acted on;
skipped: the platform has no such action, so nothing was attempted there).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.models import (
    AdminUser,
    Community,
    ModerationAction,
    ModerationLog,
    Platform,
    PlatformAccount,
    Role,
    UserIdentity,
    Warning,
    utcnow,
)
from engine.nodes.utility import as_utc
from engine.services.auth import require_role
from engine.services.errors import NotFound

WINDOW_DAYS = 30
RECENT_ACTIONS = 10
TOP_OFFENDERS = 10
CSV_BATCH = 500
MAX_SEARCH = 128
MAX_CHOICES = 200
# The sanctions the overview counts, and their series in its per-day figures.
SANCTION_SERIES = {
    ModerationAction.mute: "mutes",
    ModerationAction.kick: "kicks",
    ModerationAction.ban: "bans",
}
SANCTIONS = tuple(SANCTION_SERIES)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_HEADER = (
    "id",
    "time (UTC)",
    "community",
    "action",
    "target",
    "platform",
    "target account id",
    "actor",
    "reason",
    "result",
    "targets",
)


class InvalidFilter(ValueError):
    """A filter that cannot match as asked; the message says which and why."""


class CommunityNotFound(InvalidFilter, NotFound):
    """The community asked about does not exist (any more)."""


@dataclass(frozen=True)
class LogFilters:
    """What the log is narrowed to; None matches anything."""

    community_id: int | None = None
    platform: str | None = None
    action: str | None = None
    actor: str | None = None  # exact: a user name or an automation label ("rules:antilink")
    account_id: int | None = None
    member: str | None = None  # part of the target's name, @username or platform user id
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before


@dataclass(frozen=True)
class TargetOutcome:
    """What one chat's platform answered to the action."""

    platform: str
    chat_id: str
    ok: bool
    error: str | None
    skipped: bool = False

    @property
    def summary(self) -> str:
        if self.ok:
            return "ok"
        return f"{'skipped' if self.skipped else 'failed'} ({self.error or 'refused'})"


@dataclass(frozen=True)
class LogEntry:
    log_id: int
    created_at: datetime
    community_id: int | None
    community_name: str
    action: str
    platform: str | None
    account_id: int | None
    target_name: str
    actor: str
    reason: str
    targets: tuple[TargetOutcome, ...] = ()

    @property
    def result(self) -> str:
        """Of the chats where the action was attempted: "ok" (all), "failed" (none),
        "partial"; "skipped" when no platform could attempt it, "" when there was no chat."""
        attempted = [t for t in self.targets if not t.skipped]
        if not attempted:
            return "skipped" if self.targets else ""
        oks = sum(t.ok for t in attempted)
        if oks == len(attempted):
            return "ok"
        return "failed" if oks == 0 else "partial"


@dataclass(frozen=True)
class DayCount:
    day: date
    warnings: int = 0
    mutes: int = 0
    kicks: int = 0
    bans: int = 0


@dataclass(frozen=True)
class Offender:
    """One person: an identity's linked accounts together, or a lone account."""

    account_id: int  # the account to open (the one with the most against it)
    identity_id: int | None
    name: str
    platforms: tuple[str, ...]
    accounts: int
    active_warnings: int
    sanctions: int


@dataclass(frozen=True)
class Overview:
    community_id: int | None
    since: datetime
    days: list[DayCount]
    recent: list[LogEntry]
    offenders: list[Offender]
    by_action: dict[str, int] = field(default_factory=dict)
    by_platform: dict[str, int] = field(default_factory=dict)

    @property
    def warnings(self) -> int:
        return sum(d.warnings for d in self.days)

    @property
    def bans(self) -> int:
        return sum(d.bans for d in self.days)

    @property
    def actions(self) -> int:
        return sum(self.by_action.values())


# --- the log ----------------------------------------------------------------------------------


def log_entries(
    session: Session,
    viewer: AdminUser,
    filters: LogFilters,
    *,
    limit: int,
    before: int | None = None,
) -> list[LogEntry]:
    """Newest first, ids below ``before`` (keyset paging: as fast deep as on page one)."""
    require_role(viewer, Role.viewer)
    query = joined_log().where(*_conditions(session, filters))
    if before is not None:
        query = query.where(col(ModerationLog.id) < before)
    rows = session.exec(query.order_by(col(ModerationLog.id).desc()).limit(limit)).all()
    return [log_entry(log, name, account) for log, name, account in rows]


def csv_chunk(
    session: Session, viewer: AdminUser, filters: LogFilters, *, before: int | None = None
) -> tuple[str, int | None]:
    """The next CSV_BATCH rows of the filtered log as CSV text (the header with the first
    chunk) and the ``before`` of the chunk after it (None: this was the last)."""
    entries = log_entries(session, viewer, filters, limit=CSV_BATCH + 1, before=before)
    more = len(entries) > CSV_BATCH
    entries = entries[:CSV_BATCH]
    header = CSV_HEADER if before is None else None
    text = csv_text((_csv_row(e) for e in entries), header)
    return text, (entries[-1].log_id if more else None)


def csv_text(rows: Iterable[Sequence[object]], header: Sequence[str] | None = None) -> str:
    """Rows as CSV text, every cell through ``safe_cell``; the header first when given."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header is not None:
        writer.writerow(header)
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def safe_cell(value: object) -> str:
    """The cell as text a spreadsheet shows and never runs: a leading = + - @ (or tab,
    carriage return) gets a ' in front."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_row(entry: LogEntry) -> list[object]:
    targets = "; ".join(f"{t.platform} {t.chat_id}: {t.summary}" for t in entry.targets)
    return [
        entry.log_id,
        entry.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        entry.community_name,
        entry.action,
        entry.target_name,
        entry.platform or "",
        entry.account_id or "",
        entry.actor,
        entry.reason,
        entry.result,
        targets,
    ]


def joined_log() -> Any:
    """Log rows with their community's name and target account (the activity feed too)."""
    return (
        select(ModerationLog, Community.name, PlatformAccount)
        .outerjoin(Community, col(Community.id) == ModerationLog.community_id)
        .outerjoin(PlatformAccount, col(PlatformAccount.id) == ModerationLog.target_account_id)
    )


def _conditions(session: Session, filters: LogFilters) -> list[Any]:
    """The WHERE terms of ``filters``, each checked (a typo is said, not an empty page)."""
    terms: list[Any] = []
    if filters.community_id is not None:
        _community(session, filters.community_id)
        terms.append(ModerationLog.community_id == filters.community_id)
    if filters.platform:
        terms.append(ModerationLog.platform == _member_of(Platform, filters.platform, "platform"))
    if filters.action:
        action = _member_of(ModerationAction, filters.action, "action")
        terms.append(ModerationLog.action == action)
    if filters.actor:
        terms.append(ModerationLog.actor == filters.actor.strip())
    if filters.account_id is not None:
        terms.append(ModerationLog.target_account_id == filters.account_id)
    if search := (filters.member or "").strip().lstrip("@"):
        if len(search) > MAX_SEARCH:
            raise InvalidFilter(f"Search for at most {MAX_SEARCH} characters.")
        matching = select(PlatformAccount.id).where(
            sa.or_(
                col(PlatformAccount.display_name).icontains(search, autoescape=True),
                col(PlatformAccount.username).icontains(search, autoescape=True),
                col(PlatformAccount.platform_user_id) == search,
            )
        )
        terms.append(col(ModerationLog.target_account_id).in_(matching))
    since, until = filters.since, filters.until
    if since and until and as_utc(since) >= as_utc(until):
        raise InvalidFilter("The time range ends before it starts: 'since' must be earlier.")
    if since:
        terms.append(ModerationLog.created_at >= as_utc(since))
    if until:
        terms.append(ModerationLog.created_at < as_utc(until))
    return terms


def _member_of(kind: type[Any], value: str, what: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(m.value for m in kind)
        raise InvalidFilter(f"Unknown {what} {value!r}: one of {known}.") from None


def log_entry(
    log: ModerationLog, community_name: str | None, account: PlatformAccount | None
) -> LogEntry:
    """One row of :func:`joined_log` as people read it."""
    return LogEntry(
        log_id=log.id or 0,
        created_at=as_utc(log.created_at),
        community_id=log.community_id,
        community_name=community_name or "",
        action=str(log.action),
        platform=str(log.platform) if log.platform else None,
        account_id=log.target_account_id,
        target_name=account_name(account) if account else "",
        actor=log.actor,
        reason=log.reason,
        targets=_targets(log.details),
    )


def _targets(details: dict[str, Any]) -> tuple[TargetOutcome, ...]:
    """The per-chat results in ``details["results"]``; anything else there is ignored."""
    found = details.get("results") if isinstance(details, dict) else None
    if not isinstance(found, list):
        return ()
    return tuple(
        TargetOutcome(
            platform=str(r.get("platform") or ""),
            chat_id=str(r.get("chat_id") or ""),
            ok=bool(r.get("ok")),
            error=str(r["error"]) if r.get("error") else None,
            skipped=bool(r.get("skipped")),
        )
        for r in found
        if isinstance(r, dict)
    )


def account_name(account: PlatformAccount) -> str:
    """How a person is shown: their display name, else @username, else the platform id."""
    if account.display_name:
        return account.display_name
    return f"@{account.username}" if account.username else account.platform_user_id


# --- the overview -----------------------------------------------------------------------------


def overview(
    session: Session,
    viewer: AdminUser,
    community_id: int | None = None,
    *,
    now: datetime | None = None,
) -> Overview:
    """The last WINDOW_DAYS days (whole UTC days, today included) of one community or all."""
    require_role(viewer, Role.viewer)
    if community_id is not None:
        _community(session, community_id)
    now = as_utc(now or utcnow())
    since = datetime.combine(now.date() - timedelta(days=WINDOW_DAYS - 1), time(), UTC)
    in_scope = _scope(community_id, since)
    return Overview(
        community_id=community_id,
        since=since,
        days=_days(session, community_id, since),
        recent=log_entries(
            session, viewer, LogFilters(community_id=community_id), limit=RECENT_ACTIONS
        ),
        offenders=_offenders(session, community_id, since, now),
        by_action=_counted(session, ModerationLog.action, in_scope),
        by_platform=_counted(session, ModerationLog.platform, in_scope),
    )


def _scope(community_id: int | None, since: datetime) -> list[Any]:
    terms = [ModerationLog.created_at >= since]
    if community_id is not None:
        terms.append(ModerationLog.community_id == community_id)
    return terms


def _counted(session: Session, column: Any, where: list[Any]) -> dict[str, int]:
    rows = session.exec(
        select(column, sa.func.count()).where(*where).group_by(column).order_by(column)
    ).all()
    counts = {str(value) if value else "none": n for value, n in rows}
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _day_of(session: Session, column: Any) -> Any:
    """The UTC calendar day of a stored time, in SQL (PostgreSQL converts from its zone)."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.date(sa.func.timezone("UTC", column))
    return sa.func.date(column)


def _days(session: Session, community_id: int | None, since: datetime) -> list[DayCount]:
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    warning_terms = [Warning.created_at >= since]
    if community_id is not None:
        warning_terms.append(Warning.community_id == community_id)
    day = _day_of(session, Warning.created_at)
    for value, n in session.exec(
        select(day, sa.func.count()).where(*warning_terms).group_by(day)
    ).all():
        counts[_as_date(value)]["warnings"] = n
    day = _day_of(session, ModerationLog.created_at)
    for value, action, n in session.exec(
        select(day, ModerationLog.action, sa.func.count())
        .where(*_scope(community_id, since), col(ModerationLog.action).in_(SANCTIONS))
        .group_by(day, ModerationLog.action)
    ).all():
        counts[_as_date(value)][SANCTION_SERIES[ModerationAction(action)]] = n
    first = since.date()
    return [
        DayCount(day=first + timedelta(days=i), **counts.get(first + timedelta(days=i), {}))
        for i in range(WINDOW_DAYS)
    ]


def _as_date(value: Any) -> date:
    """SQLite answers date() with text, PostgreSQL with a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _offenders(
    session: Session, community_id: int | None, since: datetime, now: datetime
) -> list[Offender]:
    """The people with the most active warnings and sanctions (in the window) against them,
    ranked in SQL: only the top ones' accounts are read."""
    per_account = _against(community_id, since, now)
    # One key per person: an identity (negated, so it never meets an account id) or an account.
    person = sa.func.coalesce(-col(PlatformAccount.identity_id), col(PlatformAccount.id))
    warnings, sanctions = sa.func.sum(per_account.c.warnings), sa.func.sum(per_account.c.sanctions)
    top = session.exec(
        select(person)
        .select_from(per_account)
        .join(PlatformAccount, col(PlatformAccount.id) == per_account.c.account_id)
        .group_by(person)
        .order_by((warnings + sanctions).desc(), warnings.desc(), person)
        .limit(TOP_OFFENDERS)
    ).all()
    if not top:
        return []
    rows = session.exec(
        select(
            PlatformAccount,
            UserIdentity.display_name,
            per_account.c.warnings,
            per_account.c.sanctions,
        )
        .select_from(per_account)
        .join(PlatformAccount, col(PlatformAccount.id) == per_account.c.account_id)
        .outerjoin(UserIdentity, col(UserIdentity.id) == PlatformAccount.identity_id)
        .where(person.in_(top))
    ).all()
    people: dict[int | None, list[tuple[PlatformAccount, str | None, int, int]]] = defaultdict(list)
    for account, identity_name, warned, sanctioned in rows:
        key = -account.identity_id if account.identity_id else account.id or 0
        people[key].append((account, identity_name, int(warned), int(sanctioned)))
    return [_offender(people[key]) for key in top if key is not None]  # never None: see person


def _against(community_id: int | None, since: datetime, now: datetime) -> Any:
    """Per account: its active warnings and its sanctions in the window (a subquery)."""
    warning_terms: list[Any] = [Warning.active_at(now)]
    if community_id is not None:
        warning_terms.append(Warning.community_id == community_id)
    one, zero = sa.literal(1), sa.literal(0)
    against = sa.union_all(
        select(
            col(Warning.platform_account_id).label("account_id"),
            one.label("warning"),
            zero.label("sanction"),
        ).where(*warning_terms),
        select(col(ModerationLog.target_account_id), zero, one).where(
            *_scope(community_id, since),
            col(ModerationLog.action).in_(SANCTIONS),
            col(ModerationLog.target_account_id).is_not(None),
        ),
    ).subquery()
    return (
        select(
            against.c.account_id,
            sa.func.sum(against.c.warning).label("warnings"),
            sa.func.sum(against.c.sanction).label("sanctions"),
        )
        .group_by(against.c.account_id)
        .subquery()
    )


def _offender(accounts: list[tuple[PlatformAccount, str | None, int, int]]) -> Offender:
    """One person from their accounts that have something against them."""
    main, identity_name, _, _ = max(accounts, key=lambda a: (a[2] + a[3], -(a[0].id or 0)))
    return Offender(
        account_id=main.id or 0,
        identity_id=main.identity_id,
        name=identity_name or account_name(main),
        platforms=tuple(sorted({str(a[0].platform) for a in accounts})),
        accounts=len(accounts),
        active_warnings=sum(a[2] for a in accounts),
        sanctions=sum(a[3] for a in accounts),
    )


# --- pickers ----------------------------------------------------------------------------------


def community_choices(session: Session, viewer: AdminUser) -> list[tuple[int, str]]:
    """(id, name) of every community, by name, for the filters."""
    require_role(viewer, Role.viewer)
    rows = session.exec(select(Community.id, Community.name).order_by(col(Community.name))).all()
    return [(community_id or 0, name) for community_id, name in rows]


def actor_choices(
    session: Session, viewer: AdminUser, community_id: int | None = None
) -> list[str]:
    """Everyone and everything that acted (people, rules, flows), for the actor filter."""
    require_role(viewer, Role.viewer)
    query = select(ModerationLog.actor).distinct()
    if community_id is not None:
        query = query.where(ModerationLog.community_id == community_id)
    return list(session.exec(query.order_by(ModerationLog.actor).limit(MAX_CHOICES)).all())


def _community(session: Session, community_id: int) -> Community:
    community = session.get(Community, community_id)
    if community is None:
        raise CommunityNotFound(f"Community {community_id} does not exist (any more).")
    return community

"""The Moderation page's state: the 30-day overview and the filtered, paged log.

Everything is read through engine/services/moderation_log.py as the signed-in user, whose
role the service checks; a filter the service refuses (an unknown community, a range that
ends before it starts) is shown, not guessed around. The CSV download is the REST export's
text (the same function), capped here because it travels through the page's websocket.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import reflex as rx
from pydantic import BaseModel
from sqlmodel import Session

from engine.db import session_scope
from engine.models import AdminUser, ModerationAction, Platform
from engine.services import auth, moderation_log
from engine.services.errors import NotFound
from engine.services.moderation_log import LogEntry, LogFilters, Overview
from flowbot_ui.state.auth import AuthState

ALL = "all"
PAGE_SIZE = 25
EXPORT_MAX_ROWS = 20_000
REFUSALS = (auth.AuthError, moderation_log.InvalidFilter, NotFound)
T = TypeVar("T")


class Option(BaseModel):
    value: str
    label: str


class LogRow(BaseModel):
    id: int
    time: str
    community: str
    action: str
    target: str
    platform: str
    actor: str
    reason: str
    result: str
    targets: str  # one line per chat: "telegram -1001: ok"


class OffenderRow(BaseModel):
    name: str
    platforms: str
    accounts: int
    warnings: int
    sanctions: int


class CountRow(BaseModel):
    label: str
    count: int


def _row(entry: LogEntry) -> LogRow:
    return LogRow(
        id=entry.log_id,
        time=entry.created_at.strftime("%Y-%m-%d %H:%M"),
        community=entry.community_name or "—",
        action=entry.action.replace("_", " "),
        target=entry.target_name or "—",
        platform=entry.platform or "",
        actor=entry.actor,
        reason=entry.reason,
        result=entry.result,
        targets="\n".join(f"{t.platform} {t.chat_id}: {t.summary}" for t in entry.targets),
    )


def _counts(counts: dict[str, int]) -> list[CountRow]:
    return [CountRow(label=label.replace("_", " "), count=n) for label, n in counts.items()]


def _day(text: str, what: str) -> date | None:
    """A date input's value (YYYY-MM-DD), or None when empty."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise moderation_log.InvalidFilter(f"The {what} date is not a date: {text!r}.") from None


def _choice(value: str, known: set[str]) -> str:
    return value if value in known else ALL


class ModerationState(AuthState):
    community: str = ALL
    platform: str = ALL
    action: str = ALL
    actor: str = ALL
    member: str = ""
    since: str = ""  # YYYY-MM-DD, the first day shown
    until: str = ""  # YYYY-MM-DD, the last day shown
    community_options: list[Option] = []
    actor_options: list[Option] = []

    rows: list[LogRow] = []
    page: int = 1
    has_older: bool = False
    _cursors: list[int] = []  # the ``before`` of each page shown so far (1 is None)
    _older: int = 0

    days: list[dict[str, Any]] = []
    offenders: list[OffenderRow] = []
    by_action: list[CountRow] = []
    by_platform: list[CountRow] = []
    warnings: int = 0
    bans: int = 0
    actions: int = 0
    loaded: bool = False
    message: str = ""

    @rx.event
    def load(self) -> None:
        """Opened (perhaps from a community's page with ?community=<id>): start over."""
        wanted = str(self.router.page.params.get("community", "") or "")
        self.community = wanted if wanted.isdigit() else ALL
        self.platform = self.action = self.actor = ALL
        self.member = self.since = self.until = self.message = ""
        self._first_page()

    # -- filters -------------------------------------------------------------------------------

    @rx.event
    def pick_community(self, value: str) -> None:
        self.community = value if value.isdigit() else ALL
        self._first_page()

    @rx.event
    def pick_platform(self, value: str) -> None:
        self.platform = _choice(value, {p.value for p in Platform})
        self._first_page()

    @rx.event
    def pick_action(self, value: str) -> None:
        self.action = _choice(value, {a.value for a in ModerationAction})
        self._first_page()

    @rx.event
    def pick_actor(self, value: str) -> None:
        self.actor = _choice(value, {o.value for o in self.actor_options})
        self._first_page()

    @rx.event
    def search(self, form: dict[str, Any]) -> None:
        """The member search and the date range, applied together."""
        self.member = str(form.get("member", "")).strip()
        self.since, self.until = str(form.get("since", "")), str(form.get("until", ""))
        self._first_page()

    @rx.event
    def clear_filters(self) -> None:
        self.platform = self.action = self.actor = ALL
        self.member = self.since = self.until = ""
        self._first_page()

    # -- pages ---------------------------------------------------------------------------------

    @rx.event
    def older_page(self) -> None:
        if self.has_older:
            self._cursors = [*self._cursors, self._older]
            self._reload()

    @rx.event
    def newer_page(self) -> None:
        if len(self._cursors) > 1:
            self._cursors = self._cursors[:-1]
            self._reload()

    @rx.event
    def download_csv(self):  # type: ignore[no-untyped-def]
        def export(session: Session, me: AdminUser) -> tuple[str, bool]:
            filters = self._filters()
            text, before = moderation_log.csv_chunk(session, me, filters)
            for _ in range(EXPORT_MAX_ROWS // moderation_log.CSV_BATCH - 1):
                if before is None:
                    break
                more, before = moderation_log.csv_chunk(session, me, filters, before=before)
                text += more
            return text, before is not None

        found = self._read(export)
        if found is None:
            return None
        text, cut = found
        self.message = (
            f"Downloaded the newest {EXPORT_MAX_ROWS:,} rows; GET /api/v1/moderation/log.csv "
            "streams them all."
            if cut
            else ""
        )
        return rx.download(data=text, filename="moderation-log.csv", mime_type="text/csv")

    # -- internals -----------------------------------------------------------------------------

    def _first_page(self) -> None:
        self._cursors = [0]
        self._reload()

    def _filters(self) -> LogFilters:
        since, until = _day(self.since, "from"), _day(self.until, "to")
        return LogFilters(
            community_id=self._community_id(),
            platform=None if self.platform == ALL else self.platform,
            action=None if self.action == ALL else self.action,
            actor=None if self.actor == ALL else self.actor,
            member=self.member or None,
            since=datetime.combine(since, datetime.min.time(), UTC) if since else None,
            until=(
                datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
                if until
                else None
            ),
        )

    def _community_id(self) -> int | None:
        return int(self.community) if self.community.isdigit() else None

    def _read(self, read: Callable[[Session, AdminUser], T]) -> T | None:
        """``read`` as the signed-in user; a refusal shown on the page instead."""
        try:
            with session_scope() as session:
                return read(session, self._current_user(session))
        except REFUSALS as exc:
            self.error = str(exc)
            return None

    def _reload(self) -> None:
        before = self._cursors[-1] if self._cursors else 0

        def read(session: Session, me: AdminUser) -> tuple[list[LogEntry], Overview]:
            self._choices(session, me)
            entries = moderation_log.log_entries(
                session, me, self._filters(), limit=PAGE_SIZE + 1, before=before or None
            )
            return entries, moderation_log.overview(session, me, self._community_id())

        self.error = ""
        found = self._read(read)
        self.loaded = True
        if found is None:
            self.rows, self.has_older = [], False
            return
        entries, overview = found
        self.has_older = len(entries) > PAGE_SIZE
        entries = entries[:PAGE_SIZE]
        self._older = entries[-1].log_id if entries else 0
        self.page = len(self._cursors)
        self.rows = [_row(e) for e in entries]
        self._show(overview)

    def _choices(self, session: Session, me: AdminUser) -> None:
        communities = moderation_log.community_choices(session, me)
        self.community_options = [Option(value=ALL, label="All communities")] + [
            Option(value=str(cid), label=name) for cid, name in communities
        ]
        actors = moderation_log.actor_choices(session, me, self._community_id())
        self.actor_options = [Option(value=ALL, label="Anyone")] + [
            Option(value=a, label=a) for a in actors if a
        ]

    def _show(self, overview: Overview) -> None:
        self.days = [
            {
                "day": d.day.strftime("%b %d"),
                "warnings": d.warnings,
                "mutes": d.mutes,
                "kicks": d.kicks,
                "bans": d.bans,
            }
            for d in overview.days
        ]
        self.offenders = [
            OffenderRow(
                name=o.name,
                platforms=", ".join(o.platforms),
                accounts=o.accounts,
                warnings=o.active_warnings,
                sanctions=o.sanctions,
            )
            for o in overview.offenders
        ]
        self.by_action = _counts(overview.by_action)
        self.by_platform = _counts(overview.by_platform)
        self.warnings, self.bans, self.actions = overview.warnings, overview.bans, overview.actions

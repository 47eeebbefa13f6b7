"""The Members pages' state: a community's member list, and one member's record with the
moderation actions.

Reading and acting go through engine/services/members.py (actions on to
engine/services/moderation.py) as the signed-in user, re-resolved at each call: viewers
read, editors act, whatever the page shows. The list keeps the service's opaque cursor and
appends page after page ("Load more"), so a deep page costs what the first does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import reflex as rx
from pydantic import BaseModel

from engine.db import session_scope
from engine.models import MemberRole, Platform, Role, utcnow
from engine.services import auth, members
from engine.services.errors import Conflict
from engine.services.members import (
    ActionResult,
    MemberAction,
    MemberDetail,
    MemberFilter,
    MemberRow,
    MemberSort,
)
from flowbot_ui.state.auth import AuthState

PAGE_SIZE = 50
ANY = "any"
STATUSES = ("warned", "muted", "banned", "left", "present")
JOINED_WITHIN = ("1", "7", "30", "90")
# What a refused action says: a role, a rule, a missing row, or a state (already revoked).
REFUSALS = (auth.AuthError, ValueError, LookupError, Conflict)
ACTION_HELP = {
    "warn": "A warning counts until it expires or is revoked; at the community's thresholds "
    "it mutes or bans by itself.",
    "mute": "They cannot write in any of the community's chats on their platform until then.",
    "unmute": "They can write again in the community's chats.",
    "kick": "Removed from the community's chats on their platform; they may join again.",
    "ban": "Removed and kept out of the community's chats on their platform.",
    "unban": "Lifts the ban in the community's chats on their platform.",
    "ban_everywhere": "Bans every account linked to this person, in every community each is "
    "a member of.",
}
MUTE_CHOICES = {"10": "10 minutes", "60": "1 hour", "1440": "1 day", "10080": "7 days"}


def _when(value: datetime | None, none: str = "never") -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else none


class MemberItem(BaseModel):
    """One row of the Members table."""

    id: int
    platform: str
    name: str
    username: str
    user_id: str
    role: str
    warnings: int
    muted: bool
    banned: bool
    left: bool
    messages: int
    reputation: int
    last_active: str
    joined: str


def _item(row: MemberRow, now: datetime) -> MemberItem:
    return MemberItem(
        id=row.member_id,
        platform=row.platform,
        name=row.name,
        username=f"@{row.username}" if row.username else "",
        user_id=row.platform_user_id,
        role=row.role,
        warnings=row.active_warnings,
        muted=row.is_muted(now),
        banned=row.is_banned,
        left=row.left_at is not None,
        messages=row.message_count,
        reputation=row.reputation,
        last_active=_when(row.last_active_at),
        joined=_when(row.joined_at),
    )


def _filters(search: str, platform: str, role: str, status: str, joined: str) -> MemberFilter:
    """The page's selects as the service's filter; an unknown value means "any"."""
    chosen = {
        "warned": {"warned": True},
        "muted": {"muted": True},
        "banned": {"banned": True},
        "left": {"left": True},
        "present": {"left": False},
    }.get(status, {})
    return MemberFilter(
        search=search,
        platform=Platform(platform) if platform in Platform.__members__ else None,
        role=MemberRole(role) if role in MemberRole.__members__ else None,
        joined_within_days=int(joined) if joined in JOINED_WITHIN else None,
        **chosen,
    )


def _route_id(state: AuthState, name: str) -> int:
    value = str(state.router.page.params.get(name, "") or "")
    return int(value) if value.isdigit() and len(value) < 10 else 0


class MembersState(AuthState):
    community_id: int = 0
    community_name: str = ""
    missing: bool = False
    loaded: bool = False
    message: str = ""
    rows: list[MemberItem] = []
    next_cursor: str = ""
    search: str = ""
    platform_filter: str = ANY
    role_filter: str = ANY
    status_filter: str = ANY
    joined_filter: str = ANY
    sort: str = MemberSort.last_active.value

    @rx.event
    def load(self) -> None:
        self.community_id = _route_id(self, "community_ref")
        self.rows, self.next_cursor, self.error = [], "", ""
        self._fetch(append=False)

    def _fetch(self, *, append: bool) -> None:
        """The first page (or the next one, appended) under the current filters and sort."""
        sort = MemberSort(self.sort) if self.sort in MemberSort.__members__ else None
        filters = _filters(
            self.search, self.platform_filter, self.role_filter, self.status_filter,
            self.joined_filter,
        )  # fmt: skip
        try:
            with session_scope() as session:
                self._current_user(session)
                community = members.community_name(session, self.community_id)
                page = members.member_page(
                    session,
                    self.community_id,
                    filters=filters,
                    sort=sort or MemberSort.last_active,
                    limit=PAGE_SIZE,
                    cursor=self.next_cursor if append else None,
                )
        except members.MemberNotFound:
            self.missing, self.loaded, self.rows = True, True, []
            return
        except REFUSALS as exc:
            self.error = str(exc)
            return
        now = utcnow()
        found = [_item(row, now) for row in page.rows]
        self.missing, self.loaded, self.community_name, self.error = False, True, community, ""
        self.rows = [*self.rows, *found] if append else found
        self.next_cursor = page.next_cursor or ""

    def _refilter(self) -> None:
        self.next_cursor = ""
        self._fetch(append=False)

    @rx.event
    def load_more(self) -> None:
        if self.next_cursor:
            self._fetch(append=True)

    @rx.event
    def search_members(self, form: dict[str, Any]) -> None:
        self.search = str(form.get("search", ""))[: members.MAX_SEARCH]
        self._refilter()

    @rx.event
    def pick_platform(self, value: str) -> None:
        self.platform_filter = value if value in Platform.__members__ else ANY
        self._refilter()

    @rx.event
    def pick_role(self, value: str) -> None:
        self.role_filter = value if value in MemberRole.__members__ else ANY
        self._refilter()

    @rx.event
    def pick_status(self, value: str) -> None:
        self.status_filter = value if value in STATUSES else ANY
        self._refilter()

    @rx.event
    def pick_joined(self, value: str) -> None:
        self.joined_filter = value if value in JOINED_WITHIN else ANY
        self._refilter()

    @rx.event
    def pick_sort(self, value: str) -> None:
        self.sort = value if value in MemberSort.__members__ else MemberSort.last_active.value
        self._refilter()


# --- one member -------------------------------------------------------------------------------


class MembershipItem(BaseModel):
    member_id: int
    community: str
    role: str
    messages: int
    flags: str


class AccountItem(BaseModel):
    account_id: int
    platform: str
    name: str
    username: str
    user_id: str
    phone: str
    seen: str
    memberships: list[MembershipItem]


class WarningItem(BaseModel):
    id: int
    platform: str
    reason: str
    issued_by: str
    created: str
    expires: str
    status: str
    revoke_reason: str


class HistoryItem(BaseModel):
    """A reputation change or a moderation action, as one line of its list."""

    when: str
    what: str
    delta: int
    actor: str
    reason: str


class TargetItem(BaseModel):
    platform: str
    chat_id: str
    ok: bool
    error: str


class ResultItem(BaseModel):
    """The last action's answer: the panel under the action bar."""

    action: str
    ok: bool
    summary: str
    targets: list[TargetItem]


def _flags(membership: members.Membership, now: datetime) -> str:
    flags = [
        ("banned", membership.is_banned),
        ("muted", membership.is_muted(now)),
        ("left", membership.left_at is not None),
    ]
    return ", ".join(name for name, on in flags if on)


def _accounts(detail: MemberDetail, now: datetime) -> list[AccountItem]:
    return [
        AccountItem(
            account_id=a.account_id,
            platform=a.platform,
            name=a.display_name or a.platform_user_id,
            username=f"@{a.username}" if a.username else "",
            user_id=a.platform_user_id,
            phone=a.phone or "",
            seen=f"{_when(a.first_seen_at)} → {_when(a.last_seen_at)}",
            memberships=[
                MembershipItem(
                    member_id=m.member_id,
                    community=m.community_name,
                    role=m.role,
                    messages=m.message_count,
                    flags=_flags(m, now),
                )
                for m in a.memberships
            ],
        )
        for a in detail.accounts
    ]


def _result(result: ActionResult) -> ResultItem:
    return ResultItem(
        action=result.action,
        ok=result.ok,
        summary=result.summary,
        targets=[
            TargetItem(
                platform=t.platform,
                chat_id=t.chat_id,
                ok=t.ok,
                error=t.error or ("skipped" if t.skipped else ""),
            )
            for t in result.targets
        ],
    )


class MemberState(AuthState):
    missing: bool = False
    member_id: int = 0
    community_id: int = 0
    community_name: str = ""
    name: str = ""
    username: str = ""
    user_id: str = ""
    platform: str = ""
    role: str = ""
    identity: str = ""
    muted: bool = False
    banned: bool = False
    left: bool = False
    facts: dict[str, str] = {}
    totals: dict[str, int] = {}
    accounts: list[AccountItem] = []
    warnings: list[WarningItem] = []
    reputation: list[HistoryItem] = []
    moderation: list[HistoryItem] = []
    result: ResultItem | None = None
    message: str = ""

    action_open: str = ""  # the action whose confirm dialog is open
    revoke_for: int = 0
    dialog_error: str = ""
    mute_minutes: str = "60"

    @rx.var
    def action_title(self) -> str:
        label = self.action_open.replace("_", " ").capitalize() or "Action"
        return f"{label} · {self.name}"

    @rx.var
    def action_help(self) -> str:
        return ACTION_HELP.get(self.action_open, "")

    @rx.event
    def load(self) -> None:
        self.member_id = _route_id(self, "member_ref")
        self.result, self.error = None, ""
        self._close()
        self._reload()

    def _reload(self) -> None:
        try:
            with session_scope() as session:
                self._current_user(session)
                detail = members.member_detail(session, self.member_id)
        except members.MemberNotFound:
            self.missing = True
            return
        except REFUSALS as exc:
            self.error = str(exc)
            return
        self._show(detail)

    def _show(self, detail: MemberDetail) -> None:
        now, row = utcnow(), detail.member
        self.missing = False
        self.community_id, self.community_name = row.community_id, detail.community_name
        self.name, self.user_id, self.platform = row.name, row.platform_user_id, row.platform
        self.username = f"@{row.username}" if row.username else ""
        self.role, self.identity = row.role, detail.identity_name
        self.muted, self.banned, self.left = row.is_muted(now), row.is_banned, bool(row.left_at)
        thresholds = detail.warning_thresholds
        self.facts = {
            "Joined": _when(row.joined_at),
            "Last active": _when(row.last_active_at),
            "First seen": _when(detail.first_seen_at),
            "Last seen": _when(detail.last_seen_at),
            "Messages": str(row.message_count),
            "Reputation": str(row.reputation),
            "Muted until": _when(row.muted_until, "not muted") if self.muted else "not muted",
            "Thresholds": f"mute at {thresholds.get('mute_at') or '—'}, "
            f"ban at {thresholds.get('ban_at') or '—'} warnings",
        }
        self.totals = vars(detail.totals).copy()
        self.accounts = _accounts(detail, now)
        self.warnings = [
            WarningItem(
                id=w.warning_id,
                platform=w.platform,
                reason=w.reason or "(no reason)",
                issued_by=w.issued_by,
                created=_when(w.created_at),
                expires=_when(w.expires_at, "never"),
                status=w.status,
                revoke_reason=w.revoke_reason,
            )
            for w in detail.warnings
        ]
        self.reputation = [
            HistoryItem(
                when=_when(e.created_at),
                what=e.rule or "manual",
                delta=e.delta,
                actor=e.actor,
                reason=e.reason,
            )  # fmt: skip
            for e in detail.reputation_history
        ]
        self.moderation = [
            HistoryItem(
                when=_when(e.created_at),
                what=e.action,
                delta=0,
                actor=e.actor,
                reason=e.reason,
            )  # fmt: skip
            for e in detail.moderation
        ]

    def _close(self) -> None:
        self.action_open, self.revoke_for, self.dialog_error = "", 0, ""

    @rx.event
    def on_dialog_change(self, open_: bool) -> None:
        if not open_:
            self._close()

    @rx.event
    def open_action(self, action: str) -> None:
        self._close()
        self.action_open = action if action in ACTION_HELP else ""

    @rx.event
    def pick_mute_minutes(self, value: str) -> None:
        self.mute_minutes = value if value in MUTE_CHOICES else "60"

    @rx.event
    async def confirm_action(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        """Carry out the open dialog's action; its answer goes to the toast and the panel."""
        action, reason = self.action_open, str(form.get("reason", ""))
        if action not in ACTION_HELP:
            return None
        minutes = int(self.mute_minutes) if action == "mute" else None
        try:
            with session_scope() as session:
                me = self._current_user(session, Role.editor)
                target = members.action_target(session, me, self.member_id)
            if action == "warn":
                done = await members.warn(me, target, reason)
            else:
                done = await members.act(
                    me, target, MemberAction(action), reason=reason, minutes=minutes
                )
        except REFUSALS as exc:
            self.dialog_error = str(exc)
            return None
        self._close()
        self.result = _result(done)
        self._reload()
        return rx.toast.success(done.summary) if done.ok else rx.toast.warning(done.summary)

    @rx.event
    def open_revoke(self, warning_id: int) -> None:
        self._close()
        self.revoke_for = warning_id

    @rx.event
    def confirm_revoke(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        warning_id, reason = self.revoke_for, str(form.get("reason", ""))
        try:
            with session_scope() as session:
                me = self._current_user(session, Role.editor)
                members.revoke_warning(session, me, warning_id, reason)
        except REFUSALS as exc:
            self.dialog_error = str(exc)
            return None
        self._close()
        self._reload()
        return rx.toast.success(f"Warning {warning_id} revoked: it no longer counts.")

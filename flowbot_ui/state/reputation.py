"""The Leaderboard page's state: top people per community or across all, their history,
and the manual adjustment dialog.

Reading and adjusting go through engine/services/reputation.py as the signed-in user,
re-resolved at each call: viewers read, editors adjust (with a reason), whatever the page
shows.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from pydantic import BaseModel

from engine.db import session_scope
from engine.services import communities, reputation
from engine.services.reputation import HistoryEntry, Leader
from flowbot_ui.state.accounts import REFUSALS
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.service_calls import run_as_signed_in

ALL = "all"
BOARD_SIZE = 50
HISTORY_SIZE = 50


class Choice(BaseModel):
    id: str  # a select's value is a string
    name: str


class LinkedItem(BaseModel):
    id: int
    platform: str
    label: str


class LeaderItem(BaseModel):
    rank: int
    score: int
    name: str
    identity_id: int
    accounts: list[LinkedItem]


class HistoryItem(BaseModel):
    when: str
    community: str
    platform: str
    name: str
    delta: int
    reason: str
    actor: str


def _leader(leader: Leader) -> LeaderItem:
    return LeaderItem(
        rank=leader.rank,
        score=leader.score,
        name=leader.name,
        identity_id=leader.identity_id or 0,
        accounts=[
            LinkedItem(
                id=a.account_id,
                platform=a.platform,
                label=a.display_name or (f"@{a.username}" if a.username else str(a.account_id)),
            )
            for a in leader.accounts
        ],
    )


def _history(entry: HistoryEntry) -> HistoryItem:
    return HistoryItem(
        when=entry.created_at.strftime("%Y-%m-%d %H:%M"),
        community=entry.community_name,
        platform=entry.platform,
        name=entry.display_name,
        delta=entry.delta,
        reason=entry.reason,
        actor=entry.actor,
    )


class ReputationState(AuthState):
    communities: list[Choice] = []
    community: str = ALL
    leaders: list[LeaderItem] = []
    loaded: bool = False
    message: str = ""
    dialog_error: str = ""
    history: list[HistoryItem] = []
    history_title: str = ""

    adjust_open: bool = False
    adjust_name: str = ""
    adjust_accounts: list[LinkedItem] = []
    adjust_account: str = ""
    adjust_community: str = ""

    @rx.event
    def load(self) -> None:
        self.message = self.error = ""
        self._close_all()
        self._reload()

    def _community_id(self) -> int | None:
        return int(self.community) if self.community.isdigit() else None

    def _reload(self) -> None:
        try:
            with session_scope() as session:
                self._current_user(session)
                self.communities = [
                    Choice(id=str(c.community_id), name=c.name)
                    for c in communities.list_communities(session)
                ]
                if self.community not in {c.id for c in self.communities}:
                    self.community = ALL
                board = reputation.leaderboard(session, self._community_id(), BOARD_SIZE)
                recent = reputation.history(
                    session, HISTORY_SIZE, community_id=self._community_id()
                )
        except REFUSALS as exc:
            self.error = str(exc)
            return
        self.leaders = [_leader(x) for x in board]
        self.history = [_history(e) for e in recent]
        self.history_title = "Recent changes"
        self.loaded = True

    def _close_all(self) -> None:
        self.adjust_open = False
        self.dialog_error = ""

    @rx.event
    def on_dialog_change(self, open_: bool) -> None:
        if not open_:
            self._close_all()

    @rx.event
    def pick_community(self, value: str) -> None:
        self.community = value
        self._reload()

    def _leader_at(self, rank: int) -> LeaderItem | None:
        return next((x for x in self.leaders if x.rank == rank), None)

    @rx.event
    def show_history(self, rank: int) -> None:
        leader = self._leader_at(rank)
        if leader is None:
            return
        ids = {"identity_id": leader.identity_id} if leader.identity_id else {}
        if not ids and leader.accounts:
            ids = {"account_id": leader.accounts[0].id}
        try:
            with session_scope() as session:
                self._current_user(session)
                found = reputation.history(
                    session, HISTORY_SIZE, community_id=self._community_id(), **ids
                )
        except REFUSALS as exc:
            self.error = str(exc)
            return
        self.history = [_history(e) for e in found]
        self.history_title = f"History of {leader.name}"

    @rx.event
    def open_adjust(self, rank: int) -> None:
        leader = self._leader_at(rank)
        if leader is None or not leader.accounts:
            return
        self._close_all()
        self.adjust_open, self.adjust_name = True, leader.name
        self.adjust_accounts = leader.accounts
        self.adjust_account = str(leader.accounts[0].id)
        self.adjust_community = self.community if self.community != ALL else ""

    @rx.event
    def pick_adjust_account(self, value: str) -> None:
        self.adjust_account = value

    @rx.event
    def pick_adjust_community(self, value: str) -> None:
        self.adjust_community = value

    @rx.event
    def adjust(self, form: dict[str, Any]) -> None:
        if not self.adjust_community.isdigit():
            self.dialog_error = "Pick the community the points count in."
            return
        if not self.adjust_account.isdigit():
            self.dialog_error = "Pick the account."
            return
        try:
            delta = int(str(form.get("delta", "")).strip())
        except ValueError:
            self.dialog_error = "The change is a whole number, e.g. 5 or -2."
            return
        community_id, account_id = int(self.adjust_community), int(self.adjust_account)
        reason = str(form.get("reason", ""))
        if run_as_signed_in(
            self,
            lambda s, me: reputation.adjust_manually(
                s, me, community_id, account_id, delta, reason
            ),
            REFUSALS,
            f"{delta:+d} for {self.adjust_name}.",
            in_dialog=True,
        ):
            self._close_all()

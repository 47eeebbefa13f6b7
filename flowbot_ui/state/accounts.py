"""The Accounts page's state: every platform account seen, linking them into people,
the suggestions, and one person's drawer.

Reading and changing go through engine/services/identities.py as the signed-in user,
re-resolved at each call: viewers read, editors link, unlink, rename and dismiss, whatever
the page shows. The list keeps the last row's id and appends page after page ("Load
more"), so a deep page costs what the first does.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from pydantic import BaseModel

from engine.db import session_scope
from engine.models import Platform
from engine.services import auth, identities
from engine.services.errors import Conflict
from engine.services.identities import AccountView, IdentityView
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.service_calls import Action, run_as_signed_in

PAGE_SIZE = 50
ANY = "any"
REFUSALS = (auth.AuthError, ValueError, LookupError, Conflict)


class AccountItem(BaseModel):
    """One row of the accounts table (or of a person's drawer)."""

    id: int
    platform: str
    name: str
    username: str
    user_id: str
    person_id: int
    person: str
    communities: int
    messages: int
    warnings: int
    reputation: int
    banned: bool
    last_seen: str


class SuggestionItem(BaseModel):
    first: AccountItem
    second: AccountItem
    reasons: str


def _item(view: AccountView) -> AccountItem:
    return AccountItem(
        id=view.account_id,
        platform=view.platform,
        name=view.label,
        username=f"@{view.username}" if view.username else "",
        user_id=view.platform_user_id,
        person_id=view.identity_id or 0,
        person=view.identity_name or "",
        communities=view.communities,
        messages=view.messages,
        warnings=view.warnings,
        reputation=view.reputation,
        banned=view.banned,
        last_seen=view.last_seen_at.strftime("%Y-%m-%d %H:%M"),
    )


class AccountsState(AuthState):
    rows: list[AccountItem] = []
    loaded: bool = False
    more: bool = False
    message: str = ""
    dialog_error: str = ""
    search: str = ""
    platform_filter: str = ANY
    selected: list[int] = []
    suggestions: list[SuggestionItem] = []

    link_open: bool = False
    # the person in the drawer (0: closed)
    person_id: int = 0
    person_name: str = ""
    person_notes: str = ""
    person_accounts: list[AccountItem] = []
    person_totals: str = ""
    delete_open: bool = False

    @rx.event
    def load(self) -> None:
        self.message = self.error = ""
        self.selected = []
        self._close_all()
        self._reload()

    def _reload(self) -> None:
        """The first page under the filters, the suggestions, and the open person again."""
        self._fetch(append=False)
        if self.person_id:
            self._show_person(self.person_id)

    def _fetch(self, *, append: bool) -> None:
        before = self.rows[-1].id if append and self.rows else None
        platform = self.platform_filter if self.platform_filter in Platform.__members__ else None
        try:
            with session_scope() as session:
                self._current_user(session)
                views = identities.account_page(
                    session, PAGE_SIZE + 1, before=before, search=self.search, platform=platform
                )
                found = identities.suggestions(session, limit=20)
        except REFUSALS as exc:
            self.error = str(exc)
            return
        page = [_item(v) for v in views[:PAGE_SIZE]]
        self.rows = [*self.rows, *page] if append else page
        self.more = len(views) > PAGE_SIZE
        self.suggestions = [
            SuggestionItem(
                first=_item(s.first), second=_item(s.second), reasons=", ".join(s.reasons)
            )
            for s in found
        ]
        self.loaded = True

    def _run(self, action: Action, success: str = "", *, in_dialog: bool = False) -> bool:
        return run_as_signed_in(self, action, REFUSALS, success, in_dialog=in_dialog)

    def _close_all(self) -> None:
        self.link_open = self.delete_open = False
        self.dialog_error = ""

    @rx.event
    def on_dialog_change(self, open_: bool) -> None:
        if not open_:
            self._close_all()

    # -- the list --------------------------------------------------------------------------

    @rx.event
    def search_accounts(self, form: dict[str, Any]) -> None:
        self.search = str(form.get("search", ""))[:128]
        self._fetch(append=False)

    @rx.event
    def pick_platform(self, value: str) -> None:
        self.platform_filter = value if value in Platform.__members__ else ANY
        self._fetch(append=False)

    @rx.event
    def load_more(self) -> None:
        if self.more:
            self._fetch(append=True)

    @rx.event
    def toggle(self, account_id: int, on: bool) -> None:
        chosen = [i for i in self.selected if i != account_id]
        self.selected = [*chosen, account_id] if on else chosen

    @rx.event
    def clear_selection(self) -> None:
        self.selected = []

    # -- linking ---------------------------------------------------------------------------

    @rx.event
    def open_link(self) -> None:
        self._close_all()
        self.link_open = True

    @rx.event
    def link_selected(self, form: dict[str, Any]) -> None:
        chosen, name = list(self.selected), str(form.get("name", ""))
        made: list[int] = []
        if self._run(
            lambda s, me: made.append(identities.link_accounts(s, me, chosen, name)),
            f"Linked {len(chosen)} accounts into one person.",
            in_dialog=True,
        ):
            self._close_all()
            self.selected = []
            self._show_person(made[0])

    @rx.event
    def confirm(self, account_id: int, other_account_id: int) -> None:
        self._run(
            lambda s, me: identities.confirm_suggestion(s, me, account_id, other_account_id),
            "Linked: they are one person now.",
        )

    @rx.event
    def dismiss(self, account_id: int, other_account_id: int) -> None:
        self._run(
            lambda s, me: identities.dismiss_suggestion(s, me, account_id, other_account_id),
            "Dismissed: this pair will not be suggested again.",
        )

    # -- one person ------------------------------------------------------------------------

    @rx.event
    def open_person(self, identity_id: int) -> None:
        self._close_all()
        self._show_person(identity_id)

    def _show_person(self, identity_id: int) -> None:
        try:
            with session_scope() as session:
                self._current_user(session)
                view = identities.get_identity(session, identity_id)
        except REFUSALS as exc:
            self.person_id, self.error = 0, str(exc)
            return
        self._person(view)

    def _person(self, view: IdentityView) -> None:
        self.person_id, self.person_name = view.identity_id, view.display_name
        self.person_notes = view.notes
        self.person_accounts = [_item(a) for a in view.accounts]
        self.person_totals = (
            f"{view.warnings} active warnings · reputation {view.reputation} · "
            f"{view.messages} messages" + (" · banned somewhere" if view.banned else "")
        )

    @rx.event
    def close_person(self, open_: bool) -> None:
        if not open_:
            self.person_id, self.delete_open = 0, False

    @rx.event
    def rename_person(self, form: dict[str, Any]) -> None:
        person, name = self.person_id, str(form.get("name", ""))
        notes = str(form.get("notes", ""))
        self._run(
            lambda s, me: identities.update_identity(s, me, person, display_name=name, notes=notes),
            "Saved.",
        )

    @rx.event
    def unlink(self, account_id: int) -> None:
        person = self.person_id
        self._run(
            lambda s, me: identities.remove_account(s, me, person, account_id),
            "Unlinked: the account stands on its own again.",
        )

    @rx.event
    def open_delete(self) -> None:
        self.delete_open = True

    @rx.event
    def confirm_delete(self) -> None:
        person, name = self.person_id, self.person_name
        self.delete_open, self.person_id = False, 0  # closed first: the reload would miss it
        self._run(
            lambda s, me: identities.delete_identity(s, me, person),
            f"Forgot {name}: the accounts stay, unlinked.",
        )

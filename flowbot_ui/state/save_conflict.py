"""One editor's way out of a save made elsewhere: take theirs, keep ours, or merge.

The room's draft is shared, but the choice is one person's: the dialog, the list of what
goes and the result are this page's alone. Each way that drops work names it first
(the unsaved edits, or what the other save changed) and acts only on what was named: if
the list changed meanwhile, it is shown again instead.
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx
from pydantic import BaseModel

from engine.flow_merge import Conflict, Edit, Side
from engine.nodes import REGISTRY
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.flow_graph import field_name
from flowbot_ui.state.room import FlowRoom

CHOICES = ("theirs", "ours", "merge")
SHOWN_VALUE = 60  # characters of a conflicting value shown in the dialog


class ConflictRow(BaseModel):
    key: str
    what: str
    mine: str
    theirs: str
    choice: str  # "ours" or "theirs"
    mine_label: str = "Mine:"  # whose the unsaved side is, when someone else's


def node_name(node_type: str, node_id: str) -> str:
    label = REGISTRY.get(node_type).label if node_type in REGISTRY else node_type
    return f"{label} ({node_id})"


def describe(edit: Edit, whose: str = "the") -> str:
    """One edit in words, for the list of what a choice drops: ``whose`` is "the", "your"
    or a person's ("Bob's")."""
    node = node_name(edit.node_type, edit.node_id)
    if edit.kind in ("connected", "disconnected"):
        end = node_name(edit.target_type, edit.target_id)
        handle = "" if edit.field == "next" else f" ({edit.field})"
        wire = f"{node}{handle} → {end}"
        if edit.kind == "connected":
            return f"{whose} new connection {wire}"
        return f"{whose} removal of the connection {wire}"
    if edit.kind == "changed":
        return f"{whose} change to {node} › {field_name(edit.node_type, edit.field)}"
    if edit.kind == "moved":
        return f"{whose} move of {node}"
    if edit.kind == "added":
        return f"{whose} new node {node}"
    return f"{whose} removal of {node}"


def named(edits: list[Edit], authors: list[str], me: str) -> list[str]:
    """What goes, each edit saying whose it is when any is someone else's ("Bob's change
    to …", "your move of …"): dropping a co-editor's work names them. All one's own (or
    not known): "the change to …"."""
    if all(author in ("", me) for author in authors):
        return [describe(edit) for edit in edits]
    return [
        describe(edit, "your" if author == me else f"{author}'s" if author else "the")
        for edit, author in zip(edits, authors, strict=True)
    ]


def _value(value: Any) -> str:
    text = "(empty)" if value is None else value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 1] + "…"


def conflict_row(conflict: Conflict, choice: Side, author: str = "", me: str = "") -> ConflictRow:
    """One conflict to pick a side of; the unsaved side says whose it is (``author``) when
    that is not the person choosing."""
    label = "Mine:" if author in ("", me) else f"{author}'s, here:"
    node = node_name(conflict.node_type, conflict.node_id)
    if conflict.removed_by == "theirs":
        mine, theirs = "you changed it: keep it", "removed there"
    elif conflict.removed_by == "ours":
        mine, theirs = "removed here", "changed there: keep it"
    else:
        node = f"{node} › {field_name(conflict.node_type, conflict.field)}"
        mine, theirs = _value(conflict.ours), _value(conflict.theirs)
    return ConflictRow(
        key=conflict.key, what=node, mine=mine, theirs=theirs, choice=choice, mine_label=label
    )


class SaveConflictState(AuthState):
    asking: str = ""  # the dialog open on this page: "theirs", "ours" or "merge"
    goes: list[str] = []  # what the choice asked about drops, named
    rows: list[ConflictRow] = []  # a merge's conflicts, each with this person's pick
    again: str = ""  # why the dialog is shown again (it changed meanwhile)
    done: str = ""  # what this person's choice did: said to them alone
    _revision: int = 0  # the save elsewhere that "keep ours" was shown

    async def _room(self) -> FlowRoom | None:
        """The room, if this person may edit it (viewers get nothing to choose)."""
        room = await self.get_state(FlowRoom)
        return room if await room._user() is not None else None

    @rx.event
    async def ask(self, choice: str) -> None:
        """Open the dialog for one way out, naming what it drops."""
        room = await self._room()
        if room is None or choice not in CHOICES:
            return
        self.again, self.done = "", ""
        if choice == "theirs":
            self.goes = self._unsaved(room)
        elif choice == "ours":
            self.goes = self._theirs(room)
        else:
            self.goes = []
            if await self._merge(room, {}):
                return
        self.asking = choice

    def _theirs(self, room: FlowRoom) -> list[str]:
        """What the save elsewhere changed, named with its saver (what keeping ours drops);
        the revision it was read at is kept, to overwrite nothing else."""
        dropped, saved = room._their_edits()
        self._revision = saved.revision
        return named(dropped, [saved.saver] * len(dropped), self._username)

    def _unsaved(self, room: FlowRoom) -> list[str]:
        """The room's unsaved edits, named with whose they are (what taking theirs drops)."""
        pending = room._pending()
        return named(pending, [room._author(e.key) for e in pending], self._username)

    async def _merge(self, room: FlowRoom, choices: dict[str, Side]) -> bool:
        """Merge with these picks: done (True) when every conflict has one, else the rows
        to pick from (new conflicts default to theirs)."""
        found = await room._merge_saved(choices)
        if found is None:
            return True
        merged, theirs, revision = found
        unpicked = [c for c in merged.conflicts if c.key not in choices]
        if unpicked:
            self.rows = [
                conflict_row(
                    c, choices.get(c.key, "theirs"), room._author(c.ours_key), self._username
                )
                for c in merged.conflicts
            ]
            return False
        if await room._adopt_merge(merged.graph, theirs, revision):
            kept = sum(1 for side in choices.values() if side == "ours")
            self.done = (
                f"Merged the unsaved edits into the saved version ({len(merged.conflicts)} "
                f"conflicts: {kept} kept yours)."
                if merged.conflicts
                else "Merged the unsaved edits into the saved version."
            )
        return True

    @rx.event
    def choose(self, key: str, side: str) -> None:
        """Pick a side for one conflict of the merge shown."""
        if side in ("ours", "theirs"):
            self.rows = [
                r.model_copy(update={"choice": side}) if r.key == key else r for r in self.rows
            ]

    @rx.event
    async def confirm(self) -> None:
        """Do what the dialog asked, if what it named is still what goes."""
        room = await self._room()
        choice = self.asking
        if room is None or not choice:
            return
        if choice == "theirs":
            now = self._unsaved(room)
            if now != self.goes:
                self.goes, self.again = now, "The unsaved edits changed meanwhile: check again."
                return
            if await room._take_saved():
                self.done = f"Took the saved version; unsaved edits dropped: {len(now)}."
        elif choice == "ours":
            _, saved = room._their_edits()
            if saved.revision != self._revision or not await room._overwrite(saved.revision):
                self.goes = self._theirs(room)
                self.again = "It was saved elsewhere again meanwhile: check again."
                return
            self.done = "Saved the edits here over the version saved elsewhere."
        else:
            picks: dict[str, Side] = {
                r.key: "ours" if r.choice == "ours" else "theirs" for r in self.rows
            }
            if not await self._merge(room, picks):
                self.again = "New conflicts came in meanwhile: check again."
                return
        self._close()

    @rx.event
    def cancel(self) -> None:
        self._close()

    def _close(self) -> None:
        self.asking, self.goes, self.rows, self.again = "", [], [], ""

    @rx.event
    def dismiss(self) -> None:
        self.done = ""

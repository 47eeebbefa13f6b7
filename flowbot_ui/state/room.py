"""One flow's editing room: the draft everyone who has the flow open edits together.

``FlowRoom`` is an ``rx.SharedState`` linked to the token ``flow-<id>``: every client
linked to it sees each edit (add, move, connect, params) at once, and presence. Each edit
reaches the pages as a few canvas operations (``patch``, numbered), never the whole canvas;
a page takes a snapshot only when it opens or finds a number missing. The room
holds one draft, so co-editors never overwrite each other; saving writes it with the
revision it was loaded at, so a save made elsewhere (the API, another server) is refused
with a message instead of being lost, and the room keeps what it last loaded or saved, so
its unsaved edits can be named, dropped, written over the other save, or merged into it
(engine.flow_merge; each editor chooses on their own page). The editor pages autosave it
after a pause in editing, so a server restart loses at most that pause; while a save
elsewhere is unresolved, the autosave holds the draft in the database instead
(engine.services.draft_holds), and a room loaded after a restart takes it back with the
same choice to make. Undo is per
client: each keeps what its own edits changed (graph_changes), undone only where the draft
still holds it.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Self

import reflex as rx
from reflex.istate.manager.token import BaseStateToken
from reflex_base import constants
from reflex_base.registry import RegistrationContext
from reflex_base.utils.exceptions import ReflexRuntimeError
from sqlmodel import Session

from engine import flow_merge
from engine.db import session_scope
from engine.graph import Issue
from engine.models import FlowDefinition, FlowDraftHold, FlowStatus, FlowVersion, Role
from engine.services import auth, draft_holds, flows
from engine.settings import derive_key, get_settings
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.flow_graph import (
    auto_layout,
    canvas_ops,
    canvas_view,
    edge_id,
    field_name,
    field_text,
    first_errors,
    new_node_id,
    node_handles,
    parse_field,
)
from flowbot_ui.state.graph_changes import (
    Change,
    apply_change,
    graph_change,
    is_empty,
    moves_change,
    touched,
)
from flowbot_ui.state.room_notice import PersonalNotice

UNDO_DEPTH = 50  # per person: what each of their edits changed (small), not snapshots
PROBLEMS_SHOWN = 5  # the problems list shows these first ones and how many there are (an
# edit that changes many, such as a cut wire leaving the rest of a chain unreachable, sends
# no more than these)
PRESENCE_TIMEOUT = 3.5  # seconds without a heartbeat (pages send one every second, see
# flow_canvas.HEARTBEAT_SECONDS): gone. Two missed heartbeats are forgiven; checked at the
# others' heartbeats, a tab closed without a word is gone within 4.5 s
PASTE_OFFSET = 40.0
CHECK_PAUSE = 0.3  # seconds without another structural edit before the draft is checked:
# validating holds the interpreter ~0.2 s at 1,000 nodes, which must not slow the edits,
# the page opening, or their fan-out to co-editors (a burst of edits is checked once)
ROUTER_FIELDS = frozenset((*constants.ROUTER_VARS, constants.ROUTER_DATA))
CONFLICT = (
    "This flow was saved somewhere else since it was opened here. The unsaved edits are "
    "kept here: merge them into the saved version, keep them over it, or take the saved "
    "version."
)

Graph = dict[str, Any]


class SavedElsewhere(NamedTuple):
    """The draft as saved now, which refused the room's save."""

    graph: Graph
    revision: int
    saver: str  # who made that save, when it is the only one since the room's base; else ""


def room_token(flow_id: int) -> str:
    """The room's link token, which is also the key its state is stored under.

    Reflex keeps a client's own state under the token the client names, so a guessable
    room token would let any client open the room's state as its own; a keyed hash of
    the flow id cannot be guessed. Link tokens may not contain underscores.
    """
    secret = derive_key(get_settings().effective_secret_key, "flow-room")
    digest = hmac.new(secret, str(flow_id).encode(), hashlib.sha256).hexdigest()[:32]
    return f"flow-{flow_id}-{digest}"


class FlowRoom(rx.SharedState):
    flow_id: int = 0
    name: str = ""
    status: str = "draft"
    published: bool = False
    live_version: int = 0  # the published version's number; 0 before the first publish
    live_version_id: int = 0
    unpublished: bool = False  # the room's draft differs from the live version
    revision: int = 0
    dirty: bool = False
    patch: dict[str, Any] = {"seq": 0, "ops": []}  # the last change, as canvas operations
    problems: list[dict[str, str]] = []  # the first PROBLEMS_SHOWN
    problem_count: int = 0
    error_count: int = 0
    presence: dict[str, str] = {}  # a hash of each client's token → the person's name
    focus: dict[str, str] = {}  # the same keys → the node that person has selected
    fields: dict[str, str] = {}  # the same keys → the field of that node they are in
    notice: str = ""
    conflict: str = ""

    _graph: dict[str, Any] = {}
    _saved_graph: dict[str, Any] = {}  # the draft as last loaded or saved here: the base
    _live_graph: dict[str, Any] | None = None
    # per client: the changes its own edits made, to undo (and redo) among others' edits
    _undo: dict[str, list[Change]] = {}
    _redo: dict[str, list[Change]] = {}
    _seq: int = 0  # the number of the last patch
    _issues: dict[str, str] = {}  # node id → its first error (the badge on the canvas)
    _node_issues: dict[str, list[dict[str, Any]]] = {}  # node id → its issues (the form's)
    _edits: int = 0  # structural changes so far: a check of an older draft is dropped
    _seen: dict[str, float] = {}  # the same keys → the last heartbeat (never sent out)
    # flow_merge.edit_key → who touched it last here: whose edits a choice drops, and who
    # changed a field under someone's form
    _authors: dict[str, str] = {}

    # ------------------------------------------------------------------ loading

    def _load(
        self, session: Session, flow: FlowDefinition, held: FlowDraftHold | None = None
    ) -> None:
        """The flow's saved draft; or, ``held``, the unsaved draft a room kept through a
        restart, with its base and authors, and the conflict it was waiting on."""
        self.flow_id, self.name = flow.id or 0, flow.name
        if held is None:
            self._graph = copy.deepcopy(flow.graph or flows.EMPTY_GRAPH)
            self._saved_graph = copy.deepcopy(self._graph)
            self.revision, self.dirty, self.conflict = flow.revision, False, ""
            self._authors = {}  # what is loaded is nobody's unsaved edit
        else:
            self._graph = copy.deepcopy(held.graph)
            self._saved_graph = copy.deepcopy(held.base_graph)
            self.revision, self.dirty = held.base_revision, True
            self.conflict = CONFLICT if held.base_revision != flow.revision else ""
            self._authors = dict(held.authors)
        self._undo, self._redo = {}, {}
        self._load_live(session, flow)
        self._refresh()

    def _load_live(self, session: Session, flow: FlowDefinition) -> None:
        """What runs now: the published version's number and graph (for the status chip)."""
        self.status, self.published = str(flow.status), flow.published_version_id is not None
        version = session.get(FlowVersion, flow.published_version_id) if self.published else None
        self.live_version = version.version if version else 0
        self.live_version_id = (version.id or 0) if version else 0
        self._live_graph = copy.deepcopy(version.graph) if version else None
        self._compare_live()

    def _compare_live(self) -> None:
        unpublished = self._live_graph is not None and self._raw_graph != self._live_graph
        if unpublished != self.unpublished:
            self.unpublished = unpublished

    async def _internal_patch_linked_state(self, token: str, full_delta: bool = False) -> Self:
        """Reflex's linking, without resending the page's router data in every frame.

        Reflex (reflex/istate/shared.py, ``_patch_state``) marks the root state's router
        fields dirty whenever it swaps the room into a client's tree, which is on every event
        of a linked page and on every fan-out to a co-editor: each frame then carried the
        request headers, page and url again (~1.7 KB) though none of them changed. It marks
        them only to refresh computed vars, which it does at once; afterwards the fields (and
        the root's computed vars read from them, the route's arguments) that were not dirty
        before are clean again, so only a real router change is sent.
        """
        root = self._get_root_state()
        before = set(root.dirty_vars)
        linked = await super()._internal_patch_linked_state(token, full_delta)
        root.dirty_vars.difference_update(
            name
            for name in root.dirty_vars - before
            if name in ROUTER_FIELDS or name in root.computed_vars
        )
        return linked

    async def _join(self, flow_id: int) -> FlowRoom | None:
        """Link this client to the flow's room, loading the draft when nobody edits it (the
        draft held through a restart, if any); the room (this object is the client's own,
        unlinked copy), or None for no such flow."""
        room = await self._link_to(room_token(flow_id))
        with session_scope() as session:
            flow = session.get(FlowDefinition, flow_id)
            if flow is None:
                return None
            held = await room._held(session, flow_id)
            stale = room.flow_id != flow_id or (
                not room.dirty and (held is not None or room.revision != flow.revision)
            )
            if stale:
                room._load(session, flow, held)
            else:  # name, status and live version may have changed elsewhere
                room.name = flow.name
                room._load_live(session, flow)
        await room._touch()
        return room

    async def _held(self, session: Session, flow_id: int) -> FlowDraftHold | None:
        """The flow's held draft, read as the joining person (nothing for the signed out)."""
        user = await self.get_state(AuthState)
        try:
            return draft_holds.fetch(session, user._current_user(session), flow_id)
        except auth.PermissionDenied:
            return None

    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def _raw_graph(self) -> Graph:
        """The draft to read, past Reflex's change-tracking proxy: comparing 1,000 nodes
        through it took 25-400 ms per edit (canvas_ops, graph_change), the raw dict ~2 ms."""
        return self.get_value("_graph")  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ bookkeeping

    def _refresh(self, before: Graph | None = None) -> None:
        """After a structural change: the change sent to every page as canvas operations from
        ``before`` (without it, a reset: each page takes a new snapshot), and a check of the
        draft started, whose findings follow as a patch of their own (see CHECK_PAUSE): the
        edit and the page opening never wait for validation."""
        self._publish([{"op": "reset"}] if before is None else canvas_ops(before, self._raw_graph))
        self._compare_live()
        self._edits += 1
        try:
            app = RegistrationContext.get().app
        except (LookupError, ReflexRuntimeError):
            app = None
        if app is None or app.event_namespace is None or not self._linked_to:
            self._apply_check(_validate(self._graph))  # no running app (tests, scripts)
            return
        task = asyncio.get_running_loop().create_task(
            _check_later(app, self._linked_to, self._edits)
        )
        _CHECKS.add(task)
        task.add_done_callback(_CHECKS.discard)

    def _apply_check(self, issues: list[Issue]) -> None:
        """What a check found: the error badges (sent as a patch when they change), the
        problems list and counts. Only what changed is assigned, since whatever is assigned
        is sent."""
        errors = first_errors(issues)
        ops = [
            {"op": "issue", "id": i, "error": errors.get(i, "")}
            for i in sorted(self._issues.keys() | errors.keys())
            if self._issues.get(i) != errors.get(i)
        ]
        by_node: dict[str, list[dict[str, Any]]] = {}
        for issue in issues:
            if issue.node_id:
                by_node.setdefault(issue.node_id, []).append(issue.model_dump())
        if ops or by_node != self._node_issues:  # "checked" alone: the forms refresh
            self._publish(ops or [{"op": "checked"}])
        self._issues, self._node_issues = errors, by_node
        problems = [
            {"severity": i.severity, "message": i.message, "node_id": i.node_id or ""}
            for i in issues
        ]
        if problems[:PROBLEMS_SHOWN] != self.problems:
            self.problems = problems[:PROBLEMS_SHOWN]
        if len(problems) != self.problem_count:
            self.problem_count = len(problems)
        if len(errors) != self.error_count:
            self.error_count = len(errors)

    def _issues_of(self, node_id: str) -> list[Issue]:
        """The last check's issues of one node (the property form shows them)."""
        return [Issue(**found) for found in self._node_issues.get(node_id, [])]

    def _publish(self, ops: list[dict[str, Any]]) -> None:
        self._seq += 1
        self.patch = {"seq": self._seq, "ops": ops}

    def _snapshot(self) -> dict[str, Any]:
        """The whole canvas as of the last patch, for one page (its own state var). Its key
        names the flow: a page hydrated with its last snapshot of another flow (the
        page's state outlives a visit) tells the two apart, and skips drawing that one."""
        view = canvas_view(self._graph, f"{self.flow_id}.{self._seq}", self._seq)
        return {**view, "issues": self._issues, "flow": self.flow_id}

    async def _user(self) -> AuthState | None:
        """The calling client's auth state, if it joined this room and its session edits."""
        user = await self.get_state(AuthState)
        assert isinstance(user, AuthState)
        if not self.flow_id or self._linked_to != room_token(self.flow_id):
            return None  # never joined through the editor page
        try:
            with session_scope() as session:
                user._current_user(session, Role.editor)
        except auth.PermissionDenied:
            return None  # a viewer: their page says so to them (never in the shared notice)
        return user

    async def _edit(self, change: Callable[[Graph], bool | None]) -> bool:
        """Apply one undoable change (returning False means "nothing changed")."""
        user = await self._user()
        if user is None:
            return False
        before = edit_base(self._raw_graph)
        if change(self._graph) is False:
            return False
        self._remember(user, graph_change(before, self._raw_graph))
        if not self.dirty:
            self.dirty = True
        if self.notice:
            self.notice = ""
        self._refresh(before)
        await self._touch()
        return True

    def _remember(self, user: AuthState, made: Change) -> None:
        """The calling client's edit: on its undo stack (a new edit ends what it could
        redo), and its person credited with what it touched."""
        token = self.router.session.client_token
        mine = self._undo.get(token, [])
        self._undo = {**self._undo, token: [*mine[-(UNDO_DEPTH - 1) :], made]}
        self._redo = {**self._redo, token: []}
        self._credit(user, touched(made))

    def _credit(self, user: AuthState, keys: list[str]) -> None:
        """Record ``user`` as who last touched these (``flow_merge.edit_key``s)."""
        if keys:
            self._authors = {**self._authors, **dict.fromkeys(keys, user._username or "someone")}

    def _author(self, key: str) -> str:
        """Who last touched this (a ``flow_merge.edit_key``) here; "" if not known."""
        return self._authors.get(key, "")

    async def _touch(self) -> None:
        """Mark this client present and forget clients gone silent. Heartbeats stay on the
        server: the shared list changes (and is sent) only when someone comes or goes."""
        user = await self.get_state(AuthState)
        now, me = time.time(), self._presence_key()
        self._seen = {
            **{key: at for key, at in self._seen.items() if now - at < PRESENCE_TIMEOUT},
            me: now,
        }
        present = {key: self.presence.get(key, "") for key in self._seen}
        present[me] = user._username or "someone"
        if present != self.presence:
            self.presence = present
            self._forget_focus_of_absent()

    def _forget_focus_of_absent(self) -> None:
        if self.focus.keys() - self.presence.keys():
            self.focus = {k: v for k, v in self.focus.items() if k in self.presence}
        if self.fields.keys() - self.presence.keys():
            self.fields = {k: v for k, v in self.fields.items() if k in self.presence}

    def _focus(self, node_id: str) -> None:
        """The node this page's person is on (selected), shown to everyone on the canvas;
        another node leaves the field they were in."""
        me = self._presence_key()
        if self.focus.get(me, "") != node_id and me in self.presence:
            self.focus = {**self.focus, me: node_id}
            if self.fields.get(me):
                self.fields = {**self.fields, me: ""}

    @rx.event
    async def focus_field(self, name: str) -> None:
        """The field of the selected node this page's person is in ("" when they left it),
        kept as its form names it and shown to everyone beside their name on the node.
        Viewers are in no field."""
        me = self._presence_key()
        node = self._node(self.focus.get(me, ""))
        label = field_name(node["type"], name) if name and node else ""
        if self.fields.get(me, "") == label or me not in self.presence:
            return
        if label and await self._user() is None:
            return
        self.fields = {**self.fields, me: label}

    def _presence_key(self) -> str:
        """Who is here, by a hash of their client token: the token itself is never shared."""
        return hashlib.sha256(self.router.session.client_token.encode()).hexdigest()[:16]

    def _node(self, node_id: str) -> dict[str, Any] | None:
        return next((n for n in self._graph.get("nodes", []) if n["id"] == node_id), None)

    # ------------------------------------------------------------------ canvas events

    @rx.event
    async def heartbeat(self) -> None:
        await self._touch()

    @rx.event
    def leave(self) -> None:
        """The page is going away (tab closed, navigated): gone at once, not at the timeout."""
        me = self._presence_key()
        self._seen = {key: at for key, at in self._seen.items() if key != me}
        if me in self.presence:
            self.presence = {key: name for key, name in self.presence.items() if key != me}
            self._forget_focus_of_absent()

    async def _add_node(self, drop: dict[str, Any]) -> str:
        """A palette item dropped at ``x, y`` (or clicked: placed after the last node); the
        new node's id, or "" when the caller may not edit."""
        type_id = str(drop.get("type", ""))
        nodes = self._graph.setdefault("nodes", [])
        if "x" in drop:
            position = {"x": float(drop["x"]), "y": float(drop["y"])}
        elif nodes:
            last = nodes[-1].get("position") or {}
            position = {"x": float(last.get("x", 0)) + 280, "y": float(last.get("y", 0))}
        else:
            position = {"x": 0.0, "y": 0.0}
        node_id = new_node_id(self._graph, type_id)

        def change(graph: Graph) -> None:
            graph.setdefault("nodes", []).append(
                {"id": node_id, "type": type_id, "params": {}, "position": position}
            )

        return node_id if await self._edit(change) else ""

    @rx.event
    async def move_nodes(self, moved: list[dict[str, Any]]) -> None:
        """Positions only (a drag, sent when it ends): one undo step of its person, no
        validation, no copy of the graph; one move operation per node."""
        user = await self._user()
        if user is None:
            return
        where = {str(m["id"]): m for m in moved if "id" in m}
        ops, positions = [], {}
        for node in self._graph.get("nodes", []):
            if node["id"] in where:
                x, y = float(where[node["id"]]["x"]), float(where[node["id"]]["y"])
                positions[node["id"]] = (node.get("position"), {"x": x, "y": y})
                node["position"] = {"x": x, "y": y}
                ops.append({"op": "move", "id": node["id"], "x": x, "y": y})
        if ops:
            self._publish(ops)
            made = moves_change(positions)
            if not is_empty(made):
                self._remember(user, made)
            if not self.dirty:
                self.dirty = True
            self._compare_live()

    @rx.event
    async def connect(self, link: dict[str, Any]) -> None:
        source, target = str(link.get("source", "")), str(link.get("target", ""))
        handle = link.get("sourceHandle") or None

        def change(graph: Graph) -> bool:
            edges = graph.setdefault("edges", [])
            node = self._node(source)
            if node is None or self._node(target) is None or source == target:
                return False
            chosen = handle or (node_handles(node) or ["next"])[0]
            edge = {"source": source, "sourceHandle": chosen, "target": target}
            edge["id"] = edge_id(edge)
            if any(edge_id(e) == edge["id"] for e in edges):
                return False
            edges.append(edge)
            return True

        await self._edit(change)

    @rx.event
    async def delete_items(self, items: dict[str, Any]) -> None:
        gone, cut = set(items.get("nodes") or []), set(items.get("edges") or [])

        def change(graph: Graph) -> bool:
            nodes = [n for n in graph.get("nodes", []) if n["id"] not in gone]
            edges = [
                e
                for e in graph.get("edges", [])
                if edge_id(e) not in cut and e["source"] not in gone and e["target"] not in gone
            ]
            if len(nodes) == len(graph.get("nodes", [])) and len(edges) == len(
                graph.get("edges", [])
            ):
                return False
            graph["nodes"], graph["edges"] = nodes, edges
            return True

        await self._edit(change)

    async def _set_param(self, node_id: str, name: str, text: str, shown: str | None = None) -> str:
        """Write one param field from its text. With ``shown`` (what the writer's form showed)
        nothing is written over a value changed since: the one who changed it is returned
        (else "")."""
        user = await self._user()
        node = self._node(node_id)
        if user is None or node is None:
            return ""
        if shown is not None and field_text(node["type"], node.get("params") or {}, name) != shown:
            return self._authors.get(flow_merge.edit_key("changed", node_id, name), "someone else")

        def change(graph: Graph) -> bool:
            params = dict(node.get("params") or {})
            keep, value = parse_field(node["type"], name, text)
            if keep:
                params[name] = value
            else:
                params.pop(name, None)
            if params == (node.get("params") or {}):
                return False
            node["params"] = params
            return True

        await self._edit(change)
        return ""

    @rx.event
    async def paste(self, nodes: list[dict[str, Any]]) -> None:
        def change(graph: Graph) -> bool:
            for node in nodes:
                position = node.get("position") or {}
                graph.setdefault("nodes", []).append(
                    {
                        "id": new_node_id(graph, node["type"]),
                        "type": node["type"],
                        "params": copy.deepcopy(node.get("params") or {}),
                        "position": {
                            "x": float(position.get("x", 0)) + PASTE_OFFSET,
                            "y": float(position.get("y", 0)) + PASTE_OFFSET,
                        },
                    }
                )
            return bool(nodes)

        await self._edit(change)

    @rx.event
    async def layout(self) -> None:
        def change(graph: Graph) -> None:
            positions = auto_layout(graph)
            for node in graph.get("nodes", []):
                node["position"] = positions[node["id"]]

        await self._edit(change)

    async def _history(self, back: bool) -> None:
        """Undo (or redo) the calling client's last edit, over whatever others did since."""
        user = await self._user()
        if user is None:
            return
        token = self.router.session.client_token
        source, target = (self._undo, self._redo) if back else (self._redo, self._undo)
        mine = source.get(token, [])
        if not mine:
            return
        change = mine[-1]
        source[token], target[token] = mine[:-1], [*target.get(token, []), change]
        self._undo, self._redo = dict(self._undo), dict(self._redo)
        before = edit_base(self._raw_graph)
        if apply_change(self._graph, change, undo=back):
            self.dirty = True
            self._credit(user, touched(graph_change(before, self._raw_graph)))
            self._refresh(before)

    def _history_of(self, token: str) -> tuple[bool, bool]:
        """Whether this client has an edit to undo, and one to redo."""
        return bool(self._undo.get(token)), bool(self._redo.get(token))

    # ------------------------------------------------------------------ saving

    async def _save_now(self, announce: bool = True, over: int | None = None) -> bool:
        """Save the room's draft as the signed-in user; False (with a message) if refused.
        An autosave (``announce`` False) says nothing when it succeeds; ``over`` is the
        revision of a save elsewhere to write over (else the room's own)."""
        user = await self._user()
        if user is None:
            return False
        saving = copy.deepcopy(self._graph)
        try:
            with session_scope() as session:
                me = user._current_user(session)
                flow = flows.save_draft(
                    session,
                    me,
                    self.flow_id,
                    saving,
                    expected_revision=self.revision if over is None else over,
                )
                draft_holds.release(session, me, self.flow_id)  # saved: nothing to hold
                self.revision = flow.revision
        except flows.StaleRevision:
            self.conflict = CONFLICT
            await self._hold(user)
            return False
        except (flows.FlowError, auth.AuthError) as exc:
            await self._tell_caller(str(exc))
            return False
        self._saved_graph = saving
        self.dirty, self.conflict = False, ""
        if announce:
            await self._tell_caller("")
            self.notice = f"Saved by {user._username} (revision {self.revision})."
        return True

    async def _tell_caller(self, text: str) -> None:
        """Say ``text`` (a refusal) to the calling client only; "" takes its notice back."""
        mine = await self.get_state(PersonalNotice)
        if mine.text != text:
            mine.text = text

    @rx.event
    async def save(self) -> None:
        await self._save_now()

    @rx.event
    async def save_if_dirty(self) -> None:
        """The editor pages' autosave, after a pause in editing: the first one saves; while
        a save elsewhere is unresolved it holds the draft instead."""
        if not self.dirty:
            return
        if not self.conflict:
            await self._save_now(announce=False)
        elif (user := await self._user()) is not None:
            await self._hold(user)

    async def _hold(self, user: AuthState) -> None:
        """Keep the unsaved draft, its base and who touched what in the database while the
        conflict is open: in memory only, a server restart would lose it."""
        try:
            with session_scope() as session:
                draft_holds.hold(
                    session,
                    user._current_user(session),
                    self.flow_id,
                    self._raw_graph,
                    self.get_value("_saved_graph"),
                    self.revision,
                    self.get_value("_authors"),
                )
        except (flows.FlowError, auth.AuthError) as exc:
            await self._tell_caller(str(exc))

    async def _release(self, user: AuthState) -> bool:
        """The conflict is over without a save here: drop the held draft."""
        try:
            with session_scope() as session:
                draft_holds.release(session, user._current_user(session), self.flow_id)
        except auth.AuthError as exc:
            await self._tell_caller(str(exc))
            return False
        return True

    # ------------------------------------------------------------------ a save elsewhere
    # Called by the editor's save-conflict state, which names what each choice drops and
    # asks the person first; each refuses a caller who may not edit.

    def _pending(self) -> list[flow_merge.Edit]:
        """The room's edits not saved yet (what taking the saved version drops)."""
        return flow_merge.edits(self._saved_graph, self._graph)

    def _saved_elsewhere(self) -> SavedElsewhere:
        """The draft as saved now, its revision, and who saved it (named only when theirs
        is the one save since the room's base: several savers' changes are not told apart)."""
        with session_scope() as session:
            flow = session.get(FlowDefinition, self.flow_id)
            if flow is None:
                raise flows.FlowNotFound("This flow no longer exists.")
            one_save = flow.revision == self.revision + 1
            return SavedElsewhere(
                copy.deepcopy(flow.graph or flows.EMPTY_GRAPH),
                flow.revision,
                flows.draft_saver(session, flow) if one_save else "",
            )

    def _their_edits(self) -> tuple[list[flow_merge.Edit], SavedElsewhere]:
        """What the save elsewhere changed since the room's base (what keeping ours drops),
        with that save."""
        theirs = self._saved_elsewhere()
        return flow_merge.edits(self._saved_graph, theirs.graph), theirs

    async def _take_saved(self) -> bool:
        """Drop the room's unsaved edits for the saved draft."""
        user = await self._user()
        if user is None or not await self._release(user):
            return False
        with session_scope() as session:
            flow = session.get(FlowDefinition, self.flow_id)
            if flow is None:
                return False
            self._load(session, flow)
        return True

    async def _overwrite(self, revision: int) -> bool:
        """Save the room's draft over the save elsewhere, as it was at ``revision`` (what
        the person was shown); refused again if it changed since."""
        if await self._user() is None:
            return False
        return await self._save_now(announce=False, over=revision)

    async def _merge_saved(
        self, choices: dict[str, flow_merge.Side]
    ) -> tuple[flow_merge.Merge, dict[str, Any], int] | None:
        """The room's unsaved edits merged onto the draft saved now (not applied yet)."""
        if await self._user() is None:
            return None
        theirs = self._saved_elsewhere()
        merged = flow_merge.merge(self._saved_graph, self._graph, theirs.graph, choices)
        return merged, theirs.graph, theirs.revision

    async def _adopt_merge(
        self, graph: dict[str, Any], theirs: dict[str, Any], revision: int
    ) -> bool:
        """Make a merge the room's draft, based on the save elsewhere, and save it."""
        user = await self._user()
        if user is None:
            return False
        before, self._graph, self._saved_graph = self._graph, graph, theirs
        self.revision, self.conflict = revision, ""
        self.dirty = graph != theirs
        self._refresh(before)
        if self.dirty:
            return await self._save_now(announce=False)
        return await self._release(user)

    async def _flow_action(self, action: Callable[[Any, Any], Any], done: str) -> bool:
        user = await self._user()
        if user is None or (self.dirty and not await self._save_now()):
            return False
        try:
            with session_scope() as session:
                action(session, user._current_user(session))
                flow = session.get(FlowDefinition, self.flow_id)
                assert flow is not None
                self.revision = flow.revision
                self._load_live(session, flow)
        except (flows.FlowError, auth.AuthError) as exc:
            await self._tell_caller(str(exc))
            return False
        await self._tell_caller("")
        self.notice = done
        return True

    @rx.event
    async def publish(self, activate: bool) -> None:
        """Publish the draft; ``activate`` is the publisher's answer to "run it now?"."""
        if await self._flow_action(
            lambda s, me: flows.publish(s, me, self.flow_id, activate=activate), ""
        ):
            running = "it runs now" if self.status == FlowStatus.active else "it is not running"
            self.notice = f"Published version {self.live_version}: {running}."

    @rx.event
    async def set_active(self, active: bool) -> None:
        status = FlowStatus.active if active else FlowStatus.paused
        await self._flow_action(
            lambda s, me: flows.set_status(s, me, self.flow_id, status),
            "Activated." if active else "Paused.",
        )

    @rx.event
    async def restore(self, version_id: int) -> None:
        if await self._flow_action(
            lambda s, me: flows.restore_version(s, me, self.flow_id, version_id, self.revision),
            "Restored that version into the draft; publish to make it live.",
        ):
            with session_scope() as session:
                flow = session.get(FlowDefinition, self.flow_id)
                assert flow is not None
                notice = self.notice
                self._load(session, flow)
                self.notice = notice

    @rx.var
    def status_chip(self) -> str:
        return flows.status_label(self.status, self.live_version or None, self.unpublished)

    @rx.var
    def people(self) -> list[str]:
        return sorted(set(self.presence.values()))

    @rx.var
    def people_on_nodes(self) -> dict[str, list[str]]:
        """Node id → who is on it (has it selected), each with the field they are in:
        "bob › Text"."""
        found: dict[str, set[str]] = {}
        for key, node_id in self.focus.items():
            if node_id and key in self.presence:
                field = self.fields.get(key, "")
                who = f"{self.presence[key]} › {field}" if field else self.presence[key]
                found.setdefault(node_id, set()).add(who)
        return {node_id: sorted(names) for node_id, names in found.items()}


_CHECKS: set[asyncio.Task[None]] = set()  # checks under way (asyncio keeps weak references)


def edit_base(graph: Graph) -> Graph:
    """The draft as it is now, to compare an edit against or to read in another thread,
    without a deep copy (~13 ms at 1,000 nodes; this ~0.2 ms). It copies the lists and each
    node and wire, and shares what they hold: every edit here replaces a node's ``params``
    or ``position`` (or a list) rather than changing it in place, so what is shared never
    changes under the copy."""
    return {
        **graph,
        "nodes": [dict(node) for node in graph.get("nodes", [])],
        "edges": [dict(edge) for edge in graph.get("edges", [])],
    }


def _validate(graph: Graph) -> list[Issue]:
    with session_scope() as session:
        return flows.validate(session, graph).issues


async def _check_later(app: Any, token: str, edits: int) -> None:
    """Validate the room's draft as of ``edits`` changes, after a pause and in a thread,
    and apply what it found unless the draft changed again meanwhile (that change's own
    check applies).

    The room is read and changed under its own token, where no page is connected, so
    nothing is emitted there (``app.modify_state`` would: a warning per check, or a
    Redis "lost and found" message when scaled); Reflex's shared-state fan-out on leaving
    ``modify_state_with_links`` sends what the check changed to every linked page.
    """
    await asyncio.sleep(CHECK_PAUSE)
    room_key = BaseStateToken(ident=token, cls=FlowRoom)
    room = await (await app.state_manager.get_state(room_key)).get_state(FlowRoom)
    if room._edits != edits:
        return
    issues = await asyncio.to_thread(_validate, edit_base(room._raw_graph))
    async with app.state_manager.modify_state_with_links(room_key) as root:
        room = await root.get_state(FlowRoom)
        if room._edits == edits:
            room._apply_check(issues)
        root._clean()  # what Reflex fans out is what the last clean found changed

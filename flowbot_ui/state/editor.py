"""The editor's per-person state: selection, property form, palette, clipboard, test runs.

What everyone shares (the draft itself) lives in :class:`FlowRoom`; this state only
reads it, and changes it by chaining the room's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import reflex as rx
from pydantic import BaseModel

from engine import events
from engine.api.runs import trigger_event
from engine.db import session_scope
from engine.models import Role
from engine.nodes import REGISTRY
from engine.nodes.triggers import run_example
from engine.services import auth, executions, flows, node_pickers
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.flow_graph import field_text, filter_palette, palette_groups, suggestions
from flowbot_ui.state.node_form import UNSET, FieldSpec, form_fields, toggled
from flowbot_ui.state.room import FlowRoom
from flowbot_ui.state.run_payload import RunField, apply_fields, run_fields
from flowbot_ui.state.steps import StepRow, pretty, step_rows

RUN_WATCH_SECONDS = 120.0
POLL_SECONDS = 0.3
_PALETTE = palette_groups()


class PaletteItem(BaseModel):
    id: str
    label: str
    description: str


class PaletteGroup(BaseModel):
    key: str
    title: str
    category: str
    members: list[PaletteItem]


class VersionRow(BaseModel):
    id: int
    version: int
    created_by: str
    created_at: str
    note: str


class EditorState(AuthState):
    missing: bool = False
    # this page's snapshot of the canvas: taken on load and when a patch went missing;
    # every other change arrives as the room's patches
    canvas: dict[str, Any] = {"key": 0, "seq": 0, "nodes": [], "edges": []}
    selected_id: str = ""
    selected_label: str = ""
    selected_description: str = ""
    fields: list[FieldSpec] = []
    # a field this person edited while someone else changed it: theirs is shown, and
    # what this person typed is kept here until they choose
    field_conflict: str = ""
    field_conflict_by: str = ""
    field_conflict_text: str = ""
    can_undo: bool = False  # this person's own edits, not the room's
    can_redo: bool = False
    node_problems: list[str] = []
    hints: list[str] = []
    palette_search: str = ""
    versions: list[VersionRow] = []
    message: str = ""
    publish_open: bool = False
    # what the flow held when this page loaded: "unsaved" edits kept in the room, or an
    # "unpublished" saved draft; the editor says so until it is resolved
    found_on_load: str = ""
    # the test run being watched
    run_open: bool = False
    payload_text: str = ""  # the raw JSON, when the admin edits it as such
    run_raw: bool = False
    run_fields: list[RunField] = []
    _run_example: dict[str, Any] = {}
    _run_paths: list[list[str]] = []
    run_id: int = 0
    run_status: str = ""
    run_error: str = ""
    statuses: dict[str, str] = {}
    run_steps: list[StepRow] = []

    _clipboard: list[dict[str, Any]] = []

    @rx.var
    def palette(self) -> list[PaletteGroup]:
        return [
            PaletteGroup(**{**g, "members": g["items"]})
            for g in filter_palette(_PALETTE, self.palette_search)
        ]

    @rx.var
    def selected_step(self) -> StepRow | None:
        """The last step of the selected node in the watched run: its input and output."""
        found = [step for step in self.run_steps if step.node_id == self.selected_id]
        return found[-1] if found else None

    @property
    def flow_ref(self) -> int:
        try:
            return int(self.router.page.params.get("flow_ref", 0))
        except (TypeError, ValueError):
            return 0

    # ------------------------------------------------------------------ loading

    @rx.event
    async def load(self) -> None:
        mine = await self.get_state(FlowRoom)
        joined = await mine._join(self.flow_ref)
        self.missing = joined is None
        # the joined room's draft: this client's own copy was left behind by the linking
        # (its snapshot was empty, so every page found a patch missing and asked again)
        room = joined or mine
        self.canvas = room._snapshot()
        self.publish_open = False
        self.found_on_load = "unsaved" if room.dirty else "unpublished" if room.unpublished else ""
        self.selected_id, self.fields, self.message = "", [], ""
        self.run_open, self.run_id, self.run_status, self.statuses = False, 0, "", {}
        self.run_steps, self.payload_text = [], ""
        self.run_raw, self.run_fields, self._run_example, self._run_paths = False, [], {}, []
        self._load_versions()

    @rx.event
    def settle_unsaved(self) -> None:
        """The edits found on load were saved or discarded (here or by a co-editor): the
        notice is over, and later edits are this page's own again (autosaved)."""
        if self.found_on_load == "unsaved":
            self.found_on_load = ""

    def _load_versions(self) -> None:
        with session_scope() as session:
            self.versions = [
                VersionRow(
                    id=v.id or 0,
                    version=v.version,
                    created_by=v.created_by,
                    created_at=v.created_at.strftime("%Y-%m-%d %H:%M"),
                    note=v.note,
                )
                for v in flows.list_versions(session, self.flow_ref)
            ]

    @rx.event
    async def resync(self) -> None:
        """The canvas found a patch missing (or a reset): a new snapshot, for this page."""
        self.canvas = (await self.get_state(FlowRoom))._snapshot()

    @rx.event
    def load_versions(self) -> None:
        self._load_versions()

    @rx.event
    def set_publish_open(self, value: bool) -> None:
        self.publish_open = value

    # ------------------------------------------------------------------ selection and form

    async def _graph(self) -> dict[str, Any]:
        return (await self.get_state(FlowRoom))._raw_graph

    @rx.event
    async def add_node(self, drop: dict[str, Any]):  # type: ignore[no-untyped-def]
        """Add a palette item to the room's draft, then select it here (only for this
        person): the selection is an event of its own, so the node's form does not ride
        the add's frame."""
        room = await self.get_state(FlowRoom)
        node_id = await room._add_node(drop)
        return EditorState.select(node_id) if node_id else None

    @rx.event
    async def select(self, node_id: str):  # type: ignore[no-untyped-def]
        """The node's form first, in a frame of its own; then what may wait a moment (the
        values to insert, and this person shown on the node to everyone)."""
        self.selected_id = node_id
        self._forget_conflict()
        room = await self.get_state(FlowRoom)
        if self._refresh_form(room):
            yield
            self._assign(hints=suggestions(room._raw_graph, self.selected_id))
        room._focus(self.selected_id)

    @rx.event
    async def refresh_panel(self) -> None:
        """Rebuild the property form from the room's draft (after any change to it)."""
        room = await self.get_state(FlowRoom)
        if self._refresh_form(room):
            self._assign(hints=suggestions(room._raw_graph, self.selected_id))

    @rx.event
    async def refresh_history(self) -> None:
        """Undo and Redo as this person's own history stands (after a drag, which changes
        no form)."""
        self._refresh_history(await self.get_state(FlowRoom))

    def _refresh_history(self, room: FlowRoom) -> None:
        can_undo, can_redo = room._history_of(self.router.session.client_token)
        self._assign(can_undo=can_undo, can_redo=can_redo)

    def _refresh_form(self, room: FlowRoom) -> bool:
        """The selected node's form as the draft holds it, without the values to insert
        (their search walks the whole flow); False when no node is selected any more."""
        self._refresh_history(room)
        node = _node(room, self.selected_id)
        if node is None:
            self._assign(selected_id="", fields=[], node_problems=[], hints=[])
            return False
        node_type = REGISTRY.get(node["type"]) if node["type"] in REGISTRY else None
        issues = room._issues_of(node["id"])  # the room's last check, never a new one
        with session_scope() as session:
            fields = form_fields(session, self._current_user(session), node, issues)
        self._assign(
            selected_label=node_type.label if node_type else node["type"],
            selected_description=node_type.description if node_type else "",
            fields=fields,
            node_problems=[i.message for i in issues],
        )
        return True

    def _assign(self, **values: Any) -> None:
        """Set only what changed: whatever is assigned is sent to the page again."""
        for name, value in values.items():
            if getattr(self, name) != value:
                setattr(self, name, value)

    async def _write(self, name: str, text: str, shown: str | None = None) -> str:
        """Write a field of the selected node; who changed it underneath, if anyone.

        The field's new text rides the edit's patch, so every form of the node (this one
        too) shows it as the patch arrives instead of asking the server again (see
        flow_canvas.jsx; the forms are still asked for afterwards). This form
        is rebuilt (without the values to insert: a node's own params never change them,
        and their search would hold up the patch's way out), so a later refresh of it
        finds nothing new: one that did would remount the field, under the typing of a
        person editing it again."""
        room = await self.get_state(FlowRoom)
        seq = room.patch["seq"]
        other = await room._set_param(self.selected_id, name, text, shown)
        node = _node(room, self.selected_id)
        if room.patch["seq"] != seq and node is not None:
            text_now = field_text(node["type"], node.get("params") or {}, name)
            field = {"op": "field", "id": node["id"], "name": name, "text": text_now}
            room.patch = {**room.patch, "ops": [*room.patch["ops"], field]}
        self._refresh_form(room)
        return other

    @rx.event
    async def commit_field(self, name: str, shown: str, text: str) -> None:
        """A field left: written only when this person changed what they were shown, and
        never over a value someone else set meanwhile (that is offered as a choice)."""
        if text == shown:
            await self.refresh_panel()  # a look, not an edit: show what the draft holds now
            return
        other = await self._write(name, text, shown)
        if other:
            self.field_conflict, self.field_conflict_by = name, other
            self.field_conflict_text = text

    @rx.event
    async def keep_mine(self) -> None:
        """Resolve a field conflict with what this person typed."""
        name, text = self.field_conflict, self.field_conflict_text
        self._forget_conflict()
        if name:
            await self._write(name, text)

    @rx.event
    async def take_theirs(self) -> None:
        self._forget_conflict()
        await self.refresh_panel()

    def _forget_conflict(self) -> None:
        self._assign(field_conflict="", field_conflict_by="", field_conflict_text="")

    @rx.event
    async def set_flag(self, name: str, on: bool) -> None:
        await self._write(name, "true" if on else "false")

    @rx.event
    async def pick(self, name: str, value: str) -> None:
        """A picker's choice (its "nothing picked" item clears the param)."""
        await self._write(name, "" if value == UNSET else value)

    @rx.event
    async def toggle_pick(self, name: str, value: str, on: bool) -> None:
        """Tick or untick one choice of a picker of several (communities to post to), in
        the list as the draft holds it (this form may show a co-editor's newer one than it
        was sent with)."""
        node = _node(await self.get_state(FlowRoom), self.selected_id)
        if node is not None:
            text = field_text(node["type"], node.get("params") or {}, name)
            await self._write(name, toggled(text, value, on))

    @rx.event
    def set_palette_search(self, text: str) -> None:
        self.palette_search = text

    @rx.event
    async def shortcut(self, name: str):  # type: ignore[no-untyped-def]
        """Keyboard shortcuts from the canvas: copy, paste, undo, redo."""
        if name == "copy":
            graph = await self._graph()
            self._clipboard = [n for n in graph.get("nodes", []) if n["id"] == self.selected_id]
            self.message = "Copied." if self._clipboard else ""
            return None
        if name == "paste" and self._clipboard:
            return FlowRoom.paste(self._clipboard)
        if name in ("undo", "redo"):
            await self._history(back=name == "undo")
        return None

    async def _history(self, back: bool) -> None:
        room = await self.get_state(FlowRoom)
        await room._history(back)
        await self.refresh_panel()

    @rx.event
    async def undo(self) -> None:
        """Undo this person's last edit (others' edits since stay)."""
        await self._history(back=True)

    @rx.event
    async def redo(self) -> None:
        await self._history(back=False)

    # ------------------------------------------------------------------ test run

    @rx.event
    async def open_run(self) -> None:
        """The test-run dialog: a form built from the trigger's example event (a Manual
        trigger's sample payload as its data)."""
        if not self._run_example:
            self._fill_run_form(dict(run_example(await self._graph()) or {}))
        self.run_error = ""
        self.run_open = True

    def _fill_run_form(self, example: dict[str, Any]) -> None:
        kind = example.get("connector")
        with session_scope() as session:
            user = self._current_user(session)
            found = (
                node_pickers.choices(session, user, "connection", node_pickers.Scope(kind=kind))
                if isinstance(kind, str)
                else []
            )
        self._run_example = example
        self.run_fields, self._run_paths = run_fields(example, found)

    def _form_payload(self) -> dict[str, Any]:
        values = [(path, f.value) for path, f in zip(self._run_paths, self.run_fields, strict=True)]
        return apply_fields(self._run_example, values)

    @rx.event
    def set_run_field(self, index: int, value: str) -> None:
        if not 0 <= index < len(self.run_fields):
            return
        field = self.run_fields[index]
        choices = [c.model_copy(update={"selected": c.value == value}) for c in field.choices]
        fields = list(self.run_fields)
        fields[index] = field.model_copy(update={"value": value, "choices": choices})
        self.run_fields = fields

    @rx.event
    def set_run_raw(self, raw: bool) -> None:
        """Switch between the form and the raw JSON; JSON that does not parse stays raw."""
        self.run_error = ""
        if raw:
            self.payload_text = json.dumps(self._form_payload(), indent=2, default=str)
            self.run_raw = True
            return
        try:
            payload = _json_object(self.payload_text)
        except ValueError as exc:
            self.run_error = f"The sample payload is not valid JSON: {exc}"
            return
        self._fill_run_form(payload)
        self.run_raw = False

    @rx.event
    def set_run_open(self, value: bool) -> None:
        self.run_open = value

    @rx.event
    def set_payload_text(self, text: str) -> None:
        self.payload_text = text

    @rx.event
    async def start_run(self):  # type: ignore[no-untyped-def]
        """Run the draft as the REST API does (same trigger mapping, same launch)."""
        room = await self.get_state(FlowRoom)
        if room.dirty and not await room._save_now():
            self.run_error = room.conflict or room.notice
            return None
        try:
            payload = _json_object(self.payload_text) if self.run_raw else self._form_payload()
        except ValueError as exc:
            self.run_error = f"The sample payload is not valid JSON: {exc}"
            return None
        try:
            with session_scope() as session:
                event = trigger_event(payload, self._current_user(session, Role.editor))
            run_id = await asyncio.to_thread(executions.launch, self.flow_ref, event, draft=True)
        except (executions.NotRunnable, auth.AuthError) as exc:
            self.run_error = str(exc)
            return None
        self.run_id, self.run_status, self.run_error = run_id, "queued", ""
        self.statuses, self.run_steps, self.run_open = {}, [], False
        return EditorState.watch_run

    @rx.event(background=True)
    async def watch_run(self) -> None:
        """Light nodes up as steps arrive: the bus says when, the steps table says what."""
        async with self:
            run_id = self.run_id
        subscription = events.subscribe(f"execution.{run_id}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RUN_WATCH_SECONDS
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscription.started(), timeout=2)
            while True:
                execution = await asyncio.to_thread(executions.load, run_id)
                steps = await asyncio.to_thread(executions.load_steps, run_id)
                async with self:
                    if self.run_id != run_id or self._resolve() is None:
                        return  # another run is watched now, or the session ended
                    self.run_steps = step_rows(steps)
                    self.statuses = {s.node_id: str(s.status) for s in steps}
                    if execution is not None:
                        self.run_status = str(execution.status)
                        self.run_error = execution.error or ""
                if execution is None or execution.status in executions.TERMINAL:
                    return
                if loop.time() > deadline:
                    return
                with contextlib.suppress(StopAsyncIteration):
                    await events.next_within(subscription, POLL_SECONDS)
        finally:
            await subscription.close()

    @rx.event
    def clear_run(self) -> None:
        self.run_id, self.run_status, self.run_error, self.statuses, self.run_steps = (
            0, "", "", {}, []
        )  # fmt: skip


def _node(room: FlowRoom, node_id: str) -> dict[str, Any] | None:
    """A node of the room's draft, read past Reflex's proxy (through it, walking 1,000
    nodes took ~70 ms of a form refresh)."""
    return next((n for n in room._raw_graph.get("nodes", []) if n["id"] == node_id), None)


def _json_object(text: str) -> dict[str, Any]:
    payload = json.loads(text or "{}")
    if not isinstance(payload, dict):
        raise ValueError("the payload must be a JSON object")
    return payload


__all__ = ["EditorState", "FieldSpec", "pretty"]

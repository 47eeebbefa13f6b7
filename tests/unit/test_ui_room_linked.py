"""The room as two people share it, through Reflex's shared-state linking and fan-out run for
real: the app's event processor and a memory state manager, two clients linked to the room
as the editor page links them, their sockets registered with the token manager. What each
socket is sent is recorded at the namespace's emit, the transport's edge. Each person's
edits run as that client's event (its own token, its own signed-in session)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from reflex.istate import shared
from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.token import BaseStateToken
from reflex.state import State
from reflex_base import constants
from reflex_base.constants.state import FIELD_MARKER

import flowbot_ui.flowbot_ui as app_module
from engine.db import session_scope
from engine.services import draft_holds, flows
from engine.services.sessions import COOKIE_NAME
from flowbot_ui.state import room as room_module
from flowbot_ui.state.editor import EditorState
from flowbot_ui.state.flow_graph import canvas_ops
from flowbot_ui.state.graph_changes import graph_change
from flowbot_ui.state.room import FlowRoom
from flowbot_ui.state.room_notice import PersonalNotice
from flowbot_ui.state.save_conflict import SaveConflictState
from tests.ui_harness import People, user

GRAPH = {
    "nodes": [
        {"id": "manual1", "type": "manual", "params": {}, "position": {"x": 0, "y": 0}},
        {"id": "log1", "type": "log", "params": {"message": "hi"}, "position": {"x": 300, "y": 0}},
    ],
    "edges": [{"source": "manual1", "sourceHandle": "next", "target": "log1"}],
}


class Sockets:
    """What the app emitted to each connected client token (by the sid it registered)."""

    def __init__(self) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = {}
        self.sid_of: dict[str, str] = {}

    async def emit(self, event: str, data: Any, to: str | None = None, **_: Any) -> None:
        token = next(t for t, sid in self.sid_of.items() if sid == to)
        self.sent.setdefault(token, []).append(data.delta)

    def room_vars(self, token: str) -> list[dict[str, Any]]:
        """The FlowRoom vars of each frame sent to ``token``, by plain name."""
        return [
            {
                name.removesuffix(FIELD_MARKER): value
                for name, value in delta.get(FlowRoom.get_full_name(), {}).items()
            }
            for delta in self.sent.get(token, [])
        ]

    def patches(self, token: str) -> list[int]:
        """The number of each canvas patch sent to ``token``, in order."""
        return [frame["patch"]["seq"] for frame in self.room_vars(token) if "patch" in frame]


@pytest.fixture
async def app(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """The app as its server runs it (the event processor's lifespan), on memory state."""
    app = app_module.app
    monkeypatch.setattr(app, "_state_manager", StateManagerMemory())
    monkeypatch.setattr(app, "_event_processor", None)
    async with app._setup_event_processor():
        yield app


@pytest.fixture
def sockets(app: Any, monkeypatch: pytest.MonkeyPatch) -> Sockets:
    found = Sockets()
    monkeypatch.setattr(app.event_namespace, "emit", found.emit)
    return found


async def _join(app: Any, sockets: Sockets, token: str, cookie: str, flow_id: int) -> None:
    """A page on the flow's editor, connected, its FlowRoom linked to the room."""
    await app.event_namespace._token_manager.link_token_to_sid(token, f"sid-{token}")
    sockets.sid_of[token] = f"sid-{token}"
    async with app.modify_state(BaseStateToken(ident=token, cls=FlowRoom)) as root:
        assert isinstance(root, State)
        root.router_data = root._update_router_vars(
            {
                constants.RouteVar.HEADERS: {"cookie": f"{COOKIE_NAME}={cookie}"},
                constants.RouteVar.PATH: f"/flows/{flow_id}",
                constants.RouteVar.ORIGIN: f"/flows/{flow_id}",
                constants.RouteVar.QUERY: {"flow_ref": str(flow_id)},
                constants.RouteVar.CLIENT_TOKEN: token,
                constants.RouteVar.SESSION_ID: f"sid-{token}",
                constants.RouteVar.CLIENT_IP: "127.0.0.1",
            },
            {},
        )
        mine = await root.get_state(FlowRoom)
        assert await mine._join(flow_id) is not None


@contextlib.asynccontextmanager
async def _as(app: Any, token: str) -> AsyncIterator[FlowRoom]:
    """The room, during one event of the client ``token`` (its fan-out follows on exit)."""
    async with app.modify_state(BaseStateToken(ident=token, cls=FlowRoom)) as root:
        yield await root.get_state(FlowRoom)


async def _settled() -> None:
    """Wait for the checks under way and the fan-outs they (and edits) started."""
    while room_module._CHECKS or shared.UPDATE_OTHER_CLIENT_TASKS:
        await asyncio.gather(*room_module._CHECKS, *shared.UPDATE_OTHER_CLIENT_TASKS)


@pytest.fixture
async def flow_id(people: People, app: Any, sockets: Sockets) -> int:
    """A flow that Ada (tab-a, admin) and Bob (tab-b, editor) both have open."""
    with session_scope() as session:
        found = flows.create_flow(session, user(people.admin_id), "Shared", graph=GRAPH).id
    assert found
    await _join(app, sockets, "tab-a", people.cookies["admin"], found)
    await _join(app, sockets, "tab-b", people.cookies["editor"], found)
    await _settled()
    sockets.sent.clear()
    return found


@contextlib.asynccontextmanager
async def _restarted(app: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """A server started anew on the same database: a new state manager and processor."""
    monkeypatch.setattr(app, "_state_manager", StateManagerMemory())
    monkeypatch.setattr(app, "_event_processor", None)
    async with app._setup_event_processor():
        yield


def _ids(room: FlowRoom) -> list[str]:
    return [n["id"] for n in room.graph["nodes"]]


async def test_the_check_reaches_a_linked_page_and_nothing_is_sent_to_the_room_token(
    app: Any, sockets: Sockets, flow_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with _as(app, "tab-a") as room:
            await room._add_node({"type": "log", "x": 600, "y": 0})  # no message, unwired
            added = room.patch["seq"]
        await _settled()
        found = {k: v for frame in sockets.room_vars("tab-b") for k, v in frame.items()}
        assert found["problem_count"] == 2 and found["error_count"] == 1
        assert {p["node_id"] for p in found["problems"]} == {"log2"}
        assert sockets.patches("tab-b") == [added, added + 1]  # the add, then its badge
        assert found["patch"]["ops"] == [
            {"op": "issue", "id": "log2", "error": "node 'log2' (Log): field 'message' is required"}
        ]
        sockets.sent.clear()
        async with _as(app, "tab-a") as room:  # its check finds what the last one did
            await room._set_param("log1", "message", "changed")
        await _settled()
        assert sockets.patches("tab-b") == [added + 2]  # the last patch is not sent again
    assert "disconnected client" not in caplog.text


async def test_a_paste_and_a_layout_each_reach_a_co_editor_as_one_patch(
    app: Any, sockets: Sockets, flow_id: int
) -> None:
    pasted = [{"type": "log", "params": {"message": f"copy {i}"}} for i in range(5)]
    async with _as(app, "tab-a") as room:
        await FlowRoom.event_handlers["paste"].fn(room, pasted)
    await _settled()
    adds = [f for f in sockets.room_vars("tab-b") if "patch" in f]
    assert [op["op"] for op in adds[0]["patch"]["ops"]] == ["add"] * 5
    assert len(adds) == 2 and adds[1]["patch"]["ops"] == [{"op": "checked"}]  # then its check
    sockets.sent.clear()
    async with _as(app, "tab-a") as room:
        await FlowRoom.event_handlers["layout"].fn(room)
    await _settled()
    [moves] = [f["patch"]["ops"] for f in sockets.room_vars("tab-b") if "patch" in f]
    assert {op["op"] for op in moves} == {"move"}
    assert {op["id"] for op in moves} == {f"log{i}" for i in range(2, 7)}  # the rest stay put


async def test_undoing_a_paste_or_a_layout_leaves_the_co_editor_s_later_edits(
    app: Any, sockets: Sockets, flow_id: int
) -> None:
    async with _as(app, "tab-a") as room:  # Ada pastes two nodes
        await FlowRoom.event_handlers["paste"].fn(room, [{"type": "log"}, {"type": "log"}])
    async with _as(app, "tab-b") as room:  # then Bob edits
        bob_node = await room._add_node({"type": "log", "x": 0, "y": 500})
        await room._set_param("log2", "message", "Bob's")  # on a node Ada pasted
        await room._set_param("log1", "message", "Bob's too")
        move = FlowRoom.event_handlers["move_nodes"].fn
        await move(room, [{"id": "manual1", "x": -50, "y": -50}])
        await FlowRoom.event_handlers["connect"].fn(room, {"source": "log1", "target": bob_node})
    async with _as(app, "tab-a") as room:
        assert room._history_of("tab-a") == (True, False)
        await room._history(back=True)
        assert _ids(room) == ["manual1", "log1", "log2", bob_node]  # log3 went, log2 Bob's
        log1, log2 = room._node("log1"), room._node("log2")
        assert log1 and log1["params"] == {"message": "Bob's too"}
        assert log2 and log2["params"] == {"message": "Bob's"}
        manual = room._node("manual1")
        assert manual and manual["position"] == {"x": -50.0, "y": -50.0}
        assert any(e["target"] == bob_node for e in room.graph["edges"])
        assert room._history_of("tab-a") == (False, True)
        assert room._history_of("tab-b") == (True, False)  # Bob's own stack untouched
        await FlowRoom.event_handlers["layout"].fn(room)  # Ada lays the flow out
        laid_out = {n["id"]: n["position"] for n in room.graph["nodes"]}
    async with _as(app, "tab-b") as room:  # Bob moves one node and adds another
        await move(room, [{"id": "log1", "x": 7, "y": 7}])
        late = await room._add_node({"type": "log", "x": 9, "y": 900})
    async with _as(app, "tab-a") as room:
        await room._history(back=True)
        positions = {n["id"]: n["position"] for n in room.graph["nodes"]}
    assert positions["log1"] == {"x": 7.0, "y": 7.0} and late in positions
    assert positions["manual1"] == {"x": -50.0, "y": -50.0} != laid_out["manual1"]


async def _ask(app: Any, token: str, choice: str, confirm: bool = False) -> SaveConflictState:
    """One person's dialog for a way out of a save elsewhere (and their confirmation)."""
    async with app.modify_state(BaseStateToken(ident=token, cls=SaveConflictState)) as root:
        page = await root.get_state(SaveConflictState)
        await SaveConflictState.event_handlers["ask"].fn(page, choice)
        if confirm:
            await SaveConflictState.event_handlers["confirm"].fn(page)
        return page


async def test_what_goes_names_whose_edit_each_is_to_each_person(
    people: People, app: Any, flow_id: int
) -> None:
    theirs = copy.deepcopy(GRAPH)  # saved elsewhere: another server, the API
    theirs["nodes"][1]["params"]["message"] = "saved elsewhere"
    with session_scope() as session:
        flows.save_draft(session, user(people.admin_id), flow_id, theirs)
    async with _as(app, "tab-a") as room:  # Ada adds a node
        await room._add_node({"type": "log", "x": 600, "y": 0})
    async with _as(app, "tab-b") as room:  # Bob changes a field and moves a node
        await room._set_param("log1", "message", "Bob's")
        await FlowRoom.event_handlers["move_nodes"].fn(room, [{"id": "manual1", "x": 9, "y": 9}])
        await FlowRoom.event_handlers["save_if_dirty"].fn(room)
        assert room.conflict
    async with _as(app, "tab-a") as room:  # Ada's form still showed "hi": Bob is named
        assert await room._set_param("log1", "message", "Ada's", shown="hi") == "eddie"
    bob = await _ask(app, "tab-b", "theirs")
    assert bob.goes == [
        "ada's new node Log (log2)",
        "your move of Manual run (manual1)",
        "your change to Log (log1) › Message",
    ]
    ada = await _ask(app, "tab-a", "theirs")
    assert ada.goes == [
        "your new node Log (log2)",
        "eddie's move of Manual run (manual1)",
        "eddie's change to Log (log1) › Message",
    ]
    for token, label in (("tab-a", "eddie's, here:"), ("tab-b", "Mine:")):  # a merge's pick
        [row] = (await _ask(app, token, "merge")).rows
        assert (row.what, row.mine, row.mine_label) == ("Log (log1) › Message", "Bob's", label)
    bob = await _ask(app, "tab-b", "theirs", confirm=True)
    assert "dropped: 3" in bob.done
    async with _as(app, "tab-b") as room:
        assert room.graph == theirs and not room.dirty
        # a form still showing Bob's text: the value now is the other save's, not Bob's
        assert await room._set_param("log1", "message", "x", shown="Bob's") == "someone else"


async def test_what_goes_names_nobody_when_it_is_all_the_asker_s(app: Any, flow_id: int) -> None:
    async with _as(app, "tab-a") as room:
        await room._add_node({"type": "log", "x": 600, "y": 0})
    page = await _ask(app, "tab-a", "theirs")
    assert page.goes == ["the new node Log (log2)"]


async def test_a_drag_is_one_undo_step_of_its_person_only(app: Any, flow_id: int) -> None:
    move = FlowRoom.event_handlers["move_nodes"].fn
    async with _as(app, "tab-a") as room:  # Ada drags two nodes at once
        await move(room, [{"id": "manual1", "x": 10, "y": 10}, {"id": "log1", "x": 20, "y": 20}])
    async with _as(app, "tab-b") as room:  # then Bob drags one of them further
        await move(room, [{"id": "log1", "x": 30, "y": 30}])
    async with _as(app, "tab-a") as room:
        await room._history(back=True)
        at = {n["id"]: n["position"] for n in room.graph["nodes"]}
        assert at == {"manual1": {"x": 0, "y": 0}, "log1": {"x": 30.0, "y": 30.0}}
        await room._history(back=False)
        assert room._node("manual1") == {**GRAPH["nodes"][0], "position": {"x": 10.0, "y": 10.0}}
    async with _as(app, "tab-b") as room:
        await room._history(back=True)  # Bob's drag undone: log1 where Ada left it
        log1 = room._node("log1")
        assert log1 and log1["position"] == {"x": 20.0, "y": 20.0}


async def _personal_notice(app: Any, token: str) -> str:
    async with app.modify_state(BaseStateToken(ident=token, cls=PersonalNotice)) as root:
        return (await root.get_state(PersonalNotice)).text


async def test_a_refusal_is_said_to_the_person_refused_only(
    app: Any, sockets: Sockets, flow_id: int
) -> None:
    """Bob's publish of a draft with a problem is refused: he is told, on his page only;
    Ada's page is sent nothing of it, and the room's shared notice says only the save. His next
    action that goes through takes his notice back."""
    async with _as(app, "tab-a") as room:
        await room._add_node({"type": "log", "x": 600, "y": 0})  # no message: publish refuses
    await _settled()
    sockets.sent.clear()
    async with _as(app, "tab-b") as room:
        await FlowRoom.event_handlers["publish"].fn(room, True)
        assert room.notice == "Saved by eddie (revision 1)."  # the save before it is news
    await _settled()
    told = await _personal_notice(app, "tab-b")
    assert "message" in told and "required" in told
    assert await _personal_notice(app, "tab-a") == ""
    frames_to_ada = repr(sockets.sent.get("tab-a", []))
    assert PersonalNotice.get_full_name() not in frames_to_ada
    assert "required" not in frames_to_ada

    async with _as(app, "tab-b") as room:
        await room._set_param("log2", "message", "now filled")
        await FlowRoom.event_handlers["publish"].fn(room, True)
        assert room.notice.startswith("Published version 1")  # news for everyone
    assert await _personal_notice(app, "tab-b") == ""


async def test_presence_names_the_field_each_person_is_in(
    app: Any, sockets: Sockets, flow_id: int, people: People
) -> None:
    """Bob in the Message field of log1: Ada's page is told "<bob> › Message" on that node;
    leaving the field, or selecting another node, leaves just his name there. A viewer
    selecting the node is shown on it, but in no field."""
    async with _as(app, "tab-b") as room:
        bob = room.presence[room._presence_key()]
        room._focus("log1")
        await FlowRoom.event_handlers["focus_field"].fn(room, "message")
    await _settled()
    shown = [f["people_on_nodes"] for f in sockets.room_vars("tab-a") if "people_on_nodes" in f]
    assert shown[-1] == {"log1": [f"{bob} › Message"]}

    async with _as(app, "tab-b") as room:
        await FlowRoom.event_handlers["focus_field"].fn(room, "")
        assert room.people_on_nodes == {"log1": [bob]}
        await FlowRoom.event_handlers["focus_field"].fn(room, "message")
        room._focus("manual1")  # another node: out of the field
        assert room.people_on_nodes == {"manual1": [bob]}

    await _join(app, sockets, "tab-v", people.cookies["viewer"], flow_id)
    async with _as(app, "tab-v") as room:
        viewer = room.presence[room._presence_key()]
        room._focus("log1")
        await FlowRoom.event_handlers["focus_field"].fn(room, "message")
        assert room.people_on_nodes["log1"] == [viewer]


async def test_after_a_drag_the_page_offers_undo(app: Any, flow_id: int) -> None:
    """A drag changes no form, so the page asks for its Undo and Redo state on its own: a
    first drag enables Undo for the person who made it, not for the co-editor."""

    async def can_undo(token: str) -> bool:
        async with app.modify_state(BaseStateToken(ident=token, cls=EditorState)) as root:
            page = await root.get_state(EditorState)
            await EditorState.event_handlers["refresh_history"].fn(page)
            return page.can_undo

    assert not await can_undo("tab-a")
    async with _as(app, "tab-a") as room:
        await FlowRoom.event_handlers["move_nodes"].fn(room, [{"id": "log1", "x": 5, "y": 5}])
    assert await can_undo("tab-a")
    assert not await can_undo("tab-b")


async def test_a_restart_during_a_save_conflict_keeps_the_unsaved_draft_and_the_choice(
    people: People, app: Any, sockets: Sockets, flow_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The room's unsaved edits, refused by a save elsewhere, are held in the database: a
    new server (a new state manager, the same database) loads them back with their base and
    authors, whoever opens the flow first (a viewer here), and offers the same choice."""
    theirs = copy.deepcopy(GRAPH)
    theirs["nodes"][1]["params"]["message"] = "saved elsewhere"
    with session_scope() as session:  # by Ada, through the API say
        flows.save_draft(session, user(people.admin_id), flow_id, theirs)
    async with _as(app, "tab-b") as room:  # Bob's autosave is refused
        await room._set_param("log1", "message", "Bob's")
        await FlowRoom.event_handlers["save_if_dirty"].fn(room)
        assert room.conflict
    async with _as(app, "tab-a") as room:  # Ada's edit during the conflict: held by autosave
        await room._add_node({"type": "log", "x": 600, "y": 0})
        await FlowRoom.event_handlers["save_if_dirty"].fn(room)
        unsaved = copy.deepcopy(room._raw_graph)
    await _settled()

    async with _restarted(app, monkeypatch):
        await _join(app, sockets, "tab-v", people.cookies["viewer"], flow_id)
        await _join(app, sockets, "tab-c", people.cookies["editor"], flow_id)  # Bob reopens
        async with _as(app, "tab-c") as room:
            assert room.graph == unsaved and room.dirty
            assert "saved somewhere else" in room.conflict
            await FlowRoom.event_handlers["save_if_dirty"].fn(room)  # still refused: held
        bob = await _ask(app, "tab-c", "theirs")
        assert bob.goes == ["ada's new node Log (log2)", "your change to Log (log1) › Message"]
        bob = await _ask(app, "tab-c", "ours")
        assert bob.goes == ["ada's change to Log (log1) › Message"]  # the other save's author
        bob = await _ask(app, "tab-c", "ours", confirm=True)
        assert "over the version saved elsewhere" in bob.done
        with session_scope() as session:
            flow = session.get(room_module.FlowDefinition, flow_id)
            assert flow is not None and flow.graph == unsaved
            assert draft_holds.fetch(session, user(people.admin_id), flow_id) is None
        await _settled()

    async with _restarted(app, monkeypatch):  # nothing held now
        await _join(app, sockets, "tab-d", people.cookies["editor"], flow_id)
        async with _as(app, "tab-d") as room:
            assert room.graph == unsaved and not room.dirty and not room.conflict


async def test_each_kind_of_edit_is_found_as_a_deep_copy_of_the_draft_would_find_it(
    app: Any, sockets: Sockets, flow_id: int
) -> None:
    """The room compares an edit with a shallow copy of the draft (room.edit_base), which
    holds only while every edit replaces what it changes instead of changing it in place:
    each kind of edit, its patch and its undo step, checked against a deep copy."""
    handler = FlowRoom.event_handlers
    edits: list[Callable[[FlowRoom], Awaitable[object]]] = [
        lambda room: room._add_node({"type": "log", "x": 600, "y": 0}),
        lambda room: room._set_param("log1", "message", "changed"),
        lambda room: handler["connect"].fn(room, {"source": "log1", "target": "log2"}),
        lambda room: handler["paste"].fn(room, [{"type": "log", "params": {"message": "p"}}]),
        lambda room: handler["move_nodes"].fn(room, [{"id": "log1", "x": 5, "y": 5}]),
        lambda room: handler["layout"].fn(room),
        lambda room: handler["delete_items"].fn(room, {"nodes": ["log2"]}),
        lambda room: room._history(back=True),
        lambda room: room._history(back=False),
    ]
    for edit in edits:
        async with _as(app, "tab-a") as room:
            before = copy.deepcopy(room._raw_graph)
            await edit(room)
            after = room._raw_graph
            assert before != after
            if edit not in edits[-2:]:  # undo and redo move a step, they add none
                assert room._undo["tab-a"][-1] == graph_change(before, after)
            if edit is not edits[4]:  # a drag's patch is its moves, made without comparing
                assert room.patch["ops"] == canvas_ops(before, after)

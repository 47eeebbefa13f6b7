"""Issue 17: a param edit reaches a co-editor's form with the room's patch itself (the
field's new text rides it, so their page shows it without asking the server again), and
a node's form is sent before the slower values to insert. Against a real database."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from reflex.state import StateUpdate
from reflex_base.utils.format import json_dumps

from bench.editor import big_graph
from engine.db import session_scope
from engine.services import flows
from flowbot_ui.state.editor import EditorState
from flowbot_ui.state.room import FlowRoom
from tests.ui_harness import People, Tab, joined_room, user

GRAPH = {
    "nodes": [
        {"id": "manual1", "type": "manual", "params": {}, "position": {"x": 0, "y": 0}},
        {
            "id": "vars1",
            "type": "set_variable",
            "params": {"name": "who", "value": "x"},
            "position": {"x": 300, "y": 0},
        },
        {"id": "log1", "type": "log", "params": {"message": "base"}, "position": {"x": 600}},
        {"id": "send1", "type": "tg_send_message", "params": {"text": "hi"}},
        {"id": "post1", "type": "broadcast", "params": {"text": "hi", "community_ids": [2]}},
    ],
    "edges": [
        {"source": "manual1", "sourceHandle": "next", "target": "vars1"},
        {"source": "vars1", "sourceHandle": "next", "target": "log1"},
    ],
}


@pytest.fixture
def flow_id(people: People) -> int:
    with session_scope() as session:
        return flows.create_flow(session, user(people.admin_id), "Co-edit", graph=GRAPH).id or 0


def _field_ops(patch: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for op in patch["ops"] if op["op"] == "field"]


def _value(page: EditorState, name: str) -> str:
    return next(field.value for field in page.fields if field.name == name)


async def _selected(
    people: People, flow_id: int, node_id: str
) -> tuple[Tab, FlowRoom, EditorState]:
    tab, room = await joined_room(people.cookies["editor"], flow_id)
    await tab.run(EditorState, "select", node_id)
    return tab, room, await tab.state(EditorState)


async def test_a_written_field_rides_the_patch_with_the_text_forms_show(
    people: People, flow_id: int
) -> None:
    tab, room, page = await _selected(people, flow_id, "log1")
    await tab.run(EditorState, "commit_field", "message", "base", "new words")

    assert _field_ops(room.patch) == [
        {"op": "field", "id": "log1", "name": "message", "text": "new words"}
    ]
    assert _value(page, "message") == "new words"  # the writer's own form, rebuilt


async def test_ticking_a_choice_keeps_one_a_co_editor_ticked_since_the_form_came(
    people: People, flow_id: int
) -> None:
    """Bob's form came with community 2 ticked; Ada ticks 3 (his page shows it from the
    patch, his form is not sent again); Bob ticks 5: all three are kept."""
    tab, room, page = await _selected(people, flow_id, "post1")
    assert _value(page, "community_ids") == "2"
    await room._set_param("post1", "community_ids", "2\n3")  # Ada's edit

    await tab.run(EditorState, "toggle_pick", "community_ids", "5", True)
    post = next(n for n in room.graph["nodes"] if n["id"] == "post1")
    assert post["params"]["community_ids"] == [2, 3, 5]


async def test_a_look_or_a_refused_write_sends_no_field(people: People, flow_id: int) -> None:
    """Left untouched (what it showed is what it holds), or written over a value someone
    else changed meanwhile (a choice for the writer): the draft keeps its text, and no
    patch tells anyone's form otherwise."""
    tab, room, page = await _selected(people, flow_id, "log1")
    seq = room.patch["seq"]

    await tab.run(EditorState, "commit_field", "message", "base", "base")
    assert room.patch["seq"] == seq

    await room._set_param("log1", "message", "someone else's")
    seq = room.patch["seq"]
    await tab.run(EditorState, "commit_field", "message", "base", "mine")
    assert room.patch["seq"] == seq and not _field_ops(room.patch)
    assert page.field_conflict == "message" and page.field_conflict_text == "mine"


async def test_a_selection_sends_the_form_before_the_values_to_insert(
    people: People, flow_id: int
) -> None:
    """The form is a frame of its own (an added node's selection stays under 1 KB); the
    values to insert, whose search walks the whole flow, follow."""
    tab, _ = await joined_room(people.cookies["editor"], flow_id)
    page = await tab.state(EditorState)
    selecting = EditorState.event_handlers["select"].fn(page, "log1")

    await selecting.__anext__()  # the first frame
    assert _value(page, "message") == "base" and page.hints == []
    async for _ in selecting:
        pass
    assert "{{ context.who }}" in page.hints  # set upstream, by vars1


async def test_an_added_nodes_form_is_a_frame_under_1_kb_in_a_big_flow(
    people: People,
) -> None:
    """Issue 17: a node add is at most 1 KB over the wire each way; the form of the node
    added (selected for its adder) was 1.4 KB at 300 nodes with the values to insert."""
    with session_scope() as session:
        big = flows.create_flow(session, user(people.admin_id), "Big", graph=big_graph(300))
    tab, room = await joined_room(people.cookies["editor"], big.id or 0)
    page = await tab.state(EditorState)
    node_id = await room._add_node({"type": "log"})
    tab.root._clean()  # type: ignore[no-untyped-call]  # Reflex leaves it unannotated
    selecting = EditorState.event_handlers["select"].fn(page, node_id)
    if inspect.isasyncgen(selecting):
        await selecting.__anext__()
    else:
        await selecting
    delta = await tab.root._get_resolved_delta()

    assert any(field.name == "message" for field in page.fields)
    frame = '42["event",' + json_dumps(StateUpdate(delta=delta)) + "]"  # as Socket.IO's
    assert len(frame) <= 1024, delta

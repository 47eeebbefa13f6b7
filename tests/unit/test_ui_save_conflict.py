"""The editor's ways out of a save made elsewhere (SaveConflictState), against a real
database: what each names before it drops anything, that it acts only on what it named,
and that a viewer gets nothing to choose."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.db import session_scope
from engine.models import FlowDefinition, FlowDraftHold
from engine.services import flows
from flowbot_ui.state.room import FlowRoom
from flowbot_ui.state.save_conflict import SaveConflictState
from tests.ui_harness import People, Tab, joined_room, user

BASE = {
    "nodes": [
        {"id": "manual1", "type": "manual", "params": {}, "position": {"x": 0, "y": 0}},
        {
            "id": "log1",
            "type": "log",
            "params": {"message": "base"},
            "position": {"x": 300, "y": 0},
        },
    ],
    "edges": [{"source": "manual1", "sourceHandle": "next", "target": "log1"}],
}


@pytest.fixture
def flow_id(people: People) -> int:
    with session_scope() as session:
        return flows.create_flow(session, user(people.admin_id), "Twice", graph=BASE).id or 0


def _saved(flow_id: int) -> dict[str, Any]:
    with session_scope() as session:
        flow = session.get(FlowDefinition, flow_id)
        assert flow is not None
        return copy.deepcopy(flow.graph)


def _held(flow_id: int) -> dict[str, Any] | None:
    """The unsaved draft held in the database for the flow, if any."""
    with session_scope() as session:
        found = session.get(FlowDraftHold, flow_id)
        return copy.deepcopy(found.graph) if found else None


def _message(graph: dict[str, Any]) -> Any:
    return next(n for n in graph["nodes"] if n["id"] == "log1")["params"].get("message")


def _ids(graph: dict[str, Any]) -> set[str]:
    return {n["id"] for n in graph["nodes"]}


def _save_elsewhere(people: People, flow_id: int, message: str) -> None:
    """Another client saves log1's message (the REST API, another server)."""
    graph = _saved(flow_id)
    next(n for n in graph["nodes"] if n["id"] == "log1")["params"]["message"] = message
    with session_scope() as session:
        flows.save_draft(session, user(people.admin_id), flow_id, graph)


async def _in_conflict(people: People, flow_id: int) -> tuple[Tab, FlowRoom]:
    """The editor's unsaved edits (log1's message, a node added) meet a save elsewhere."""
    tab, room = await joined_room(people.cookies["editor"], flow_id)
    _save_elsewhere(people, flow_id, "theirs")
    await room._set_param("log1", "message", "mine")
    await room._add_node({"type": "log", "x": 600, "y": 0})
    await tab.run(FlowRoom, "save_if_dirty")
    assert "saved somewhere else" in room.conflict
    return tab, room


async def test_taking_theirs_names_the_unsaved_edits_then_drops_them(
    people: People, flow_id: int
) -> None:
    tab, room = await _in_conflict(people, flow_id)
    await tab.run(SaveConflictState, "ask", "theirs")
    page = await tab.state(SaveConflictState)
    assert page.asking == "theirs"
    assert page.goes == ["the new node Log (log2)", "the change to Log (log1) › Message"]
    assert _message(room.graph) == "mine"  # nothing dropped by asking
    assert _held(flow_id) == room.graph  # held while the choice is open
    await tab.run(SaveConflictState, "confirm")
    assert page.asking == "" and "dropped: 2" in page.done
    assert room.graph == _saved(flow_id) and _message(room.graph) == "theirs"
    assert room.conflict == "" and not room.dirty and _held(flow_id) is None


async def test_what_goes_is_named_again_when_it_changed_before_the_confirmation(
    people: People, flow_id: int
) -> None:
    tab, room = await _in_conflict(people, flow_id)
    await tab.run(SaveConflictState, "ask", "theirs")
    await room._add_node({"type": "log", "x": 900, "y": 0})  # a co-editor's, meanwhile
    await tab.run(SaveConflictState, "confirm")
    page = await tab.state(SaveConflictState)
    assert page.asking == "theirs" and "changed meanwhile" in page.again
    assert "the new node Log (log3)" in page.goes
    assert "log3" in _ids(room.graph)  # not dropped without being named


async def test_keeping_mine_names_what_the_other_save_changed_then_overwrites_it(
    people: People, flow_id: int
) -> None:
    tab, room = await _in_conflict(people, flow_id)
    await tab.run(SaveConflictState, "ask", "ours")
    page = await tab.state(SaveConflictState)
    assert page.goes == ["ada's change to Log (log1) › Message"]  # the other save's author
    _save_elsewhere(people, flow_id, "theirs again")  # saved again before the answer
    await tab.run(SaveConflictState, "confirm")
    assert page.asking == "ours" and "again" in page.again
    assert page.goes == ["the change to Log (log1) › Message"]  # two saves: whose is unsaid
    assert _message(_saved(flow_id)) == "theirs again"  # what was named is not what goes
    await tab.run(SaveConflictState, "confirm")
    saved = _saved(flow_id)
    assert _message(saved) == "mine" and "log2" in _ids(saved)
    assert page.asking == "" and room.conflict == "" and not room.dirty


async def test_a_merge_lists_the_same_field_and_applies_the_pick(
    people: People, flow_id: int
) -> None:
    tab, room = await _in_conflict(people, flow_id)
    await tab.run(SaveConflictState, "ask", "merge")
    page = await tab.state(SaveConflictState)
    assert page.asking == "merge"
    [row] = page.rows
    assert (row.what, row.mine, row.theirs, row.choice) == (
        "Log (log1) › Message",
        "mine",
        "theirs",
        "theirs",
    )
    await tab.run(SaveConflictState, "choose", row.key, "ours")
    await tab.run(SaveConflictState, "confirm")
    saved = _saved(flow_id)
    assert _message(saved) == "mine" and _ids(saved) == {"manual1", "log1", "log2"}
    assert "1 kept yours" in page.done and room.conflict == "" and not room.dirty


async def test_a_merge_without_conflicts_is_done_at_once(people: People, flow_id: int) -> None:
    tab, room = await joined_room(people.cookies["editor"], flow_id)
    _save_elsewhere(people, flow_id, "theirs")
    await room._add_node({"type": "log", "x": 600, "y": 0})
    await tab.run(FlowRoom, "save_if_dirty")
    assert _held(flow_id) is not None
    await tab.run(SaveConflictState, "ask", "merge")
    page = await tab.state(SaveConflictState)
    assert page.asking == "" and page.done.startswith("Merged")
    saved = _saved(flow_id)
    assert _message(saved) == "theirs" and "log2" in _ids(saved)
    assert _held(flow_id) is None  # saved: nothing held


async def test_a_merge_that_changes_nothing_releases_the_hold(people: People, flow_id: int) -> None:
    tab, room = await joined_room(people.cookies["editor"], flow_id)
    _save_elsewhere(people, flow_id, "theirs")
    await room._set_param("log1", "message", "theirs")  # the same value: nothing to save
    await tab.run(FlowRoom, "save_if_dirty")
    assert room.conflict and _held(flow_id) is not None
    await tab.run(SaveConflictState, "ask", "merge")
    assert not room.dirty and room.conflict == "" and _held(flow_id) is None


async def test_a_viewer_gets_nothing_to_choose(people: People, flow_id: int) -> None:
    tab, room = await joined_room(people.cookies["viewer"], flow_id)
    before = _saved(flow_id)
    for choice in ("theirs", "ours", "merge"):
        await tab.run(SaveConflictState, "ask", choice)
        await tab.run(SaveConflictState, "confirm")
        assert (await tab.state(SaveConflictState)).asking == ""
    assert _saved(flow_id) == before

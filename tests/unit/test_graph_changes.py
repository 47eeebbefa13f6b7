"""Undoing one person's edit among others' (flowbot_ui.state.graph_changes)."""

from __future__ import annotations

import copy
from typing import Any

from engine import flow_merge
from flowbot_ui.state.graph_changes import (
    apply_change,
    graph_change,
    is_empty,
    moves_change,
    touched,
)


def _graph() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "manual1", "type": "manual", "params": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "log1",
                "type": "log",
                "params": {"message": "hi"},
                "position": {"x": 9, "y": 0},
            },
        ],
        "edges": [
            {
                "id": "manual1-next-log1",
                "source": "manual1",
                "sourceHandle": "next",
                "target": "log1",
            }
        ],
    }


def _edit(graph: dict[str, Any], change: Any) -> dict[str, Any]:
    """Apply an edit in place; what it changed."""
    before = copy.deepcopy(graph)
    change(graph)
    return graph_change(before, graph)


def _ids(graph: dict[str, Any]) -> list[str]:
    return [n["id"] for n in graph["nodes"]]


def test_undo_removes_only_my_added_node_and_redo_brings_it_back() -> None:
    graph = _graph()
    mine = _edit(graph, lambda g: g["nodes"].append({"id": "log2", "type": "log", "params": {}}))
    _edit(graph, lambda g: g["nodes"].append({"id": "log3", "type": "log", "params": {}}))  # Bob's
    assert apply_change(graph, mine, undo=True)
    assert _ids(graph) == ["manual1", "log1", "log3"]
    assert apply_change(graph, mine, undo=False)
    assert _ids(graph) == ["manual1", "log1", "log3", "log2"]


def test_undo_of_a_field_keeps_a_later_value_set_by_someone_else() -> None:
    graph = _graph()
    mine = _edit(graph, lambda g: g["nodes"][1]["params"].update(message="ada"))
    _edit(graph, lambda g: g["nodes"][1]["params"].update(message="bob"))
    assert not apply_change(graph, mine, undo=True)
    assert graph["nodes"][1]["params"] == {"message": "bob"}


def test_undo_of_a_field_leaves_other_fields_of_the_node_alone() -> None:
    graph = _graph()
    mine = _edit(graph, lambda g: g["nodes"][1]["params"].update(message="ada"))
    _edit(graph, lambda g: g["nodes"][1]["params"].update(level="error"))  # Bob's
    assert apply_change(graph, mine, undo=True)
    assert graph["nodes"][1]["params"] == {"message": "hi", "level": "error"}


def test_undo_of_a_deletion_restores_the_node_and_its_edges() -> None:
    graph = _graph()
    original = copy.deepcopy(graph)

    def delete(g: dict[str, Any]) -> None:
        g["nodes"], g["edges"] = g["nodes"][:1], []

    mine = _edit(graph, delete)
    assert apply_change(graph, mine, undo=True)
    assert graph == original


def test_undo_of_a_cleared_field_sets_it_again() -> None:
    graph = _graph()
    mine = _edit(graph, lambda g: g["nodes"][1]["params"].pop("message"))
    assert apply_change(graph, mine, undo=True)
    assert graph["nodes"][1]["params"] == {"message": "hi"}


def test_an_edge_comes_back_only_between_nodes_that_still_exist() -> None:
    graph = _graph()
    mine = _edit(graph, lambda g: g.update(edges=[]))
    _edit(graph, lambda g: g.update(nodes=g["nodes"][:1]))  # Bob deletes log1
    assert not apply_change(graph, mine, undo=True)
    assert graph["edges"] == []


def test_no_change_is_empty() -> None:
    assert is_empty(graph_change(_graph(), _graph()))
    moved = _edit(_graph(), lambda g: g["nodes"][0].update(position={"x": 5, "y": 5}))
    assert not is_empty(moved)


def test_undo_of_my_added_node_keeps_it_when_someone_changed_it_since() -> None:
    graph = _graph()
    mine = _edit(graph, lambda g: g["nodes"].append({"id": "log2", "type": "log", "params": {}}))
    _edit(graph, lambda g: g["nodes"][2]["params"].update(message="bob"))  # Bob's, on mine
    assert not apply_change(graph, mine, undo=True)
    assert graph["nodes"][2] == {"id": "log2", "type": "log", "params": {"message": "bob"}}


def test_undo_of_my_added_node_keeps_it_and_the_wire_someone_connected_to_it() -> None:
    graph = _graph()
    mine = _edit(graph, lambda g: g["nodes"].append({"id": "log2", "type": "log", "params": {}}))
    wire = {"id": "log1-next-log2", "source": "log1", "sourceHandle": "next", "target": "log2"}
    _edit(graph, lambda g: g["edges"].append(wire))  # Bob's
    assert not apply_change(graph, mine, undo=True)
    assert _ids(graph) == ["manual1", "log1", "log2"] and wire in graph["edges"]


def test_redo_of_a_deletion_keeps_the_node_and_its_wires_when_someone_changed_it() -> None:
    graph = _graph()

    def delete(g: dict[str, Any]) -> None:
        g["nodes"], g["edges"] = g["nodes"][:1], []

    mine = _edit(graph, delete)
    assert apply_change(graph, mine, undo=True)
    _edit(graph, lambda g: g["nodes"][1]["params"].update(message="bob"))  # Bob's
    assert not apply_change(graph, mine, undo=False)
    assert _ids(graph) == ["manual1", "log1"] and len(graph["edges"]) == 1


def test_what_a_change_touched_has_the_keys_of_the_merge_s_edits() -> None:
    """The room credits an edit by these keys and names the author of a pending edit by
    flow_merge's: the two must agree for every kind of edit."""
    graph = _graph()
    before = copy.deepcopy(graph)

    def edit(g: dict[str, Any]) -> None:
        g["nodes"].append({"id": "log2", "type": "log", "params": {}})
        g["nodes"][1]["params"]["message"] = "changed"
        g["nodes"][0]["position"] = {"x": 5, "y": 5}
        g["edges"] = [{"source": "log1", "sourceHandle": "next", "target": "log2"}]

    change = _edit(graph, edit)
    keys = sorted(e.key for e in flow_merge.edits(before, graph))
    assert sorted(touched(change)) == keys and len(keys) == 5
    kept = copy.deepcopy(graph)
    removal = _edit(graph, lambda g: g.update(nodes=g["nodes"][:2], edges=[]))
    named = [e.key for e in flow_merge.edits(kept, graph)]  # a removed node's wire goes with it
    assert named == ["node:log2"] and set(touched(removal)) == {*named, "wire:log1/next/log2"}


def test_a_drag_is_the_change_the_whole_graph_comparison_finds() -> None:
    graph = _graph()
    found = _edit(graph, lambda g: g["nodes"][1].update(position={"x": 50, "y": 60}))
    assert moves_change({"log1": ({"x": 9, "y": 0}, {"x": 50, "y": 60})}) == found
    assert is_empty(moves_change({"log1": ({"x": 9, "y": 0}, {"x": 9.0, "y": 0.0})}))

"""Merging unsaved edits into a draft saved elsewhere (engine.flow_merge), at its edges."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from engine.flow_merge import Edit, edits, merge

Graph = dict[str, Any]


def _node(node_id: str, node_type: str, x: int = 0, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "params": params, "position": {"x": x, "y": 0}}


def _wire(source: str, target: str, handle: str = "next") -> dict[str, Any]:
    return {
        "id": f"{source}:{handle}-{target}",
        "source": source,
        "sourceHandle": handle,
        "target": target,
    }


def _base() -> Graph:
    return {
        "nodes": [
            _node("manual1", "manual"),
            _node("send1", "tg_send_message", 300, text="hello"),
            _node("log1", "log", 600, message="sent"),
        ],
        "edges": [_wire("manual1", "send1"), _wire("send1", "log1")],
    }


def _edited(graph: Graph, change: Callable[[Graph], None]) -> Graph:
    copied = copy.deepcopy(graph)
    change(copied)
    return copied


def _find(graph: Graph, node_id: str) -> dict[str, Any] | None:
    return next((n for n in graph["nodes"] if n["id"] == node_id), None)


def _params(graph: Graph, node_id: str) -> dict[str, Any]:
    node = _find(graph, node_id)
    assert node is not None, node_id
    return dict(node["params"])


def _set(node_id: str, name: str, value: Any) -> Callable[[Graph], None]:
    def change(graph: Graph) -> None:
        node = _find(graph, node_id)
        assert node is not None
        node["params"][name] = value

    return change


def _move(node_id: str, x: int) -> Callable[[Graph], None]:
    def change(graph: Graph) -> None:
        node = _find(graph, node_id)
        assert node is not None
        node["position"] = {"x": x, "y": 50}

    return change


def _remove(node_id: str) -> Callable[[Graph], None]:
    def change(graph: Graph) -> None:
        graph["nodes"] = [n for n in graph["nodes"] if n["id"] != node_id]
        graph["edges"] = [e for e in graph["edges"] if node_id not in (e["source"], e["target"])]

    return change


def _add(node: dict[str, Any], *wires: dict[str, Any]) -> Callable[[Graph], None]:
    def change(graph: Graph) -> None:
        graph["nodes"].append(copy.deepcopy(node))
        graph["edges"] += copy.deepcopy(list(wires))

    return change


def _wires(graph: Graph) -> set[tuple[str, str, str]]:
    return {(e["source"], e.get("sourceHandle") or "next", e["target"]) for e in graph["edges"]}


def _ids(graph: Graph) -> list[str]:
    return [n["id"] for n in graph["nodes"]]


# --------------------------------------------------------------------------- edits


def test_edits_name_each_change_once() -> None:
    base = _base()
    after = _edited(base, _set("send1", "text", "hi"))
    after = _edited(after, _move("manual1", 10))
    after = _edited(after, _remove("log1"))
    after = _edited(after, _add(_node("wait1", "wait"), _wire("send1", "wait1")))
    assert edits(base, after) == [
        Edit("added", "wait1", "wait"),
        Edit("removed", "log1", "log"),
        Edit("moved", "manual1", "manual"),
        Edit("changed", "send1", "tg_send_message", "text"),
        Edit("connected", "send1", "tg_send_message", "next", "wait1", "wait"),
    ]  # the removed node's wire goes with it, unnamed


def test_edits_name_a_cut_wire_a_param_cleared_and_a_label() -> None:
    base = _base()
    after = _edited(base, lambda g: g["edges"].pop(0))
    after = _edited(after, lambda g: g["nodes"][2]["params"].pop("message"))
    after = _edited(after, lambda g: g["nodes"][0].update(label="Start"))
    assert edits(base, after) == [
        Edit("changed", "manual1", "manual", "label"),
        Edit("changed", "log1", "log", "message"),
        Edit("disconnected", "manual1", "manual", "next", "send1", "tg_send_message"),
    ]
    assert edits(base, copy.deepcopy(base)) == []


# --------------------------------------------------------------------------- merge


def test_edits_on_different_fields_all_land() -> None:
    base = _base()
    ours = _edited(base, _set("send1", "text", "ours"))
    theirs = _edited(base, _set("send1", "parse_mode", "HTML"))
    theirs = _edited(theirs, _set("log1", "message", "theirs"))
    merged = merge(base, ours, theirs)
    assert merged.conflicts == []
    assert _params(merged.graph, "send1") == {"text": "ours", "parse_mode": "HTML"}
    assert _params(merged.graph, "log1") == {"message": "theirs"}


def test_the_same_field_changed_on_both_sides_is_a_conflict_kept_theirs_until_chosen() -> None:
    base = _base()
    ours = _edited(base, _set("send1", "text", "ours"))
    theirs = _edited(base, _set("send1", "text", "theirs"))
    merged = merge(base, ours, theirs)
    [conflict] = merged.conflicts
    assert (conflict.key, conflict.field, conflict.ours, conflict.theirs) == (
        "field:send1/text",
        "text",
        "ours",
        "theirs",
    )
    assert _params(merged.graph, "send1")["text"] == "theirs"
    chosen = merge(base, ours, theirs, {conflict.key: "ours"})
    assert _params(chosen.graph, "send1")["text"] == "ours"
    assert [c.key for c in chosen.conflicts] == [conflict.key]  # still listed, as chosen


def test_the_same_value_set_on_both_sides_is_no_conflict() -> None:
    base = _base()
    both = _edited(base, _set("send1", "text", "same"))
    merged = merge(base, both, copy.deepcopy(both))
    assert merged.conflicts == [] and merged.graph == both


def test_a_field_we_cleared_and_they_changed_is_a_conflict() -> None:
    base = _base()
    ours = _edited(base, lambda g: g["nodes"][1]["params"].pop("text"))
    theirs = _edited(base, _set("send1", "text", "theirs"))
    [conflict] = merge(base, ours, theirs).conflicts
    assert (conflict.ours, conflict.theirs) == (None, "theirs")
    chosen = merge(base, ours, theirs, {conflict.key: "ours"})
    assert "text" not in _params(chosen.graph, "send1")


def test_moved_here_and_edited_there_keeps_both() -> None:
    base = _base()
    ours = _edited(base, _move("send1", 900))
    theirs = _edited(base, _set("send1", "text", "theirs"))
    merged = merge(base, ours, theirs)
    assert merged.conflicts == []
    node = _find(merged.graph, "send1")
    assert node is not None
    assert node["position"] == {"x": 900, "y": 50} and node["params"]["text"] == "theirs"


def test_moved_on_both_sides_is_a_position_conflict() -> None:
    base = _base()
    ours, theirs = _edited(base, _move("log1", 1)), _edited(base, _move("log1", 2))
    [conflict] = merge(base, ours, theirs).conflicts
    assert (conflict.key, conflict.field) == ("field:log1/@position", "position")


def test_a_node_removed_there_and_edited_here_is_a_conflict() -> None:
    base = _base()
    ours = _edited(base, _set("log1", "message", "ours"))
    theirs = _edited(base, _remove("log1"))
    merged = merge(base, ours, theirs)
    [conflict] = merged.conflicts
    assert (conflict.key, conflict.removed_by, conflict.field) == ("node:log1", "theirs", "")
    assert _find(merged.graph, "log1") is None  # theirs until chosen
    kept = merge(base, ours, theirs, {"node:log1": "ours"}).graph
    assert _params(kept, "log1") == {"message": "ours"}
    assert ("send1", "next", "log1") in _wires(kept)  # back with its wires


def test_a_node_removed_there_and_untouched_here_stays_removed() -> None:
    base = _base()
    ours = _edited(base, _set("send1", "text", "ours"))
    theirs = _edited(base, _remove("log1"))
    merged = merge(base, ours, theirs)
    assert merged.conflicts == [] and _ids(merged.graph) == ["manual1", "send1"]
    assert _wires(merged.graph) == {("manual1", "next", "send1")}


def test_a_wire_to_a_node_removed_there_is_a_conflict_on_that_node() -> None:
    base = _base()
    ours = _edited(base, lambda g: g["edges"].append(_wire("manual1", "log1", "error")))
    theirs = _edited(base, _remove("log1"))
    merged = merge(base, ours, theirs)
    assert [c.key for c in merged.conflicts] == ["node:log1"]
    assert all("log1" not in (e["source"], e["target"]) for e in merged.graph["edges"])
    kept = merge(base, ours, theirs, {"node:log1": "ours"}).graph
    assert {("manual1", "error", "log1"), ("send1", "next", "log1")} <= _wires(kept)


def test_a_node_we_added_wired_to_a_node_removed_there() -> None:
    base = _base()
    ours = _edited(base, _add(_node("wait1", "wait"), _wire("log1", "wait1")))
    theirs = _edited(base, _remove("log1"))
    merged = merge(base, ours, theirs)
    assert [c.key for c in merged.conflicts] == ["node:log1"]
    assert "wait1" in _ids(merged.graph)  # our new node stays; only its wire cannot
    assert not any(e["target"] == "wait1" for e in merged.graph["edges"])


def test_a_node_removed_here_and_edited_there_is_a_conflict() -> None:
    base = _base()
    ours = _edited(base, _remove("log1"))
    theirs = _edited(base, _set("log1", "message", "theirs"))
    merged = merge(base, ours, theirs)
    [conflict] = merged.conflicts
    assert (conflict.key, conflict.removed_by) == ("node:log1", "ours")
    assert _find(merged.graph, "log1") is not None  # their edit stays until chosen
    gone = merge(base, ours, theirs, {"node:log1": "ours"}).graph
    assert _find(gone, "log1") is None and not any("log1" in w for w in _wires(gone))


def test_a_node_removed_here_and_wired_there_is_a_conflict() -> None:
    base = _base()
    ours = _edited(base, _remove("log1"))
    theirs = _edited(base, lambda g: g["edges"].append(_wire("manual1", "log1")))
    assert [c.key for c in merge(base, ours, theirs).conflicts] == ["node:log1"]


def test_a_node_removed_here_and_untouched_there_goes_with_its_wires() -> None:
    base = _base()
    ours = _edited(base, _remove("send1"))
    theirs = _edited(base, _set("log1", "message", "theirs"))
    merged = merge(base, ours, theirs)
    assert merged.conflicts == [] and _ids(merged.graph) == ["manual1", "log1"]
    assert merged.graph["edges"] == []


def test_a_node_removed_on_both_sides_is_no_conflict() -> None:
    base = _base()
    both = _edited(base, _remove("log1"))
    merged = merge(base, both, copy.deepcopy(both))
    assert merged.conflicts == [] and merged.graph == both


def test_nodes_added_on_both_sides_under_the_same_id_both_stay() -> None:
    base = _base()
    ours = _edited(base, _add(_node("log2", "log", message="ours"), _wire("log1", "log2")))
    theirs = _edited(base, _add(_node("log2", "log", message="theirs")))
    merged = merge(base, ours, theirs)
    assert merged.conflicts == []
    assert _params(merged.graph, "log2") == {"message": "theirs"}
    assert _params(merged.graph, "log3") == {"message": "ours"}
    assert _wires(merged.graph) >= {("log1", "next", "log3")}  # our wire follows the rename
    assert ("log1", "next", "log2") not in _wires(merged.graph)


def test_the_same_node_added_on_both_sides_is_kept_once() -> None:
    base = _base()
    both = _edited(base, _add(_node("wait1", "wait")))
    merged = merge(base, both, copy.deepcopy(both))
    assert _ids(merged.graph).count("wait1") == 1


def test_wires_cut_here_are_cut_and_wires_added_there_stay() -> None:
    base = _base()
    ours = _edited(base, lambda g: g["edges"].pop(0))
    theirs = _edited(base, lambda g: g["edges"].append(_wire("manual1", "log1")))
    merged = merge(base, ours, theirs)
    assert merged.conflicts == []
    assert _wires(merged.graph) == {("send1", "next", "log1"), ("manual1", "next", "log1")}


def test_nothing_pending_takes_theirs_as_it_is() -> None:
    base = _base()
    theirs = _edited(base, _remove("send1"))
    assert merge(base, copy.deepcopy(base), theirs).graph == theirs


def test_merge_leaves_its_inputs_alone() -> None:
    base = _base()
    ours = _edited(base, _set("send1", "text", "ours"))
    theirs = _edited(base, _remove("log1"))
    copies = copy.deepcopy((base, ours, theirs))
    merged = merge(base, ours, theirs)
    for node in merged.graph["nodes"]:
        node["params"]["changed"] = "after"
    assert (base, ours, theirs) == copies

"""One edit of a flow graph as what it changed, so one person's edit can be undone among
others' edits.

A change records, per node, edge, param field and position, the value before and after.
Undoing it moves each of those back only where the graph still holds what the edit left:
a node someone else changed meanwhile keeps their value, a node they added stays, and a
node the edit added stays if someone changed or wired it since. Values
are stored as ``{"v": value}`` (absent: ``{}``) so the change is plain JSON, as the room's
state must be.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from engine.flow_merge import edit_key
from flowbot_ui.state.flow_graph import edge_id

Graph = dict[str, Any]
Change = dict[str, Any]


def _slot(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {"v": copy.deepcopy(mapping[key])} if key in mapping else {}


def _by_id(graph: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in graph.get("nodes", [])}


def _edges_by_id(graph: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {edge_id(e): e for e in graph.get("edges", [])}


def graph_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> Change:
    """What turned ``before`` into ``after``: nodes and edges added or removed, and each
    param field and position changed on a node both hold."""
    old, new = _by_id(before), _by_id(after)
    nodes = {
        i: [copy.deepcopy(old.get(i)), copy.deepcopy(new.get(i))] for i in old.keys() ^ new.keys()
    }
    fields: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for node_id in old.keys() & new.keys():
        was, now = old[node_id], new[node_id]
        was_params, now_params = was.get("params") or {}, now.get("params") or {}
        changed = {
            name: [_slot(was_params, name), _slot(now_params, name)]
            for name in was_params.keys() | now_params.keys()
            if was_params.get(name) != now_params.get(name)
            or (name in was_params) != (name in now_params)
        }
        if was.get("position") != now.get("position"):
            changed[""] = [_slot(was, "position"), _slot(now, "position")]  # "" never a param
        if changed:
            fields[node_id] = changed
    old_edges, new_edges = _edges_by_id(before), _edges_by_id(after)
    edges = {
        i: [copy.deepcopy(old_edges.get(i)), copy.deepcopy(new_edges.get(i))]
        for i in old_edges.keys() ^ new_edges.keys()
    }
    return {"nodes": nodes, "fields": fields, "edges": edges}


def moves_change(positions: Mapping[str, tuple[Any, Any]]) -> Change:
    """Nodes moved (id → position before, after), as :func:`graph_change` would find them
    without comparing the whole graph (a drag at 1,000 nodes stays cheap)."""
    fields = {
        node_id: {"": [{} if was is None else {"v": copy.deepcopy(was)}, {"v": copy.deepcopy(now)}]}
        for node_id, (was, now) in positions.items()
        if was != now
    }
    return {"nodes": {}, "fields": fields, "edges": {}}


def touched(change: Change) -> list[str]:
    """What the change touched, as ``flow_merge.edit_key``s (the room keeps who did)."""
    keys = [edit_key("added", node_id) for node_id in change["nodes"]]
    for node_id, fields in change["fields"].items():
        keys += [
            edit_key("moved", node_id) if name == "" else edit_key("changed", node_id, name)
            for name in fields
        ]
    for sides in change["edges"].values():
        wire = sides[0] or sides[1]
        keys.append(
            edit_key("connected", wire["source"], wire.get("sourceHandle") or "", wire["target"])
        )
    return keys


def is_empty(change: Change) -> bool:
    return not (change["nodes"] or change["fields"] or change["edges"])


def apply_change(graph: Graph, change: Change, *, undo: bool) -> bool:
    """Undo (or redo) ``change`` on ``graph`` where it still holds what the change left
    (or found); True if anything moved."""
    pick = (1, 0) if undo else (0, 1)
    moved, kept = _apply_nodes(graph, change, pick)
    moved = _apply_fields(graph, change["fields"], pick) or moved
    return _apply_edges(graph, change["edges"], pick, kept) or moved


def _apply_nodes(graph: Graph, change: Change, pick: tuple[int, int]) -> tuple[bool, set[str]]:
    """Nodes the change added (or removed) taken away (or put back); whether any moved, and
    the nodes it would take away but keeps: someone changed or wired them since (a paste
    undone keeps the pasted node Bob has since edited, with his edit)."""
    present = _by_id(graph)
    moved, kept = False, set()
    for node_id, sides in change["nodes"].items():
        source, target = sides[pick[0]], sides[pick[1]]
        if source is None and target is not None and node_id not in present:
            graph.setdefault("nodes", []).append(copy.deepcopy(target))
            moved = True
        elif source is not None and target is None and node_id in present:
            if present[node_id] != source or _wired_since(graph, change, node_id, pick):
                kept.add(node_id)
                continue
            graph["nodes"] = [n for n in graph.get("nodes", []) if n["id"] != node_id]
            graph["edges"] = [
                e for e in graph.get("edges", []) if node_id not in (e["source"], e["target"])
            ]
            moved = True
    return moved, kept


def _wired_since(graph: Graph, change: Change, node_id: str, pick: tuple[int, int]) -> bool:
    """Whether a wire of the node is not one the change left (someone connected it since)."""
    left = {key for key, sides in change["edges"].items() if sides[pick[0]] is not None}
    return any(
        edge_id(e) not in left
        for e in graph.get("edges", [])
        if node_id in (e["source"], e["target"])
    )


def _apply_fields(graph: Graph, fields: dict[str, Any], pick: tuple[int, int]) -> bool:
    present = _by_id(graph)
    moved = False
    for node_id, changed in fields.items():
        node = present.get(node_id)
        if node is None:
            continue
        params = dict(node.get("params") or {})
        for name, sides in changed.items():
            source, target = sides[pick[0]], sides[pick[1]]
            holder = node if name == "" else params
            key = "position" if name == "" else name
            if _slot(holder, key) != source:
                continue  # changed again since, by someone else: theirs stays
            if "v" in target:
                holder[key] = copy.deepcopy(target["v"])
            else:
                holder.pop(key, None)
            if name != "":
                node["params"] = params
            moved = True
    return moved


def _apply_edges(
    graph: Graph, edges: dict[str, list[Any]], pick: tuple[int, int], kept: set[str]
) -> bool:
    """Wires put back between nodes that exist, and taken away unless a node the change
    would have taken away is kept (it keeps its wires too)."""
    present = _edges_by_id(graph)
    nodes = _by_id(graph)
    moved = False
    for key, sides in edges.items():
        source, target = sides[pick[0]], sides[pick[1]]
        if source is None and target is not None and key not in present:
            if target["source"] in nodes and target["target"] in nodes:
                graph.setdefault("edges", []).append(copy.deepcopy(target))
                moved = True
        elif source is not None and target is None and key in present:
            if kept & {source["source"], source["target"]}:
                continue
            graph["edges"] = [e for e in graph.get("edges", []) if edge_id(e) != key]
            moved = True
    return moved

"""Three-way merge of a flow draft: the edits made here since the last save, replayed on a
draft saved elsewhere meanwhile.

``base`` is the draft as last loaded or saved here, ``ours`` the draft with the edits not
saved yet, ``theirs`` the draft saved elsewhere since. A node is a set of fields (each
param, its position, any other key), so an edit of one field never collides with an edit
of another: our move and their param edit both stay. Where both sides changed the same
field to different values, or one side removed a node the other changed (edited, moved,
connected), the merge lists a :class:`Conflict` and keeps theirs until told otherwise, so
nothing saved elsewhere is overwritten without a choice. The same edit lists
(:func:`edits`) name what a choice throws away, for the confirmation that asks first.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Graph = Mapping[str, Any]
Side = Literal["ours", "theirs"]
EditKind = Literal["added", "removed", "changed", "moved", "connected", "disconnected"]
EdgeKey = tuple[str, str, str]  # source, handle, target: what a wire connects

_ABSENT = object()
POSITION = "position"


@dataclass(frozen=True)
class Edit:
    """One edit of a draft, by what it touched: a node (its type, for naming it), a field
    of it ("changed": a param, or another key such as its label), or a wire."""

    kind: EditKind
    node_id: str
    node_type: str
    field: str = ""
    target_id: str = ""  # a wire's other end
    target_type: str = ""

    @property
    def key(self) -> str:
        """What it touched, whatever was done to it (see :func:`edit_key`)."""
        return edit_key(self.kind, self.node_id, self.field, self.target_id)


def edit_key(kind: EditKind, node_id: str, field: str = "", target_id: str = "") -> str:
    """The thing an edit touches: a node (added or removed), its position, one field, or a
    wire (``field`` is its handle). An editor keeps who last touched each by this key, to
    name whose edits a choice drops."""
    if kind in ("added", "removed"):
        return f"node:{node_id}"
    if kind == "moved":
        return f"move:{node_id}"
    if kind == "changed":
        return f"field:{node_id}/{field}"
    return f"wire:{node_id}/{field or 'next'}/{target_id}"


@dataclass(frozen=True)
class Conflict:
    """Both sides touched the same thing. ``key`` names it for the choice; ``field`` is
    empty when the whole node is at stake (removed on one side, changed on the other)."""

    key: str
    node_id: str
    node_type: str
    field: str
    ours: Any  # the value we set; for a node, whether we keep it
    theirs: Any
    removed_by: Side | None = None

    @property
    def ours_key(self) -> str:
        """The :func:`edit_key` of our side of it: the node's, its position's or the field's."""
        if not self.field:
            return edit_key("removed", self.node_id)
        if self.field == POSITION:
            return edit_key("moved", self.node_id)
        return edit_key("changed", self.node_id, self.field)


@dataclass
class Merge:
    graph: dict[str, Any]
    conflicts: list[Conflict] = field(default_factory=list)


def _nodes(graph: Graph) -> dict[str, dict[str, Any]]:
    return {str(n["id"]): n for n in graph.get("nodes") or []}


def edge_key(edge: Mapping[str, Any]) -> EdgeKey:
    return (str(edge["source"]), str(edge.get("sourceHandle") or "next"), str(edge["target"]))


def _edges(graph: Graph) -> dict[EdgeKey, dict[str, Any]]:
    return {edge_key(e): e for e in graph.get("edges") or []}


def _fields(node: Mapping[str, Any]) -> dict[str, Any]:
    """A node as its fields: each param by name, every other key (position, label, type)
    as ``@key``, so a param named like a key stays apart from it."""
    found = {f"@{k}": v for k, v in node.items() if k not in ("id", "params")}
    found.update((node.get("params") or {}).items())
    return found


def _changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    was, now = _fields(before), _fields(after)
    return sorted(k for k in was.keys() | now.keys() if was.get(k, _ABSENT) != now.get(k, _ABSENT))


def _set_field(node: dict[str, Any], name: str, value: Any) -> None:
    if name.startswith("@"):
        holder, key = node, name[1:]
    else:
        holder, key = node.setdefault("params", {}), name
    if value is _ABSENT:
        holder.pop(key, None)
    else:
        holder[key] = copy.deepcopy(value)


def _touching(keys: Iterable[EdgeKey], node_id: str) -> bool:
    return any(node_id in (source, target) for source, _, target in keys)


def edits(before: Graph, after: Graph) -> list[Edit]:
    """What turned ``before`` into ``after``, edit by edit: nodes added and removed, each
    field changed or position moved on a node both hold, wires connected and cut (the
    wires of a removed node go with it and are not named again)."""
    old, new = _nodes(before), _nodes(after)
    found = [Edit("added", i, str(new[i].get("type", ""))) for i in new if i not in old]
    found += [Edit("removed", i, str(old[i].get("type", ""))) for i in old if i not in new]
    for node_id in (i for i in new if i in old):
        node_type = str(new[node_id].get("type", ""))
        for name in _changed_fields(old[node_id], new[node_id]):
            if name == f"@{POSITION}":
                found.append(Edit("moved", node_id, node_type))
            else:
                found.append(Edit("changed", node_id, node_type, name.removeprefix("@")))
    either = {**old, **new}
    old_edges, new_edges = _edges(before), _edges(after)
    wires: list[tuple[EditKind, set[EdgeKey]]] = [
        ("connected", new_edges.keys() - old_edges.keys()),
        ("disconnected", old_edges.keys() - new_edges.keys()),
    ]
    for kind, keys in wires:
        for source, handle, target in sorted(keys):
            if kind == "disconnected" and (source not in new or target not in new):
                continue
            found.append(
                Edit(
                    kind,
                    source,
                    str(either[source].get("type", "")),
                    handle,
                    target,
                    str(either[target].get("type", "")),
                )
            )
    return found


def merge(
    base: Graph, ours: Graph, theirs: Graph, choices: Mapping[str, Side] | None = None
) -> Merge:
    """Our edits since ``base`` applied on ``theirs``; each conflict resolved as
    ``choices`` says (by its key), else in favour of theirs, and listed either way."""
    return _Merger(base, ours, theirs, choices or {}).run()


class _Merger:
    def __init__(self, base: Graph, ours: Graph, theirs: Graph, choices: Mapping[str, Side]):
        self.base, self.ours, self.theirs = _nodes(base), _nodes(ours), _nodes(theirs)
        self.base_edges, self.our_edges = _edges(base), _edges(ours)
        self.their_edges = _edges(theirs)
        self.choices = choices
        self.result: dict[str, Any] = copy.deepcopy(dict(theirs))
        self.result.setdefault("nodes", [])
        self.result.setdefault("edges", [])
        self.conflicts: list[Conflict] = []
        self.renamed: dict[str, str] = {}  # a node we added whose id they took meanwhile
        self.restored: set[str] = set()  # nodes they removed and we keep

    def run(self) -> Merge:
        self._added_nodes()
        self._removed_nodes()
        self._changed_nodes()
        self._wires()
        return Merge(self.result, self.conflicts)

    def _choose(self, conflict: Conflict) -> Side:
        self.conflicts.append(conflict)
        return self.choices.get(conflict.key, "theirs")

    def _node(self, node_id: str) -> dict[str, Any] | None:
        return next((n for n in self.result["nodes"] if str(n["id"]) == node_id), None)

    def _added_nodes(self) -> None:
        """Ours added: kept; under a new id when theirs added another node with the same."""
        taken = set(self.theirs) | set(self.ours)
        for node_id, node in self.ours.items():
            if node_id in self.base or self.theirs.get(node_id) == node:
                continue
            added = copy.deepcopy(node)
            if node_id in self.theirs:
                added["id"] = self.renamed[node_id] = _free_id(node_id, taken)
                taken.add(added["id"])
            self.result["nodes"].append(added)

    def _removed_nodes(self) -> None:
        """Ours removed: gone, unless theirs changed it or wired it meanwhile (a conflict)."""
        for node_id, node in self.base.items():
            if node_id in self.ours or node_id not in self.theirs:
                continue
            their_wires = self.their_edges.keys() - self.base_edges.keys()
            if self.theirs[node_id] != node or _touching(their_wires, node_id):
                conflict = Conflict(
                    f"node:{node_id}", node_id, str(node.get("type", "")), "", False, True, "ours"
                )
                if self._choose(conflict) == "theirs":
                    continue
            self._drop(node_id)

    def _changed_nodes(self) -> None:
        """Ours changed field by field: each applied where theirs still holds the base's
        value; a node theirs removed comes back only if we choose to keep it."""
        our_wires = self.our_edges.keys() - self.base_edges.keys()
        for node_id, node in self.ours.items():
            was = self.base.get(node_id)
            if was is None:
                continue
            changed = _changed_fields(was, node)
            if node_id not in self.theirs:
                if changed or _touching(our_wires, node_id):
                    conflict = Conflict(
                        f"node:{node_id}",
                        node_id,
                        str(node.get("type", "")),
                        "",
                        True,
                        False,
                        "theirs",
                    )
                    if self._choose(conflict) == "ours":
                        self.result["nodes"].append(copy.deepcopy(node))
                        self.restored.add(node_id)
                continue
            target = self._node(node_id)
            assert target is not None  # theirs holds it, and only ours' removals drop nodes
            base_fields, our_fields = _fields(was), _fields(node)
            their_fields = _fields(self.theirs[node_id])
            for name in changed:
                mine = our_fields.get(name, _ABSENT)
                theirs = their_fields.get(name, _ABSENT)
                if theirs == mine:
                    continue
                if theirs != base_fields.get(name, _ABSENT):
                    conflict = Conflict(
                        f"field:{node_id}/{name}",
                        node_id,
                        str(node.get("type", "")),
                        name.removeprefix("@"),
                        None if mine is _ABSENT else mine,
                        None if theirs is _ABSENT else theirs,
                    )
                    if self._choose(conflict) == "theirs":
                        continue
                _set_field(target, name, mine)

    def _wires(self) -> None:
        """Ours connected: added where both ends are in the result (with a renamed node's
        new id); a node we keep against their removal gets its wires back. Ours cut: cut."""
        present = {str(n["id"]) for n in self.result["nodes"]}
        wires = _edges(self.result)
        for key in self.base_edges.keys() - self.our_edges.keys():
            wires.pop(key, None)
        for key, edge in self.our_edges.items():
            source, handle, target = key
            new_wire = key not in self.base_edges
            if not (new_wire or source in self.restored or target in self.restored):
                continue
            source, target = self.renamed.get(source, source), self.renamed.get(target, target)
            moved_key = (source, handle, target)
            if source in present and target in present and moved_key not in wires:
                wire = copy.deepcopy(edge)
                wire.update(source=source, target=target)
                if moved_key != key:
                    wire.pop("id", None)  # its id named the old ends
                wires[moved_key] = wire
        self.result["edges"] = list(wires.values())

    def _drop(self, node_id: str) -> None:
        self.result["nodes"] = [n for n in self.result["nodes"] if str(n["id"]) != node_id]
        self.result["edges"] = [
            e for e in self.result["edges"] if node_id not in (e["source"], e["target"])
        ]


def _free_id(node_id: str, taken: set[str]) -> str:
    """``log2`` taken: ``log3`` (the next free number on the same stem)."""
    stem = node_id.rstrip("0123456789")
    number = int(node_id[len(stem) :] or 1)
    while f"{stem}{number}" in taken:
        number += 1
    return f"{stem}{number}"

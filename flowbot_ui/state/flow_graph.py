"""Pure helpers between the saved flow JSON, the node registry and the editor's widgets.

No Reflex here: the editor state calls these, and unit tests can too.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from engine.expressions import check_syntax
from engine.graph import Issue, output_handles
from engine.nodes import REGISTRY
from engine.nodes.base import PICKS_KEY, PLATFORM_LABELS, NodeType

CATEGORY_ORDER = ("trigger", "condition", "action", "advanced")
LAYER_GAP_X, ROW_GAP_Y = 300, 130
_ID_SAFE = re.compile(r"[^A-Za-z0-9]")


# --------------------------------------------------------------------------- palette


def palette_groups() -> list[dict[str, Any]]:
    """Node types grouped by category then platform, as the palette lists them."""
    groups: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for node_type in REGISTRY:
        category, platform = str(node_type.category), str(node_type.platform)
        groups[(category, platform)].append(
            {
                "id": node_type.id,
                "label": node_type.label,
                "description": node_type.description,
                "search": f"{node_type.label} {node_type.id} {node_type.description}".lower(),
            }
        )
    ordered = sorted(
        groups.items(), key=lambda item: (CATEGORY_ORDER.index(item[0][0]), item[0][1])
    )
    return [
        {
            "key": f"{category}-{platform}",
            "title": f"{category.title()}s · {PLATFORM_LABELS.get(platform, platform)}",
            "category": category,
            "items": sorted(items, key=lambda item: item["label"]),
        }
        for (category, platform), items in ordered
    ]


def filter_palette(groups: list[dict[str, Any]], search: str) -> list[dict[str, Any]]:
    needle = search.strip().lower()
    if not needle:
        return groups
    found = []
    for group in groups:
        items = [item for item in group["items"] if needle in item["search"]]
        if items:
            found.append({**group, "items": items})
    return found


# --------------------------------------------------------------------------- canvas


def _node_type(type_id: str) -> NodeType | None:
    return REGISTRY.get(type_id) if type_id in REGISTRY else None


def node_handles(node: Mapping[str, Any]) -> list[str]:
    node_type = _node_type(node.get("type", ""))
    return list(output_handles(node_type, node.get("params") or {})) if node_type else ["next"]


def canvas_node(node: Mapping[str, Any]) -> dict[str, Any]:
    node_type = _node_type(node.get("type", ""))
    position = node.get("position") or {}
    return {
        "id": node["id"],
        "type": "flowNode",
        "position": {"x": float(position.get("x", 0)), "y": float(position.get("y", 0))},
        "data": {
            "nodeId": node["id"],
            "typeId": node.get("type", ""),
            "label": node_type.label if node_type else _unregistered_label(node),
            "category": str(node_type.category) if node_type else "advanced",
            "platform": PLATFORM_LABELS.get(str(node_type.platform), "") if node_type else "",
            "handles": node_handles(node),
        },
    }


def _unregistered_label(node: Mapping[str, Any]) -> str:
    """A built-in flow's nodes (a community's rules) carry their own label; any other
    type missing from the registry is shown as unknown."""
    return str(node.get("label") or f"Unknown: {node.get('type')}")


def edge_id(edge: Mapping[str, Any]) -> str:
    return (
        edge.get("id") or f"{edge['source']}:{edge.get('sourceHandle') or 'next'}-{edge['target']}"
    )


def canvas_edge(edge: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": edge_id(edge),
        "source": edge["source"],
        "sourceHandle": edge.get("sourceHandle"),
        "target": edge["target"],
        "type": "smoothstep",
    }


def canvas_view(graph: Mapping[str, Any], key: Any, seq: int) -> dict[str, Any]:
    """The snapshot the canvas takes when ``key`` changes: React Flow nodes and edges, and
    the number of the last change it holds (later ones arrive as ``canvas_ops``)."""
    return {
        "key": key,
        "seq": seq,
        "nodes": [canvas_node(node) for node in graph.get("nodes", [])],
        "edges": [canvas_edge(edge) for edge in graph.get("edges", [])],
    }


def canvas_ops(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the canvas changes to show ``after`` instead of ``before``, as small operations
    (a node added, removed, moved, redrawn or only its params changed, a wire added or
    cut): an edit is sent as these, never as the whole canvas."""
    old = {n["id"]: n for n in before.get("nodes", [])}
    new = {n["id"]: n for n in after.get("nodes", [])}
    ops: list[dict[str, Any]] = [{"op": "remove", "id": i} for i in old if i not in new]
    for node_id, node in new.items():
        was = old.get(node_id)
        if was is None:
            ops.append({"op": "add", "node": canvas_node(node)})
        elif was != node:
            shown = canvas_node(node)
            if shown["position"] != canvas_node(was)["position"]:
                ops.append({"op": "move", "id": node_id, **shown["position"]})
            if shown["data"] != canvas_node(was)["data"]:
                ops.append({"op": "data", "id": node_id, "data": shown["data"]})
            elif {**was, "position": None} != {**node, "position": None}:
                ops.append({"op": "params", "id": node_id})  # not drawn: forms refresh
    old_edges = {edge_id(e): e for e in before.get("edges", [])}
    new_edges = {edge_id(e): e for e in after.get("edges", [])}
    ops += [{"op": "disconnect", "id": i} for i in old_edges if i not in new_edges]
    ops += [
        {"op": "connect", "edge": canvas_edge(e)}
        for i, e in new_edges.items()
        if i not in old_edges
    ]
    return ops


def new_node_id(graph: Mapping[str, Any], type_id: str) -> str:
    """A short readable id (``template2``): expressions read nodes as ``node.<id>``."""
    taken = {node["id"] for node in graph.get("nodes", [])}
    base = _ID_SAFE.sub("_", type_id)
    number = 1
    while f"{base}{number}" in taken:
        number += 1
    return f"{base}{number}"


def auto_layout(graph: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Layered layout: each node one column right of its furthest predecessor.

    Longest-path layering over the edges, ignoring edges that close a cycle (loops), then
    rows in input order; positions keyed by node id.
    """
    ids = [node["id"] for node in graph.get("nodes", [])]
    successors: dict[str, list[str]] = defaultdict(list)
    indegree = dict.fromkeys(ids, 0)
    for edge in graph.get("edges", []):
        if edge["source"] in indegree and edge["target"] in indegree:
            successors[edge["source"]].append(edge["target"])
            indegree[edge["target"]] += 1
    layer = dict.fromkeys(ids, 0)
    ready = [node_id for node_id in ids if indegree[node_id] == 0]
    seen: set[str] = set()
    while ready or len(seen) < len(ids):
        if not ready:  # only cycles remain: break one at its first node
            ready = [next(node_id for node_id in ids if node_id not in seen)]
        node_id = ready.pop(0)
        if node_id in seen:
            continue
        seen.add(node_id)
        for target in successors[node_id]:
            if target in seen:
                continue
            layer[target] = max(layer[target], layer[node_id] + 1)
            indegree[target] -= 1
            if indegree[target] <= 0:
                ready.append(target)
    rows: dict[int, int] = defaultdict(int)
    positions = {}
    for node_id in ids:
        column = layer[node_id]
        positions[node_id] = {
            "x": float(column * LAYER_GAP_X),
            "y": float(rows[column] * ROW_GAP_Y),
        }
        rows[column] += 1
    return positions


def first_errors(issues: Iterable[Issue]) -> dict[str, str]:
    """The first error per node: the badge on the canvas."""
    found: dict[str, str] = {}
    for issue in issues:
        if issue.severity == "error" and issue.node_id and issue.node_id not in found:
            found[issue.node_id] = issue.message
    return found


# --------------------------------------------------------------------------- property form


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow $ref and drop the ``null`` member of optional fields."""
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    options = [item for item in schema.get("anyOf", []) if item.get("type") != "null"]
    if len(options) == 1:
        merged = {**schema, **_resolve(options[0], defs)}
        merged.pop("anyOf", None)
        return merged
    return schema


def field_kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        return "select"
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return "number"
    if kind == "string":
        return "text"
    if kind == "array" and schema.get("items", {}).get("type") in ("string", "integer", "number"):
        return "list"
    extra = schema.get("additionalProperties")  # True for a free-form object
    if kind == "object" and isinstance(extra, Mapping) and extra.get("type") == "string":
        return "keyvalue"
    return "json"


def _as_text(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "checkbox":
        return "true" if value is True else "false" if value is False else str(value)
    if kind == "list" and isinstance(value, list):
        return "\n".join(str(item) for item in value)
    if kind == "keyvalue" and isinstance(value, Mapping):
        return "\n".join(f"{key}: {item}" for key, item in value.items())
    if kind in ("json", "list", "keyvalue"):
        return value if isinstance(value, str) else json.dumps(value, indent=2)
    return str(value)


def plain_label(name: str, picks: str) -> str:
    """What the form calls a param: its name in words ("Text contains"), without the "id"
    a picker hides ("chat_id" → "Chat", "community_ids" → "Communities")."""
    if picks in _PICKER_LABELS:
        return _PICKER_LABELS[picks]
    words = name.split("_")
    if picks and words[-1] in ("id", "ids"):
        plural = words.pop() == "ids"
        if plural:
            words[-1] = words[-1][:-1] + "ies" if words[-1].endswith("y") else words[-1] + "s"
    return " ".join(words).capitalize()


_PICKER_LABELS = {
    "connection": "Connection",
    "server": "Discord server",
    "voice_channel": "Voice channel",
}
_EMPTY_MEANS = re.compile(r"empty(?: means|:) (.+)$", re.IGNORECASE)


def unset_label(description: str) -> str:
    """The picker's "nothing picked" choice, in the words of the param's description
    ("…; empty: any chat" → "Any chat")."""
    found = _EMPTY_MEANS.search(description)
    meaning = found.group(1).rstrip(".") if found else "not set"
    return meaning[:1].upper() + meaning[1:]


def param_fields(
    type_id: str, params: Mapping[str, Any], issues: Iterable[Issue] = ()
) -> list[dict[str, Any]]:
    """The property form of a node, from its params model's JSON schema."""
    node_type = _node_type(type_id)
    if node_type is None:
        return []
    schema = node_type.params.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    problems = [issue.message for issue in issues]
    fields = []
    for name, raw in schema.get("properties", {}).items():
        prop = _resolve(raw, defs)
        kind = field_kind(prop)
        picks = str(prop.get(PICKS_KEY) or prop.get("items", {}).get(PICKS_KEY) or "")
        value = params.get(name, prop.get("default") if name not in params else None)
        examples = [e for e in prop.get("examples", []) if e is not None]
        options = [str(o) for o in prop.get("enum", [prop.get("const")] if "const" in prop else [])]
        fields.append(
            {
                "name": name,
                "label": plain_label(name, picks),
                "kind": kind,
                "description": prop.get("description", ""),
                "value": _as_text(kind, value),
                "options": options,
                "required": name in required,
                "placeholder": _as_text(kind, examples[0]) if examples else "",
                "error": next((p for p in problems if f"'{name}" in p), ""),
                "picks": picks,
            }
        )
    return fields


def field_name(node_type: str, name: str) -> str:
    """A param as its form names it ("Text"); another key (a position) as it is."""
    labels = {f["name"]: f["label"] for f in param_fields(node_type, {})}
    return labels.get(name, name.replace("_", " ").capitalize())


def field_text(type_id: str, params: Mapping[str, Any], name: str) -> str:
    """The text a param's form field shows for its current value (as ``param_fields``)."""
    return next((f["value"] for f in param_fields(type_id, params) if f["name"] == name), "")


def parse_field(type_id: str, name: str, text: str) -> tuple[bool, Any]:
    """The value a form field's text stands for; (False, None) means "leave it unset"."""
    node_type = _node_type(type_id)
    if node_type is None:
        return True, text
    schema = node_type.params.model_json_schema()
    prop = _resolve(schema.get("properties", {}).get(name, {}), schema.get("$defs", {}))
    kind = field_kind(prop)
    if kind == "checkbox":
        return True, text == "true"
    if text.strip() == "":
        return False, None
    if "{{" in text and kind in ("number", "select"):
        return True, text  # decided at run time
    if kind == "number":
        try:
            return True, int(text) if prop.get("type") == "integer" else float(text)
        except ValueError:
            return True, text  # validation reports it on the node
    if kind == "list":
        items: list[Any] = [line.strip() for line in text.splitlines() if line.strip()]
        if prop.get("items", {}).get("type") in ("integer", "number"):
            items = [int(i) if i.lstrip("-").isdigit() else i for i in items]
        return True, items
    if kind == "keyvalue":
        pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
        return True, {key.strip(): value.strip() for key, value in pairs}
    if kind == "json":
        try:
            return True, json.loads(text)
        except ValueError:
            return True, text
    return True, text


# --------------------------------------------------------------------------- suggestions


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHADOWED = frozenset(dir(dict))  # ``data.items`` would read the method, not the key


def _member(prefix: str, key: str) -> str:
    """``prefix.key``, or ``prefix['key']`` where a dot cannot read it (``content-type``)."""
    if _IDENTIFIER.match(key) and key not in _SHADOWED:
        return f"{prefix}.{key}"
    return f"{prefix}[{key!r}]"


def _paths(value: Any, prefix: str, depth: int = 0) -> list[str]:
    """The paths to the values an example event has: fields its platform leaves empty
    (a Telegram user's display name, a Discord user's first name) are not offered."""
    if not isinstance(value, Mapping) or depth > 2:
        return [prefix]
    found = [prefix] if depth else []
    for key, item in value.items():
        if key in ("raw", "event_id") or item in (None, [], {}):
            continue
        found += _paths(item, _member(prefix, str(key)), depth + 1)
    return found


def suggestions(graph: Mapping[str, Any], node_id: str) -> list[str]:
    """Expressions worth offering in a node's fields: the trigger's fields, upstream nodes,
    variables set upstream (so the list grows with the path, not the flow); each one
    compiles (the checker accepts what the form offers)."""
    nodes = {node["id"]: node for node in graph.get("nodes", [])}
    found: list[str] = []
    for node in nodes.values():
        node_type = _node_type(node.get("type", ""))
        if node_type and node_type.example_payload is not None:
            found += _paths(node_type.example_payload, "trigger")
    parents: dict[str, set[str]] = defaultdict(set)
    for edge in graph.get("edges", []):
        parents[edge["target"]].add(edge["source"])
    upstream, todo = set(), list(parents[node_id])
    while todo:
        current = todo.pop()
        if current not in upstream:
            upstream.add(current)
            todo += parents[current]
    for other in sorted(upstream):
        node_type = _node_type(nodes.get(other, {}).get("type", ""))
        if node_type is not None and node_type.category != "trigger":
            found.append(_member("node", other))
    for other in sorted(upstream):  # a variable is set only where its node ran before
        node = nodes.get(other, {})
        if node.get("type") == "set_variable" and (node.get("params") or {}).get("name"):
            found.append(_member("context", str(node["params"]["name"])))
    offered = ["{{ " + path + " }}" for path in dict.fromkeys(found)]
    return [text for text in offered if check_syntax(text) is None]

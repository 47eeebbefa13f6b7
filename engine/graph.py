"""Flow JSON (as the editor saves it) → a validated networkx graph for the executor.

Validation never stops at the first problem: the editor shows every issue at once, each
naming the node or edge it is about, and only flows without errors are published.
Warnings (unreachable nodes, references to nodes that do not run first) do not block.

The graph is a ``networkx.MultiDiGraph`` (a DiGraph subclass) keyed by output handle,
because one node may send two handles to the same target (a condition whose ``true``
and ``false`` both lead to the same node). Node attributes: ``type`` (the type id),
``params`` (as saved, expressions unrendered), ``node_type`` (the NodeType, None when
the type is unknown), ``position``. Edge attributes: ``handle``, ``id``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.expressions import check_syntax, has_expression, referenced_names

if TYPE_CHECKING:  # only for types: the graph needs no node catalogue loaded to import
    from engine.nodes.base import NodeRegistry, NodeType

LOOP_TYPE = "loop"
RUN_FLOW_TYPE = "run_flow"
RUN_FLOW_PARAM = "flow_id"
SWITCH_CASES_PARAM = "cases"
SWITCH_DEFAULT_HANDLE = "default"
PARALLEL_BRANCHES_PARAM = "branches"
_HANDLE_KEYS = ("handle", "name", "id", "label", "value")  # how a case or branch names itself
_NODE_REFERENCE = re.compile(r"node\.([^.\[]+)")

# --------------------------------------------------------------------------- the saved JSON


class Position(BaseModel):
    x: float = 0
    y: float = 0


class FlowNodeModel(BaseModel):
    # React Flow adds its own keys (width, selected, dragging...): ignore, do not fail.
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    position: Position = Field(default_factory=Position)

    @field_validator("params", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class FlowEdgeModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str | None = None
    source: str
    source_handle: str | None = Field(default=None, alias="sourceHandle")
    target: str


class FlowGraphModel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    nodes: list[FlowNodeModel] = Field(default_factory=list)
    edges: list[FlowEdgeModel] = Field(default_factory=list)


# --------------------------------------------------------------------------- results


class Issue(BaseModel):
    """One problem, attached to the node or edge the editor should highlight."""

    model_config = ConfigDict(frozen=True)

    severity: Literal["error", "warning"]
    code: str
    message: str
    node_id: str | None = None
    edge_id: str | None = None


@dataclass
class ValidatedFlow:
    graph: nx.MultiDiGraph[str]
    issues: list[Issue] = field(default_factory=list)
    trigger_id: str | None = None  # set when the flow has exactly one trigger

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def successors(self, node_id: str, handle: str = "next") -> list[str]:
        """The nodes the executor runs after node_id when its result selects handle."""
        return [
            target for _, target, key in self.graph.out_edges(node_id, keys=True) if key == handle
        ]


class FlowValidationError(ValueError):
    """A flow with errors was about to be published or run; lists every error."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        lines = "\n".join(f"- {issue.message}" for issue in issues)
        super().__init__(f"the flow has {len(issues)} error(s):\n{lines}")


# --------------------------------------------------------------------------- public API


def build_graph(
    flow_json: Mapping[str, Any] | str | bytes,
    registry: NodeRegistry,
    flow_exists: Callable[[int], bool] | None = None,
) -> ValidatedFlow:
    """Parse and validate a flow; problems are returned as issues, never raised.

    ``flow_exists`` answers whether a flow id exists, for ``run_flow`` nodes; without it
    the target flow is not checked.
    """
    try:
        if isinstance(flow_json, str | bytes):
            model = FlowGraphModel.model_validate_json(flow_json)
        else:
            model = FlowGraphModel.model_validate(flow_json)
    except ValidationError as exc:
        issues = [
            Issue(
                severity="error",
                code="malformed",
                message=f"the flow JSON is malformed at {_path(error['loc']) or 'the top'}: "
                f"{error['msg']}",
            )
            for error in exc.errors()
        ]
        return ValidatedFlow(nx.MultiDiGraph(), issues)
    return _Builder(registry, flow_exists).build(model)


def require_valid(
    flow_json: Mapping[str, Any] | str | bytes,
    registry: NodeRegistry,
    flow_exists: Callable[[int], bool] | None = None,
) -> ValidatedFlow:
    """build_graph, raising FlowValidationError when there is any error."""
    flow = build_graph(flow_json, registry, flow_exists)
    if not flow.ok:
        raise FlowValidationError(flow.errors)
    return flow


def output_handles(node_type: NodeType, params: Mapping[str, Any]) -> tuple[str, ...]:
    """The handles edges may leave a node from: declared ones, plus for dynamic types
    (switch, parallel) one per case or branch named in params; switch adds ``default``.

    A case or branch is a string, a number, or a dict naming itself under one of
    ``handle``, ``name``, ``id``, ``label`` or ``value``; a dict of cases uses its keys.
    """
    handles = list(node_type.handles)
    if node_type.dynamic_handles:
        for key in (SWITCH_CASES_PARAM, PARALLEL_BRANCHES_PARAM):
            handles.extend(_handle_names(params.get(key)))
        if SWITCH_CASES_PARAM in params or SWITCH_CASES_PARAM in node_type.params.model_fields:
            handles.append(SWITCH_DEFAULT_HANDLE)
    return tuple(dict.fromkeys(handles))


def _handle_names(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [str(key) for key in value]
    if not isinstance(value, list | tuple):
        return []
    names = []
    for item in value:
        if isinstance(item, Mapping):
            item = next((item[key] for key in _HANDLE_KEYS if item.get(key) is not None), None)
        if isinstance(item, str | int) and not isinstance(item, bool):
            names.append(str(item))
    return names


# --------------------------------------------------------------------------- validation


def _path(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """('items', 0, 'name') → 'items[0].name', as the property form labels fields."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _strings(value: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[str, str]]:
    """Every string inside params, with its field path."""
    if isinstance(value, str):
        yield _path(loc), value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*loc, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, (*loc, index))


def _decided_at_run_time(error: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """Whether a params error concerns a value holding an expression.

    Such a value is only known once rendered, so its type, range or pattern is checked
    by the executor, which validates the rendered params with the same model. We skip
    these errors rather than substitute a placeholder: no single placeholder satisfies
    every field (constrained ints, Literals, patterns, custom validators), while every
    pydantic error carries the location of the value that caused it. Missing fields and
    unknown fields are never excused: an expression cannot supply or remove a key.
    Union members add their own step to the location (``('chat_id', 'int')``), so the
    walk stops at the first step that is not in the data and judges the value reached;
    errors about the whole model are excused when any value holds an expression.
    """
    if error["type"] in ("missing", "extra_forbidden"):
        return False
    value: Any = params
    for key in error["loc"]:
        in_mapping = isinstance(value, Mapping) and key in value
        in_list = (
            isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value)
        )
        if not (in_mapping or in_list):
            break
        value = value[key]
    return any(has_expression(text) for _, text in _strings(value))


def _field_problem(error: Mapping[str, Any], node_type: NodeType) -> str:
    where = _path(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if not where:
        return message
    if error["type"] == "missing":
        return f"field '{where}' is required"
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(error["loc"][-1]), node_type.params.model_fields, n=1)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        return f"field '{where}' is not a parameter of this node{hint}"
    return f"field '{where}': {message}"


class _Builder:
    """One validation run: builds the graph and collects issues in the editor's order."""

    def __init__(self, registry: NodeRegistry, flow_exists: Callable[[int], bool] | None) -> None:
        self.registry = registry
        self.flow_exists = flow_exists
        self.graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        self.issues: list[Issue] = []

    def build(self, model: FlowGraphModel) -> ValidatedFlow:
        for node in model.nodes:
            self._add_node(node)
        for edge in model.edges:
            self._add_edge(edge)
        triggers = self._check_triggers()
        self._check_cycles()
        for node_id in self.graph:
            self._check_references(node_id)
        self._check_reachable(triggers)
        return ValidatedFlow(self.graph, self.issues, triggers[0] if len(triggers) == 1 else None)

    # -- helpers

    def _issue(
        self,
        severity: Literal["error", "warning"],
        code: str,
        message: str,
        node_id: str | None = None,
        edge_id: str | None = None,
    ) -> None:
        self.issues.append(
            Issue(severity=severity, code=code, message=message, node_id=node_id, edge_id=edge_id)
        )

    def _name(self, node_id: str) -> str:
        node_type = self.graph.nodes[node_id]["node_type"]
        return f"node '{node_id}' ({node_type.label})" if node_type else f"node '{node_id}'"

    def _type(self, node_id: str) -> NodeType | None:
        return cast("NodeType | None", self.graph.nodes[node_id]["node_type"])

    def _is_trigger(self, node_id: str) -> bool:
        node_type = self._type(node_id)
        return node_type is not None and node_type.category == "trigger"

    # -- nodes

    def _add_node(self, node: FlowNodeModel) -> None:
        if node.id in self.graph:
            message = f"node id '{node.id}' is used by more than one node; ids must be unique"
            self._issue("error", "duplicate_node", message, node.id)
            return
        node_type = self.registry.get(node.type) if node.type in self.registry else None
        self.graph.add_node(
            node.id,
            type=node.type,
            params=node.params,
            node_type=node_type,
            position=node.position.model_dump(),
        )
        if node_type is None:
            close = difflib.get_close_matches(node.type, sorted(self.registry.ids()), n=3)
            hint = " — did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else ""
            message = f"node '{node.id}': unknown node type '{node.type}'{hint}"
            self._issue("error", "unknown_type", message, node.id)
            return
        self._check_params(node.id, node_type, node.params)
        self._check_expressions(node.id, node.params)
        if node.type == RUN_FLOW_TYPE:
            self._check_run_flow(node.id, node.params)

    def _check_params(self, node_id: str, node_type: NodeType, params: dict[str, Any]) -> None:
        try:
            node_type.params.model_validate(params)
        except ValidationError as exc:
            for error in exc.errors():
                if not _decided_at_run_time(error, params):
                    message = f"{self._name(node_id)}: {_field_problem(error, node_type)}"
                    self._issue("error", "invalid_param", message, node_id)

    def _check_expressions(self, node_id: str, params: dict[str, Any]) -> None:
        for where, text in _strings(params):
            problem = check_syntax(text, self._template_names(node_id, where))
            if problem:
                shown = text if len(text) <= 80 else text[:79] + "…"
                message = (
                    f"{self._name(node_id)}: field '{where}' has an invalid expression "
                    f"{shown!r}: {problem}"
                )
                self._issue("error", "bad_expression", message, node_id)

    def _template_names(self, node_id: str, where: str) -> tuple[str, ...]:
        """The extra names a field's templates read when its node renders them itself
        (``text`` in a cross-post format; see NodeParams.template_fields)."""
        node_type = self.graph.nodes[node_id].get("node_type")
        if node_type is None:
            return ()
        field_name = re.split(r"[.\[]", where, maxsplit=1)[0]
        return tuple(node_type.params.template_fields.get(field_name, ()))

    def _check_run_flow(self, node_id: str, params: dict[str, Any]) -> None:
        value = params.get(RUN_FLOW_PARAM)
        if self.flow_exists is None or value is None or isinstance(value, bool):
            return
        if has_expression(value):
            return  # chosen at run time; the executor checks it then
        try:
            flow_id = int(value)
        except (TypeError, ValueError):
            return  # a type error, reported by the params check
        if not self.flow_exists(flow_id):
            message = f"{self._name(node_id)}: flow {flow_id} does not exist (was it deleted?)"
            self._issue("error", "missing_flow", message, node_id)

    # -- edges

    def _add_edge(self, edge: FlowEdgeModel) -> None:
        label = f"edge '{edge.id}'" if edge.id else f"the edge {edge.source} → {edge.target}"
        known = [end for end in (edge.source, edge.target) if end in self.graph]
        for end, role in ((edge.source, "from"), (edge.target, "to")):
            if end not in self.graph:
                message = f"{label} leads {role} node '{end}', which is not in the flow"
                code = "unknown_source" if role == "from" else "unknown_target"
                self._issue("error", code, message, known[0] if known else None, edge.id)
        if len(known) < 2:
            return
        handle = self._handle(edge, label)
        if handle is None:
            return
        if self._is_trigger(edge.target):
            message = f"{label} leads into {self._name(edge.target)}; a trigger cannot have inputs"
            self._issue("error", "edge_into_trigger", message, edge.target, edge.id)
        self.graph.add_edge(edge.source, edge.target, key=handle, handle=handle, id=edge.id)

    def _handle(self, edge: FlowEdgeModel, label: str) -> str | None:
        """The edge's handle, checked against the source's outputs (None when unusable)."""
        node_type = self._type(edge.source)
        if node_type is None:  # already reported as unknown; keep the edge for other checks
            return edge.source_handle or "next"
        allowed = output_handles(node_type, self.graph.nodes[edge.source]["params"])
        name = self._name(edge.source)
        if edge.source_handle is None:
            if len(allowed) == 1:
                return allowed[0]
            outputs = ", ".join(allowed) or "none"
            message = f"{label} leaves {name} without choosing an output ({outputs})"
            self._issue("error", "missing_handle", message, edge.source, edge.id)
            return None
        if edge.source_handle not in allowed:
            outputs = ", ".join(f"'{h}'" for h in allowed) or "none"
            message = (
                f"{label}: {name} has no output '{edge.source_handle}' (its outputs: {outputs})"
            )
            self._issue("error", "unknown_handle", message, edge.source, edge.id)
        return edge.source_handle

    # -- whole-graph checks

    def _check_triggers(self) -> list[str]:
        triggers = [node_id for node_id in self.graph if self._is_trigger(node_id)]
        if not self.graph:
            self._issue("error", "no_trigger", "the flow is empty; add a trigger to start it")
        elif not triggers:
            self._issue("error", "no_trigger", "the flow has no trigger; add one to start it")
        elif len(triggers) > 1:
            listed = ", ".join(f"'{t}'" for t in triggers)
            for node_id in triggers:
                message = (
                    f"{self._name(node_id)}: a flow has exactly one trigger, "
                    f"this one has {len(triggers)} ({listed})"
                )
                self._issue("error", "several_triggers", message, node_id)
        return triggers

    def _check_cycles(self) -> None:
        """Every cycle must pass through a loop node: without one, nothing ends it."""
        order = {node_id: index for index, node_id in enumerate(self.graph)}
        without_loops = self.graph.subgraph(
            n for n, data in self.graph.nodes(data=True) if data["type"] != LOOP_TYPE
        )
        for component in nx.strongly_connected_components(without_loops):
            first = min(component, key=order.__getitem__)
            if len(component) == 1 and not without_loops.has_edge(first, first):
                continue
            members = ", ".join(f"'{n}'" for n in sorted(component, key=order.__getitem__))
            message = (
                f"{self._name(first)}: nodes {members} form a cycle without a loop node; "
                "only a loop node may lead back to earlier steps"
            )
            self._issue("error", "cycle", message, first)

    def _check_references(self, node_id: str) -> None:
        """Warn when an expression reads a node that is missing or does not run first."""
        upstream: set[str] | None = None  # computed on the first reference
        for where, text in _strings(self.graph.nodes[node_id]["params"]):
            names = self._template_names(node_id, where)
            if check_syntax(text, names) is not None:
                continue  # reported as a bad expression
            for path in sorted(referenced_names(text, names)):
                match = _NODE_REFERENCE.match(path)
                if not match or match.group(1) == node_id:
                    continue
                other = match.group(1)
                prefix = f"{self._name(node_id)}: field '{where}' reads node.{other}"
                if other not in self.graph:
                    close = difflib.get_close_matches(other, list(self.graph), n=1)
                    hint = f" — did you mean '{close[0]}'?" if close else ""
                    message = f"{prefix}, but the flow has no node '{other}'{hint}"
                    self._issue("warning", "unknown_reference", message, node_id)
                    continue
                if upstream is None:
                    upstream = nx.ancestors(self.graph, node_id)
                if other not in upstream:
                    message = f"{prefix}, which does not run before it, so the value is empty"
                    self._issue("warning", "reference_not_upstream", message, node_id)

    def _check_reachable(self, triggers: list[str]) -> None:
        if not triggers:
            return  # already an error; every node would be reported otherwise
        reached = set(triggers)
        for trigger in triggers:
            reached |= nx.descendants(self.graph, trigger)
        for node_id in self.graph:
            if node_id not in reached:
                message = f"{self._name(node_id)} is not connected to the trigger, so it never runs"
                self._issue("warning", "unreachable", message, node_id)

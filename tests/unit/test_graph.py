"""Flow JSON → validated graph: every validation problem, named by node, and a valid flow.

The registry is built here from a few declarations, so these tests do not depend on the
node catalogue.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import networkx as nx
import pytest
from pydantic import Field

from engine.graph import (
    FlowValidationError,
    Issue,
    ValidatedFlow,
    build_graph,
    output_handles,
    require_valid,
)
from engine.nodes.base import (
    NodeCategory,
    NodeParams,
    NodePlatform,
    NodeRegistry,
    NodeResult,
    NodeType,
)


async def _noop(ctx: Any, params: Any) -> NodeResult:
    return NodeResult()


class SendParams(NodeParams):
    chat_id: str
    text: str = ""
    count: int = 1
    mode: Literal["plain", "html"] = "plain"
    buttons: list[int] = Field(default_factory=list)


class SwitchParams(NodeParams):
    value: str
    cases: list[str]


class ParallelParams(NodeParams):
    branches: list[str]


class LoopParams(NodeParams):
    items: str


class RunFlowParams(NodeParams):
    flow_id: int = Field(gt=0)


def _registry() -> NodeRegistry:
    registry = NodeRegistry()

    def add(type_id: str, label: str, category: NodeCategory, **kwargs: Any) -> None:
        registry.add(NodeType(type_id, label, label, category, **kwargs))

    trigger = {"platform": NodePlatform.general, "example_payload": {"text": "hi"}}
    control = {"platform": NodePlatform.flow}
    add("tg_message", "Any message", NodeCategory.trigger, **trigger)
    add("manual", "Manual run", NodeCategory.trigger, **trigger)
    add(
        "text_contains",
        "Text contains",
        NodeCategory.condition,
        platform=NodePlatform.general,
        handles=("true", "false"),
        run=_noop,
    )
    add(
        "tg_send_message",
        "Send message",
        NodeCategory.action,
        platform=NodePlatform.telegram_bot,
        params=SendParams,
        action="send_message",
    )
    add(
        "switch",
        "Switch",
        NodeCategory.advanced,
        params=SwitchParams,
        handles=("default",),
        dynamic_handles=True,
        **control,
    )
    add(
        "parallel",
        "Parallel",
        NodeCategory.advanced,
        params=ParallelParams,
        handles=(),
        dynamic_handles=True,
        **control,
    )
    add(
        "loop",
        "Loop",
        NodeCategory.advanced,
        params=LoopParams,
        handles=("item", "done"),
        **control,
    )
    add("run_flow", "Run flow", NodeCategory.advanced, params=RunFlowParams, **control)
    add("stop", "Stop", NodeCategory.advanced, handles=(), **control)
    return registry


REGISTRY = _registry()


def node(node_id: str, type_id: str, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_id, "params": params, "position": {"x": 0, "y": 0}}


def edge(source: str, target: str, handle: str | None = "next") -> dict[str, Any]:
    return {"id": f"{source}-{target}", "source": source, "sourceHandle": handle, "target": target}


def send(node_id: str, **params: Any) -> dict[str, Any]:
    return node(node_id, "tg_send_message", **{"chat_id": "{{ trigger.chat.id }}", **params})


def flow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodes": nodes, "edges": edges}


def check(data: Any, **kwargs: Any) -> ValidatedFlow:
    return build_graph(data, REGISTRY, **kwargs)


def only(flow_: ValidatedFlow, code: str) -> list[Issue]:
    return [issue for issue in flow_.issues if issue.code == code]


def codes(flow_: ValidatedFlow) -> list[str]:
    return [issue.code for issue in flow_.issues]


VALID = flow(
    [
        node("start", "tg_message"),
        node("has_hi", "text_contains"),
        send("greet", text="Hi {{ trigger.user.first_name }}", count="{{ context.n }}"),
        node("route", "switch", value="{{ trigger.command }}", cases=["help", "rules"]),
        send("help", text="Help", mode="{{ context.mode }}"),
        send("rules", text="Rules: {{ node.greet.message_id }}"),
        node("each", "loop", items="{{ trigger.args }}"),
        send("item", text="{{ context.item }}", buttons=["{{ context.n }}", 2]),
        node("sub", "run_flow", flow_id=7),
        node("end", "stop"),
    ],
    [
        edge("start", "has_hi"),
        edge("has_hi", "greet", "true"),
        edge("has_hi", "route", "false"),
        edge("greet", "route"),
        edge("route", "help", "help"),
        edge("route", "rules", "rules"),
        edge("route", "each", "default"),
        edge("each", "item", "item"),
        edge("item", "each"),  # back to the loop: the one cycle allowed
        edge("each", "sub", "done"),
        edge("sub", "end"),
    ],
)


def test_a_valid_flow_builds_a_graph() -> None:
    result = check(VALID, flow_exists=lambda flow_id: flow_id == 7)
    assert result.issues == []
    assert result.ok
    assert result.trigger_id == "start"
    graph = result.graph
    assert isinstance(graph, nx.DiGraph)
    assert graph.nodes["greet"]["type"] == "tg_send_message"
    assert graph.nodes["greet"]["node_type"] is REGISTRY.get("tg_send_message")
    assert graph.nodes["greet"]["params"]["count"] == "{{ context.n }}"  # unrendered
    assert graph.edges["has_hi", "greet", "true"]["handle"] == "true"
    assert result.successors("has_hi", "true") == ["greet"]
    assert result.successors("has_hi", "false") == ["route"]
    assert result.successors("route", "default") == ["each"]
    assert result.successors("each", "item") == ["item"]
    assert result.successors("end") == []


def test_json_text_is_accepted_too() -> None:
    assert check(json.dumps(VALID)).ok


def test_both_handles_of_a_condition_may_lead_to_one_node() -> None:
    result = check(
        flow(
            [node("t", "tg_message"), node("c", "text_contains"), send("s")],
            [edge("t", "c"), edge("c", "s", "true"), edge("c", "s", "false")],
        )
    )
    assert result.ok
    assert result.successors("c", "true") == result.successors("c", "false") == ["s"]


def test_an_edge_without_a_handle_uses_the_only_output() -> None:
    result = check(flow([node("t", "tg_message"), send("s")], [edge("t", "s", None)]))
    assert result.ok
    assert result.successors("t", "next") == ["s"]


# --- nodes --------------------------------------------------------------------------------------


def test_unknown_type_suggests_close_ids() -> None:
    result = check(flow([node("t", "tg_message"), node("s", "tg_send_mesage")], [edge("t", "s")]))
    [issue] = only(result, "unknown_type")
    assert issue.severity == "error" and issue.node_id == "s"
    assert issue.message == (
        "node 's': unknown node type 'tg_send_mesage' — did you mean 'tg_send_message' or "
        "'tg_message'?"
    )
    assert not result.ok


def test_missing_required_param_names_node_and_field() -> None:
    result = check(
        flow([node("t", "tg_message"), node("send1", "tg_send_message")], [edge("t", "send1")])
    )
    [issue] = result.issues
    assert issue.code == "invalid_param" and issue.node_id == "send1"
    assert issue.message == "node 'send1' (Send message): field 'chat_id' is required"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"count": "many"}, "field 'count': input should be a valid integer"),
        ({"mode": "markdown"}, "field 'mode': input should be 'plain' or 'html'"),
        ({"buttons": [1, "x"]}, "field 'buttons[1]': input should be a valid integer"),
        ({"txt": "hi"}, "field 'txt' is not a parameter of this node — did you mean 'text'?"),
    ],
)
def test_invalid_params_are_reported_per_field(params: dict[str, Any], message: str) -> None:
    result = check(flow([node("t", "tg_message"), send("s", **params)], [edge("t", "s")]))
    [issue] = result.issues
    assert issue.code == "invalid_param"
    assert issue.message.startswith(f"node 's' (Send message): {message}")


@pytest.mark.parametrize(
    "params",
    [
        {"count": "{{ trigger.count }}"},
        {"count": "{{ trigger.a }}{{ trigger.b }}"},
        {"mode": "{{ context.mode }}"},
        {"buttons": "{{ trigger.args }}"},
        {"buttons": ["{{ trigger.args[0] }}", 2]},
    ],
)
def test_params_holding_expressions_are_judged_at_run_time(params: dict[str, Any]) -> None:
    result = check(flow([node("t", "tg_message"), send("s", **params)], [edge("t", "s")]))
    assert result.issues == []


def test_each_field_error_is_its_own_issue() -> None:
    result = check(
        flow([node("t", "tg_message"), node("s", "tg_send_message", count="x")], [edge("t", "s")])
    )
    assert [issue.message for issue in result.issues] == [
        "node 's' (Send message): field 'chat_id' is required",
        "node 's' (Send message): field 'count': input should be a valid integer, "
        "unable to parse string as an integer",
    ]


def test_duplicate_node_ids() -> None:
    result = check(
        flow([node("t", "tg_message"), send("s"), send("s", text="again")], [edge("t", "s")])
    )
    [issue] = result.issues
    assert issue.code == "duplicate_node" and issue.node_id == "s"
    assert "'s'" in issue.message and "unique" in issue.message


def test_bad_expressions_are_errors_that_quote_the_expression() -> None:
    result = check(
        flow(
            [
                node("t", "tg_message"),
                send("s", text="Hi {{ trigger.user.name ", chat_id="{{ trgger.x }}"),
            ],
            [edge("t", "s")],
        )
    )
    issues = only(result, "bad_expression")
    assert [issue.node_id for issue in issues] == ["s", "s"]
    assert issues[0].message.startswith(
        "node 's' (Send message): field 'chat_id' has an invalid expression '{{ trgger.x }}': "
        "unknown variable 'trgger' — did you mean 'trigger'?"
    )
    assert "field 'text' has an invalid expression 'Hi {{ trigger.user.name '" in issues[1].message


def test_expressions_nested_in_lists_and_dicts_are_checked() -> None:
    result = check(
        flow(
            [node("t", "tg_message"), node("r", "run_flow", flow_id=3, input={"a": ["{{ 1 + }}"]})],
            [edge("t", "r")],
        )
    )
    issues = only(result, "bad_expression")
    assert len(issues) == 1 and "field 'input.a[0]'" in issues[0].message
    # RunFlowParams has no "input" field: that is reported as well, separately.
    assert only(result, "invalid_param")


# --- triggers -----------------------------------------------------------------------------------


def test_no_trigger() -> None:
    result = check(flow([send("s")], []))
    [issue] = result.issues
    assert issue.code == "no_trigger" and issue.severity == "error"
    assert result.trigger_id is None


def test_empty_flow() -> None:
    result = check(flow([], []))
    assert codes(result) == ["no_trigger"]


def test_several_triggers_name_each_trigger() -> None:
    result = check(
        flow(
            [node("t1", "tg_message"), node("t2", "manual"), send("s")],
            [edge("t1", "s"), edge("t2", "s")],
        )
    )
    issues = only(result, "several_triggers")
    assert [issue.node_id for issue in issues] == ["t1", "t2"]
    assert issues[1].message == (
        "node 't2' (Manual run): a flow has exactly one trigger, this one has 2 ('t1', 't2')"
    )
    assert result.trigger_id is None


def test_an_edge_into_a_trigger_is_an_error() -> None:
    result = check(flow([node("t", "tg_message"), send("s")], [edge("t", "s"), edge("s", "t")]))
    [issue] = only(result, "edge_into_trigger")
    assert issue.node_id == "t" and issue.edge_id == "s-t"
    assert "node 't' (Any message)" in issue.message


# --- edges and handles --------------------------------------------------------------------------


def test_edge_from_a_handle_the_source_lacks() -> None:
    result = check(
        flow(
            [node("t", "tg_message"), node("c", "text_contains"), send("s")],
            [edge("t", "c"), edge("c", "s", "maybe")],
        )
    )
    [issue] = result.issues
    assert issue.code == "unknown_handle" and issue.node_id == "c" and issue.edge_id == "c-s"
    assert issue.message == (
        "edge 'c-s': node 'c' (Text contains) has no output 'maybe' (its outputs: 'true', 'false')"
    )


def test_edge_without_a_handle_from_a_node_with_several_outputs() -> None:
    result = check(
        flow(
            [node("t", "tg_message"), node("c", "text_contains"), send("s")],
            [edge("t", "c"), edge("c", "s", None)],
        )
    )
    assert codes(result) == ["missing_handle", "unreachable"]
    assert "node 'c' (Text contains) without choosing an output" in result.issues[0].message


def test_switch_handles_come_from_its_cases_plus_default() -> None:
    switch = node("sw", "switch", value="{{ trigger.command }}", cases=["help", "ban"])
    assert output_handles(REGISTRY.get("switch"), switch["params"]) == ("default", "help", "ban")
    result = check(
        flow(
            [node("t", "tg_message"), switch, send("a"), send("b"), send("c"), send("d")],
            [
                edge("t", "sw"),
                edge("sw", "a", "help"),
                edge("sw", "b", "ban"),
                edge("sw", "c", "default"),
                edge("sw", "d", "kick"),
            ],
        )
    )
    [issue] = result.issues
    assert issue.code == "unknown_handle" and issue.node_id == "sw"
    assert "has no output 'kick' (its outputs: 'default', 'help', 'ban')" in issue.message


def test_parallel_handles_come_from_its_branches() -> None:
    fork = node("p", "parallel", branches=["notify", "log"])
    assert output_handles(REGISTRY.get("parallel"), fork["params"]) == ("notify", "log")
    result = check(
        flow(
            [node("t", "tg_message"), fork, send("a"), send("b")],
            [edge("t", "p"), edge("p", "a", "notify"), edge("p", "b", "next")],
        )
    )
    assert codes(result) == ["unknown_handle"]


def test_handles_from_cases_written_as_objects() -> None:
    switch = REGISTRY.get("switch")
    assert output_handles(switch, {"cases": [{"value": "a"}, {"name": "b"}, 3, True]}) == (
        "default",
        "a",
        "b",
        "3",
    )
    assert output_handles(switch, {"cases": {"x": 1}}) == ("default", "x")


def test_edges_to_and_from_unknown_nodes() -> None:
    result = check(
        flow(
            [node("t", "tg_message"), send("s")],
            [edge("t", "s"), edge("t", "ghost"), edge("phantom", "s")],
        )
    )
    target, source = only(result, "unknown_target"), only(result, "unknown_source")
    assert target[0].edge_id == "t-ghost" and target[0].node_id == "t"
    assert "node 'ghost', which is not in the flow" in target[0].message
    assert source[0].edge_id == "phantom-s" and source[0].node_id == "s"
    assert "node 'phantom'" in source[0].message
    assert not result.ok


# --- cycles -------------------------------------------------------------------------------------


def test_a_cycle_without_a_loop_node_is_an_error() -> None:
    result = check(
        flow(
            [node("t", "tg_message"), send("a"), send("b"), send("c")],
            [edge("t", "a"), edge("a", "b"), edge("b", "c"), edge("c", "a")],
        )
    )
    [issue] = result.issues
    assert issue.code == "cycle" and issue.node_id == "a"
    assert issue.message == (
        "node 'a' (Send message): nodes 'a', 'b', 'c' form a cycle without a loop node; "
        "only a loop node may lead back to earlier steps"
    )


def test_a_node_leading_to_itself_is_a_cycle() -> None:
    result = check(flow([node("t", "tg_message"), send("a")], [edge("t", "a"), edge("a", "a")]))
    assert codes(result) == ["cycle"]


def test_every_cycle_must_contain_a_loop_node() -> None:
    # a → loop → b → a contains the loop; b → c → b (inside the body) does not.
    result = check(
        flow(
            [
                node("t", "tg_message"),
                node("l", "loop", items="{{ trigger.args }}"),
                send("b"),
                send("c"),
            ],
            [
                edge("t", "l"),
                edge("l", "b", "item"),
                edge("b", "l"),
                edge("b", "c"),
                edge("c", "b"),
            ],
        )
    )
    [issue] = result.issues
    assert issue.code == "cycle" and "nodes 'b', 'c'" in issue.message


# --- run_flow -----------------------------------------------------------------------------------


def _run_flow(flow_id: Any, **kwargs: Any) -> ValidatedFlow:
    return check(
        flow(
            [node("t", "tg_message"), node("sub", "run_flow", flow_id=flow_id)], [edge("t", "sub")]
        ),
        **kwargs,
    )


def test_run_flow_to_a_missing_flow() -> None:
    result = _run_flow(99, flow_exists=lambda flow_id: flow_id == 7)
    [issue] = result.issues
    assert issue.code == "missing_flow" and issue.node_id == "sub"
    assert issue.message.startswith("node 'sub' (Run flow): flow 99 does not exist")


def test_run_flow_targets_are_checked_only_when_they_can_be() -> None:
    never = {"flow_exists": lambda flow_id: False}
    assert _run_flow(7, flow_exists=lambda flow_id: flow_id == 7).ok
    assert _run_flow(99).ok  # no callback: not checked
    assert _run_flow("{{ trigger.data.flow }}", **never).ok  # chosen at run time
    assert codes(_run_flow("seven", **never)) == ["invalid_param"]


# --- warnings -----------------------------------------------------------------------------------


def test_unreachable_nodes_are_warnings() -> None:
    result = check(flow([node("t", "tg_message"), send("a"), send("island")], [edge("t", "a")]))
    [issue] = result.issues
    assert issue.severity == "warning" and issue.code == "unreachable" and issue.node_id == "island"
    assert issue.message == (
        "node 'island' (Send message) is not connected to the trigger, so it never runs"
    )
    assert result.ok and result.warnings == [issue] and result.errors == []


def test_references_to_missing_or_later_nodes_are_warnings() -> None:
    result = check(
        flow(
            [
                node("t", "tg_message"),
                send("a", text="{{ node.b.message_id }} {{ node.sendd.x }}"),
                send("b"),
                send("send", text="{{ node.a.message_id }}"),
            ],
            [edge("t", "a"), edge("a", "b"), edge("b", "send")],
        )
    )
    assert codes(result) == ["reference_not_upstream", "unknown_reference"]
    later, missing = result.issues
    assert later.node_id == "a" and "reads node.b, which does not run before it" in later.message
    assert missing.message == (
        "node 'a' (Send message): field 'text' reads node.sendd, but the flow has no node "
        "'sendd' — did you mean 'send'?"
    )
    assert result.ok


# --- malformed input and require_valid ----------------------------------------------------------


def test_malformed_json_is_an_issue_not_an_exception() -> None:
    result = check({"nodes": [{"type": "tg_message"}], "edges": [{"source": "a"}]})
    assert codes(result) == ["malformed", "malformed"]
    assert result.issues[0].message == "the flow JSON is malformed at nodes[0].id: Field required"
    assert "edges[0].target" in result.issues[1].message
    assert codes(check("{not json")) == ["malformed"]


def test_editor_extras_are_ignored() -> None:
    data = flow(
        [
            {**node("t", "tg_message"), "width": 200, "selected": True},
            {**send("s"), "params": None},
        ],
        [{**edge("t", "s"), "animated": True}],
    )
    data["nodes"][1]["params"] = {"chat_id": "1"}
    assert check(data).ok
    data["nodes"][1]["params"] = None
    assert codes(check(data)) == ["invalid_param"]  # null params: chat_id is still required


def test_require_valid_lists_every_error() -> None:
    assert require_valid(VALID, REGISTRY).trigger_id == "start"
    bad = flow(
        [node("t", "tg_message"), node("send1", "tg_send_message"), node("x", "nope")],
        [edge("t", "send1"), edge("send1", "x")],
    )
    with pytest.raises(FlowValidationError) as caught:
        require_valid(bad, REGISTRY)
    error = caught.value
    assert isinstance(error, ValueError)
    assert [issue.code for issue in error.issues] == ["invalid_param", "unknown_type"]
    assert "node 'send1' (Send message): field 'chat_id' is required" in str(error)
    assert "unknown node type 'nope'" in str(error)

"""The editor's pure helpers: canvas snapshot, palette, property form, layout, re-run."""

from __future__ import annotations

import copy

import pytest
from sqlmodel import Session, select

from engine.models import (
    AdminUser,
    ExecutionStatus,
    FlowExecution,
    FlowExecutionStep,
    Role,
    StepStatus,
)
from engine.rerun import RerunError, seed_rerun
from engine.runtime import run_execution
from engine.services import flows
from flowbot_ui.state.flow_graph import (
    auto_layout,
    canvas_ops,
    canvas_view,
    filter_palette,
    new_node_id,
    palette_groups,
    param_fields,
    parse_field,
    suggestions,
)

GRAPH = {
    "nodes": [
        {"id": "manual1", "type": "manual", "params": {}},
        {"id": "switch1", "type": "switch", "params": {"value": "x", "cases": ["a", "b"]}},
        {"id": "var1", "type": "set_variable", "params": {"name": "greeting", "value": 1}},
        {"id": "log1", "type": "log", "params": {"message": "hi"}},
    ],
    "edges": [
        {"source": "manual1", "target": "switch1"},
        {"source": "switch1", "sourceHandle": "a", "target": "var1"},
        {"source": "var1", "target": "log1"},
    ],
}


def test_canvas_view_has_labelled_handles_per_type() -> None:
    view = canvas_view(GRAPH, key=3, seq=7)
    assert view["key"] == 3 and view["seq"] == 7
    nodes = {n["id"]: n["data"] for n in view["nodes"]}
    assert nodes["switch1"]["handles"] == ["default", "a", "b"]
    assert nodes["manual1"]["category"] == "trigger"
    assert nodes["var1"]["handles"] == ["next"]
    assert {e["sourceHandle"] for e in view["edges"]} == {None, "a"}


def test_canvas_ops_name_each_change_and_only_it() -> None:
    after = copy.deepcopy(GRAPH)
    nodes = {n["id"]: n for n in after["nodes"]}
    nodes["log1"]["position"] = {"x": 5, "y": 6}  # moved
    nodes["switch1"]["params"]["cases"] = ["a"]  # redrawn: one handle fewer
    nodes["var1"]["params"]["value"] = 2  # not drawn: the forms refresh
    after["nodes"] = [n for n in after["nodes"] if n["id"] != "manual1"]
    after["nodes"].append({"id": "log2", "type": "log", "params": {}})
    after["edges"] = [e for e in after["edges"] if e["source"] != "manual1"]
    after["edges"].append({"source": "log1", "target": "log2"})
    ops = canvas_ops(GRAPH, after)
    assert [
        (op["op"], op.get("id") or op.get("node", op.get("edge", {})).get("id")) for op in ops
    ] == [
        ("remove", "manual1"),
        ("data", "switch1"),
        ("params", "var1"),
        ("move", "log1"),
        ("add", "log2"),
        ("disconnect", "manual1:next-switch1"),
        ("connect", "log1:next-log2"),
    ]
    assert next(op for op in ops if op["op"] == "data")["data"]["handles"] == ["default", "a"]
    assert canvas_ops(GRAPH, copy.deepcopy(GRAPH)) == []


def test_palette_is_the_whole_registry_grouped_and_searchable() -> None:
    from engine.nodes import REGISTRY

    groups = palette_groups()
    assert sum(len(g["items"]) for g in groups) == len(REGISTRY)
    assert groups[0]["category"] == "trigger"
    found = filter_palette(groups, "send message")
    assert found and all("send message" in i["search"] for g in found for i in g["items"])


def test_new_ids_are_short_and_unique() -> None:
    assert new_node_id(GRAPH, "log") == "log2"
    assert new_node_id(GRAPH, "template") == "template1"


def test_auto_layout_puts_each_node_right_of_its_parents() -> None:
    positions = auto_layout(GRAPH)
    xs = [positions[n]["x"] for n in ("manual1", "switch1", "var1", "log1")]
    assert xs == sorted(xs) and len(set(xs)) == 4
    cyclic = {"nodes": GRAPH["nodes"][:2], "edges": [{"source": "manual1", "target": "switch1"},
              {"source": "switch1", "target": "manual1"}]}  # fmt: skip
    assert set(auto_layout(cyclic)) == {"manual1", "switch1"}


def test_form_fields_follow_the_schema() -> None:
    fields = {f["name"]: f for f in param_fields("http_request", {"url": "https://x"})}
    assert fields["method"]["kind"] == "select" and "POST" in fields["method"]["options"]
    assert fields["method"]["value"] == "GET"  # the default
    assert fields["url"]["kind"] == "text" and fields["url"]["required"]
    assert fields["headers"]["kind"] == "keyvalue"
    assert fields["timeout_seconds"]["kind"] == "number"
    assert fields["follow_redirects"]["kind"] == "checkbox"
    assert fields["json_body"]["kind"] == "json"
    assert param_fields("text_contains", {})[2]["kind"] == "list"


@pytest.mark.parametrize(
    ("type_id", "name", "text", "expected"),
    [
        ("http_request", "timeout_seconds", "5", (True, 5.0)),
        ("loop", "max_iterations", "7", (True, 7)),
        ("loop", "max_iterations", "{{ context.n }}", (True, "{{ context.n }}")),
        ("http_request", "headers", "A: 1\nB: two", (True, {"A": "1", "B": "two"})),
        ("text_contains", "values", "spam\n\ncasino ", (True, ["spam", "casino"])),
        ("http_request", "follow_redirects", "true", (True, True)),
        ("http_request", "json_body", '{"a": 1}', (True, {"a": 1})),
        ("http_request", "body", "", (False, None)),
    ],
)
def test_field_text_becomes_the_right_value(
    type_id: str, name: str, text: str, expected: tuple[bool, object]
) -> None:
    assert parse_field(type_id, name, text) == expected


def test_suggestions_offer_trigger_fields_upstream_nodes_and_variables() -> None:
    offered = suggestions(GRAPH, "log1")
    assert "{{ trigger.data.name }}" in offered
    assert "{{ node.var1 }}" in offered and "{{ node.switch1 }}" in offered
    assert "{{ context.greeting }}" in offered
    assert "{{ context.greeting }}" not in suggestions(GRAPH, "switch1")  # set downstream
    assert "{{ node.log1 }}" not in offered


async def test_rerun_replays_steps_before_the_node_and_runs_it_again(
    sqlite_session: Session,
) -> None:
    admin = AdminUser(username="ada", role=Role.admin, password_hash="x")
    sqlite_session.add(admin)
    sqlite_session.flush()
    graph = {
        "nodes": [
            {"id": "manual1", "type": "manual", "params": {}},
            {"id": "t1", "type": "template", "params": {"text": "hi {{ trigger.data.name }}"}},
            {"id": "bad", "type": "template", "params": {"text": "{{ 1 // 0 }}"}},
        ],
        "edges": [{"source": "manual1", "target": "t1"}, {"source": "t1", "target": "bad"}],
    }
    flow = flows.create_flow(sqlite_session, admin, "f", graph=graph)
    version = flows.publish(sqlite_session, admin, flow.id)
    first = FlowExecution(
        flow_id=flow.id, version_id=version.id, trigger_data={"data": {"name": "Ada"}}
    )
    sqlite_session.add(first)
    sqlite_session.commit()
    assert (await run_execution(first.id)).status is ExecutionStatus.failed

    with pytest.raises(RerunError):
        seed_rerun(sqlite_session, admin, first.id, "nowhere")
    new_id = seed_rerun(sqlite_session, admin, first.id, "bad")
    sqlite_session.commit()
    seeded = sqlite_session.exec(
        select(FlowExecutionStep).where(FlowExecutionStep.execution_id == new_id)
    ).all()
    assert [s.node_id for s in seeded] == ["manual1", "t1"]

    # Make the recorded output visibly different: the re-run must reuse it, not recompute.
    seeded[1].output = {"text": "recorded"}
    sqlite_session.add(seeded[1])
    sqlite_session.commit()
    outcome = await run_execution(new_id)
    assert outcome.status is ExecutionStatus.failed
    sqlite_session.expire_all()
    steps = sqlite_session.exec(
        select(FlowExecutionStep)
        .where(FlowExecutionStep.execution_id == new_id)
        .order_by(FlowExecutionStep.seq)
    ).all()
    assert [(s.node_id, s.status) for s in steps] == [
        ("manual1", StepStatus.succeeded),
        ("t1", StepStatus.succeeded),
        ("bad", StepStatus.failed),
    ]
    assert steps[1].output == {"text": "recorded"}

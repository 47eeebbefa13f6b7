"""cross_post: the per-platform format is the flow author's template, the message is data.

Chat text reaches the node already rendered (``text: "{{ trigger.text }}"``); rendering
it again would run whatever a chat member typed as a template (second-order injection).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from engine.control_nodes import StepFailed
from engine.expressions import ExpressionError, Scope
from engine.graph import build_graph
from engine.nodes import REGISTRY
from engine.step_params import prepare_params
from tests.unit.test_condition_nodes import FakeContext, event, make_world
from tests.unit.test_cross_platform_nodes import add_discord_and_whatsapp

ROOT = Path(__file__).resolve().parents[2]
INJECTION = "{{ 7*7 }} {% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}"


async def cross_post(ctx: FakeContext, raw: dict[str, Any]) -> dict[str, str]:
    """Run the node as the executor does (params rendered once, then the runner)."""
    node_type = REGISTRY.get("cross_post")
    scope = Scope(trigger=ctx.trigger, node=ctx.node_outputs, context=ctx.variables)
    _, params = prepare_params("post", node_type, raw, scope)
    assert node_type.run is not None
    await node_type.run(ctx, params)
    return {kind: p.get("content") or p.get("text") for kind, _, p, _ in ctx.calls}


async def test_chat_text_in_a_format_is_not_rendered_again(sqlite_session: Session) -> None:
    """The issue's case: a format reading the chat text rendered it, then the node rendered
    the result again, so ``{{ 7*7 }}`` typed in the chat became 49 (and a loop, megabytes)."""
    world = make_world(sqlite_session)
    add_discord_and_whatsapp(sqlite_session, world)
    ctx = FakeContext(event(text=INJECTION), flow_id=world.flow_id)
    sent = await cross_post(
        ctx,
        {
            "text": "{{ trigger.text }}",
            "formats": {"whatsapp": "{{ trigger.user.id }} wrote: {{ trigger.text }}"},
        },
    )
    assert sent == {"discord_bot": INJECTION, "whatsapp_user": f"42 wrote: {INJECTION}"}


async def test_the_documented_format_example_works(sqlite_session: Session) -> None:
    """``<b>{{ text }}</b>``: the message and its author are substituted as values."""
    world = make_world(sqlite_session)
    add_discord_and_whatsapp(sqlite_session, world)
    trigger = event(text=INJECTION, user={"id": "42", "display_name": "{{ 6*7 }}"})
    ctx = FakeContext(trigger, flow_id=world.flow_id)
    sent = await cross_post(
        ctx,
        {
            "text": "{{ trigger.text }}",
            "formats": {"discord": "<b>{{ text }}</b> by {{ author }}", "whatsapp": "{{ text }}"},
        },
    )
    assert sent == {
        "discord_bot": f"<b>{INJECTION}</b> by {{{{ 6*7 }}}}",
        "whatsapp_user": INJECTION,
    }


async def test_a_format_is_rendered_by_the_engine_sandbox(sqlite_session: Session) -> None:
    """One rendering path: the format gets the engine's limits and rules, not a second
    Jinja environment's."""
    world = make_world(sqlite_session)
    add_discord_and_whatsapp(sqlite_session, world)
    ctx = FakeContext(event(text="hi"), flow_id=world.flow_id)
    with pytest.raises(ExpressionError, match="65,536"):
        await cross_post(ctx, {"text": "hi", "formats": {"discord": "{{ text * 100000 }}"}})
    with pytest.raises(ExpressionError, match="not available"):
        await cross_post(ctx, {"text": "hi", "formats": {"discord": "{{ text.__class__ }}"}})
    # ``text`` is only a name inside a format: elsewhere it is an unknown variable.
    with pytest.raises(StepFailed, match="unknown variable 'text'"):
        await cross_post(ctx, {"text": "{{ text }}"})


def test_validation_accepts_text_and_author_in_formats_only() -> None:
    graph = {
        "nodes": [
            {"id": "t", "type": "tg_message", "params": {}},
            {
                "id": "post",
                "type": "cross_post",
                "params": {
                    "text": "{{ trigger.text }}",
                    "formats": {"telegram": "<b>{{ text }}</b>", "discord": "{{ txet }}"},
                },
            },
            {"id": "other", "type": "cross_post", "params": {"text": "{{ author }}"}},
        ],
        "edges": [{"source": "t", "target": "post"}, {"source": "post", "target": "other"}],
    }
    problems = [
        i.message for i in build_graph(graph, REGISTRY).issues if i.code == "bad_expression"
    ]
    assert len(problems) == 2, problems
    assert "field 'formats.discord'" in problems[0] and "unknown variable 'txet'" in problems[0]
    assert "did you mean 'text'" in problems[0]
    assert "field 'text'" in problems[1] and "unknown variable 'author'" in problems[1]


def test_no_second_template_environment_renders_anything() -> None:
    """Templates are rendered in engine/expressions.py only, where every limit applies."""
    pattern = re.compile(r"SandboxedEnvironment\(|\bEnvironment\(|\.from_string\(|\bTemplate\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for top in ("engine", "connectors", "flowbot_ui")
        for path in sorted((ROOT / top).rglob("*.py"))
        if path != ROOT / "engine" / "expressions.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []

"""cross_post node: a template (or the node's formats) shapes the message per platform, the
message is data, and ``template_id`` must name a template.

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
from engine.message_format import render
from engine.models import BotInstance, Chat, CrossPostTemplate
from engine.nodes import REGISTRY
from engine.step_params import prepare_params
from tests.unit.test_condition_nodes import FakeContext, event, make_world, run
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
    assert sent == {
        "discord_bot": render(INJECTION, "discord"),
        "whatsapp_user": render(f"42 wrote: {INJECTION}", "whatsapp"),
    }
    assert not any("49" in text for text in sent.values())


async def test_the_template_formats_read_the_message_as_values(sqlite_session: Session) -> None:
    """A saved template's formats: the message, its author and chat are substituted as
    values, then rendered per platform from Flowbot markdown; the source chat is skipped."""
    world = make_world(sqlite_session)
    add_discord_and_whatsapp(sqlite_session, world)
    template = CrossPostTemplate(
        name="t", formats={"default": "{{ text }}", "discord": "**{{ author }}** in {{ chat }}"}
    )
    sqlite_session.add(template)
    sqlite_session.commit()
    trigger = event(text="hi <b>", user={"id": "42", "display_name": "{{ 6*7 }}"})
    ctx = FakeContext(trigger, flow_id=world.flow_id)
    out = (await run("cross_post", ctx, text="hi <b>", template_id=template.id)).output
    assert out["sent"] == 2 and out["failed"] == 0
    assert [(kind, action) for kind, action, _, _ in ctx.calls] == [
        ("discord_bot", "send_message"),
        ("whatsapp_user", "send_text"),
    ]
    discord, whatsapp = (params for _, _, params, _ in ctx.calls)
    assert discord["content"] == "**{{ 6\\*7 }}** in Group"
    assert whatsapp["text"] == "hi <b>"


async def test_picked_chats_through_their_own_connection(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    bot = BotInstance(name="tg", kind="telegram_bot")
    sqlite_session.add(bot)
    sqlite_session.flush()
    channel = Chat(platform="telegram", platform_chat_id="-200", bot_instance_id=bot.id)
    gone = Chat(platform="telegram", platform_chat_id="-300")
    gone.gone_at = gone.first_seen_at
    sqlite_session.add_all([channel, gone])
    sqlite_session.commit()
    ctx = FakeContext(event(), flow_id=world.flow_id)
    await run("cross_post", ctx, text="_news_", chat_ids=[channel.id, gone.id])
    assert ctx.calls == [
        (
            "telegram_bot",
            "send_message",
            {"chat_id": "-200", "parse_mode": "HTML", "text": "<i>news</i>"},
            bot.id,
        )
    ]


async def test_a_template_id_must_name_a_template(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    ctx = FakeContext(event(), flow_id=world.flow_id)
    with pytest.raises(ValueError, match="cross-post template 999 does not exist"):
        await run("cross_post", ctx, text="x", template_id=999)
    assert ctx.calls == []


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


def test_validation_accepts_the_message_names_in_formats_only() -> None:
    graph = {
        "nodes": [
            {"id": "t", "type": "tg_message", "params": {}},
            {
                "id": "post",
                "type": "cross_post",
                "params": {
                    "text": "{{ trigger.text }}",
                    "formats": {"telegram": "{{ link }} {{ media }}", "discord": "{{ txet }}"},
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

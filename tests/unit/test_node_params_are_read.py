"""Registry contract: every declared param of every node type is read by what runs the node.

A param nothing reads is a setting that does nothing (issue 14, item 1: the Webhook
trigger's "Require signature" let unsigned calls through). Who reads a node's params:

- a Python runner (conditions, utility, cross-platform nodes): ``NodeType.run``;
- a platform action: the connector's handler of that action, and the executor's step that
  calls it (it takes ``instance_id`` to pick the connection). Telegram bot actions hand
  the whole params model to aiogram (``bot_kwargs``): there a param is read when the Bot
  method takes it as a keyword, or ``bot_kwargs`` turns it into one;
- a control node: the executor's handler of it (engine/control_nodes.py);
- a routed trigger: the trigger index's filters; the others: what starts their flows.

"Read" is found in the source: the names a reader's code (and every Flowbot function it
calls, transitively, and every method of the params model it uses) takes as an attribute
(``params.text``), through ``getattr(x, "text")``, or as a key (``x["text"]``,
``x.get("text")``, a literal tuple a loop takes names from). Reading the source rather
than running each reader keeps every branch in view: a param read only when another one
is set still counts, and no platform is needed.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
import types
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import pytest

from connectors.kit.actions import ActionRegistry
from engine import control_nodes, schedules, trigger_index
from engine.nodes import REGISTRY, triggers
from engine.nodes.base import NodeCategory, NodePlatform, NodeType
from engine.runtime import Run
from engine.services import webhooks

PROJECT = ("engine", "connectors")
CONNECTOR_ACTIONS = {
    NodePlatform.telegram_bot: "connectors.telegram_bot.actions",
    NodePlatform.telegram_user: "connectors.telegram_user.actions",
    NodePlatform.discord_bot: "connectors.discord_bot.actions",
    NodePlatform.whatsapp_user: "connectors.whatsapp_user.actions",
}
# Triggers the trigger index does not route: what reads their params instead.
UNROUTED_READERS: dict[str, tuple[Callable[..., Any], ...]] = {
    "webhook": (webhooks.sync_flow_endpoints,),
    "schedule": (schedules.fire_due_schedules,),
    "manual": (triggers.run_example,),  # the editor's test run starts from it
    "flow_called": (control_nodes.call_flow,),  # checks the inputs a call passes
}
# The merge node has no handler of its own: the walk and the parallel node read it.
CONTROL_READERS: dict[str, tuple[Callable[..., Any], ...]] = {
    **{node_id: (handler,) for node_id, handler in control_nodes.HANDLERS.items()},
    "merge": (control_nodes.run_merge, control_nodes.arrive, control_nodes._merge_timeout),
}


def _is_ours(value: Any) -> bool:
    module = getattr(value, "__module__", None) or ""
    return module.split(".")[0] in PROJECT


def _ours(value: Any) -> types.FunctionType | None:
    return value if isinstance(value, types.FunctionType) and _is_ours(value) else None


@cache
def _tree(function: types.FunctionType) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None


def _key(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _own_reads(function: types.FunctionType) -> tuple[set[str], set[Any]]:
    """The names ``function``'s own source reads, and the Flowbot functions it names."""
    tree = _tree(function)
    if tree is None:
        return set(), set()
    names: set[str] = set()
    callees: set[Any] = set()
    scope = {**function.__globals__, **inspect.getclosurevars(function).nonlocals}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            names.add(node.attr)
            if isinstance(node.value, ast.Name):
                base = scope.get(node.value.id)
                if isinstance(base, types.ModuleType):
                    callees.add(_ours(getattr(base, node.attr, None)))
        elif isinstance(node, ast.Subscript) and (key := _key(node.slice)):
            names.add(key)
        elif isinstance(node, ast.For) and isinstance(node.iter, (ast.Tuple, ast.List)):
            # for old, new in (("duration_seconds", "until_date"), ...): names it handles
            names |= {key for item in ast.walk(node.iter) if (key := _key(item))}
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            position = 1 if called in {"getattr", "hasattr"} else 0
            reads = called in {"getattr", "hasattr", "get", "pop"} and len(node.args) > position
            if reads and (key := _key(node.args[position])):
                names.add(key)
        if isinstance(node, ast.Name):
            callees.add(_ours(scope.get(node.id)))
    return names, callees - {None}


def names_read(readers: Iterable[Callable[..., Any]], params_model: type) -> set[str]:
    """Every name the readers and what they call read; methods and properties of the params
    model that they use are followed too (``params.local_time()`` reads ``timezone``)."""
    todo = [inspect.unwrap(reader) for reader in readers]
    seen: set[Any] = set()
    names: set[str] = set()
    while todo:
        function = todo.pop()
        if function in seen or not isinstance(function, types.FunctionType):
            continue
        seen.add(function)
        own, callees = _own_reads(function)
        names |= own
        todo += callees
        for name in own:
            member = inspect.getattr_static(params_model, name, None)
            if isinstance(member, property):
                member = member.fget
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, types.FunctionType) and _is_ours(member):
                todo.append(member)
    return names


def telegram_bot_reads(node_type: NodeType) -> set[str]:
    """The aiogram Bot method's keywords, and what bot_kwargs renames into them."""
    from aiogram import Bot

    from connectors.telegram_bot.actions import METHODS, bot_kwargs

    method = getattr(Bot, METHODS[node_type.action or ""])
    return set(inspect.signature(method).parameters) | names_read([bot_kwargs], node_type.params)


def readers_of(node_type: NodeType) -> tuple[Callable[..., Any], ...]:
    if node_type.run is not None:
        return (node_type.run,)
    if node_type.action is not None:
        module = importlib.import_module(CONNECTOR_ACTIONS[node_type.platform])
        [registry] = [v for v in vars(module).values() if isinstance(v, ActionRegistry)]
        return (registry.get(node_type.action).handler, Run._body)
    if node_type.category is NodeCategory.trigger:
        return UNROUTED_READERS.get(node_type.id, ())
    return CONTROL_READERS.get(node_type.id, ())


def unread_params(node_type: NodeType) -> set[str]:
    declared = set(node_type.params.model_fields)
    routed = node_type.id not in trigger_index.NOT_ROUTED
    if node_type.category is NodeCategory.trigger and routed:
        return declared - set(trigger_index.FILTERS)  # matches() reads exactly these
    read = names_read(readers_of(node_type), node_type.params)
    if node_type.action and node_type.platform is NodePlatform.telegram_bot:
        read |= telegram_bot_reads(node_type)
    return declared - read


@pytest.mark.parametrize("node_type", list(REGISTRY), ids=lambda node_type: node_type.id)
def test_every_declared_param_is_read(node_type: NodeType) -> None:
    unread = unread_params(node_type)
    assert not unread, (
        f"{node_type.id} ({node_type.label}): nothing reads the param(s) "
        f"{', '.join(sorted(unread))}; readers looked at: "
        f"{[r.__qualname__ for r in readers_of(node_type)] or 'none'}"
    )


def test_the_check_finds_an_unread_param() -> None:
    """The detector itself: a param only declared is reported, one a helper reads is not."""
    from pydantic import BaseModel

    class Params(BaseModel):
        used: str = ""
        helper_used: str = ""
        method_used: str = ""
        ignored: str = ""

        def shown(self) -> str:
            return self.method_used

    def helper(p: Any) -> str:
        return getattr(p, "helper_used")  # noqa: B009 (the string form is what is tested)

    async def runner(_ctx: Any, params: Params) -> str:
        return params.used + helper(params) + params.shown()

    helper.__module__ = runner.__module__ = Params.shown.__module__ = "engine.example"
    read = names_read([runner], Params)
    assert {"used", "helper_used", "method_used"} <= read
    assert "ignored" not in read

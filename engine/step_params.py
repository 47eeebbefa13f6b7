"""A step's parameters and errors: render, re-validate, and word failures for people.

Graph validation excused the fields holding expressions (their type is only known once
rendered), so the rendered params are validated again here, with the same model; the
error names the field and the expression that produced the bad value.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.action_errors import ActionError, ErrorKind
from engine.control_nodes import StepFailed
from engine.expressions import ExpressionError, Scope, has_expression, render_params
from engine.nodes.base import NodeType

NATIVE_FIELDS = {"loop": ("items",)}
"""Fields rendered to data (a list to iterate) but validated as the expression text."""


@cache
def _expression_defaults(model: type[BaseModel]) -> dict[str, str]:
    """Defaults that are expressions (``chat_id = "{{trigger.chat.id}}"``): rendered too."""
    return {
        name: info.default
        for name, info in model.model_fields.items()
        if isinstance(info.default, str) and has_expression(info.default)
    }


def _value_at(data: Any, loc: tuple[Any, ...]) -> Any:
    for key in loc:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def label(node_id: str, node_type: NodeType | None) -> str:
    return f"node '{node_id}' ({node_type.label})" if node_type else f"node '{node_id}'"


def prepare_params(
    node_id: str, node_type: NodeType, raw: dict[str, Any], scope: Scope
) -> tuple[dict[str, Any], BaseModel]:
    """(rendered params, validated model), or StepFailed saying which field and why."""
    name = label(node_id, node_type)
    filled = {**_expression_defaults(node_type.params), **raw}
    own = node_type.params.template_fields  # rendered by the node itself, with its values
    try:
        rendered = render_params({k: v for k, v in filled.items() if k not in own}, scope)
    except ExpressionError as exc:
        raise StepFailed(node_id, f"{name}: {exc}", "expression") from None
    rendered.update({k: v for k, v in filled.items() if k in own})
    checked = {**rendered, **{f: filled[f] for f in NATIVE_FIELDS.get(node_type.id, ())}}
    try:
        return rendered, node_type.params.model_validate(checked)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "params"
            problem = f"{where}: {error['msg']}"
            source = _value_at(filled, error["loc"])
            if has_expression(source):
                problem += f" (expression {source!r} gave {_value_at(rendered, error['loc'])!r})"
            problems.append(problem)
        raise StepFailed(node_id, f"{name}: {'; '.join(problems)}", "validation") from None


def step_failure(node_id: str, node_type: NodeType | None, exc: Exception) -> StepFailed:
    """Any error a step raised, as the StepFailed the trace and try_catch see."""
    if isinstance(exc, StepFailed):
        return exc
    name = label(node_id, node_type)
    if isinstance(exc, ActionError):
        message = f"{name}: {exc.kind}: {exc.message}"
        if exc.kind is ErrorKind.rate_limited and exc.retry_after is not None:
            message += f" (retry after {exc.retry_after:g} s)"
        return StepFailed(node_id, message, str(exc.kind))
    if isinstance(exc, ExpressionError):
        return StepFailed(node_id, f"{name}: {exc}", "expression")
    return StepFailed(node_id, f"{name}: {type(exc).__name__}: {exc}")

"""Execution steps as the editor's run panel and the debugger's timeline show them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from engine.models import FlowExecutionStep
from engine.redaction import public


class StepRow(BaseModel):
    seq: int
    step_key: str
    node_id: str
    node_type: str
    status: str
    handle: str
    duration: str
    input: str
    output: str
    error: str


def pretty(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, default=str, ensure_ascii=False)


def _decimal(value: float) -> str:
    """One decimal, without a trailing ".0" (0.4, 1.2, 3)."""
    return f"{value:.1f}".removesuffix(".0")


def duration(ms: float | None) -> str:
    """A step's or run's time as people read it: 0.4 ms, 42 ms, 1.2 s, 2 min 3 s, 1 h 5 min.
    Each unit takes over once the smaller one would round up to it (never "1000 ms")."""
    if ms is None:
        return "…"
    ms = max(ms, 0.0)
    if round(ms, 1) < 10:
        return f"{_decimal(ms)} ms"
    if round(ms) < 1000:
        return f"{round(ms)} ms"
    if round(ms / 1000, 1) < 60:
        return f"{_decimal(ms / 1000)} s"
    seconds = round(ms / 1000)
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min"


def step_rows(steps: Iterable[FlowExecutionStep]) -> list[StepRow]:
    return [
        StepRow(
            seq=step.seq,
            step_key=step.step_key,
            node_id=step.node_id,
            node_type=step.node_type,
            status=str(step.status),
            handle=step.handle or "",
            duration=duration(step.duration_ms),
            input=pretty(step.input),
            output=pretty(public(step.output)),  # sealed secrets stay out of view
            error=step.error or "",
        )
        for step in steps
    ]

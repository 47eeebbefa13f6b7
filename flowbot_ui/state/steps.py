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


def duration(ms: float | None) -> str:
    if ms is None:
        return "…"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


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

"""Step events of side-effect-free nodes (issue 15): held until their rows are written,
one event per step as written; a slow run goes live and publishes them as they happen."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from sqlmodel import Session, select

from engine import events, runtime
from engine.models import FlowExecutionStep
from engine.nodes import REGISTRY
from engine.nodes.base import NodeResult
from engine.runtime import run_flow_now
from tests.unit.test_runtime import chain, make_flow, node, trigger

PURE = chain(
    node("v", "set_variable", name="n", value="{{trigger.text}}"),
    node("m", "template", text="got {{context.n}}"),
)


async def _published(flow_id: int) -> list[tuple[str, str | None, str]]:
    """What the flow's topic carried for one run: (type, step key, status), until its end."""
    async with events.subscribe(f"flow.{flow_id}") as subscription:
        await run_flow_now(flow_id, trigger(text="hi"))
        seen: list[dict[str, Any]] = []
        while not (seen and seen[-1]["type"] == "execution" and seen[-1]["status"] != "running"):
            seen.append((await asyncio.wait_for(anext(subscription), 2)).payload)
    return [(p["type"], p.get("step_key"), p["status"]) for p in seen]


async def test_a_quick_pure_run_publishes_each_step_once_after_its_row(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_id = make_flow(sqlite_session, *PURE)
    rows_when_published: list[int] = []
    bus = events.get_bus()
    publish = bus.publish

    def counting(topic: str, payload: dict[str, Any], *more: str) -> None:
        if payload.get("type") == "step":
            query = select(FlowExecutionStep.id).where(
                FlowExecutionStep.execution_id == payload["execution_id"],
                FlowExecutionStep.step_key == payload["step_key"],
            )
            sqlite_session.expire_all()
            rows_when_published.append(len(sqlite_session.exec(query).all()))
        publish(topic, payload, *more)

    monkeypatch.setattr(bus, "publish", counting)
    assert await _published(flow_id) == [
        ("step", "t", "succeeded"),
        ("step", "v", "succeeded"),
        ("step", "m", "succeeded"),
        ("execution", None, "succeeded"),  # its row never said running: no event said so
    ]
    assert rows_when_published == [1, 1, 1]  # each row was there to be read


async def test_a_slow_run_goes_live(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MARK_RUNNING_SECONDS the run says it is running, releases what it held and
    publishes its steps as they happen (a person watching sees the slow step start)."""
    flow_id = make_flow(sqlite_session, *PURE)
    template = REGISTRY.get("template")
    assert template.run is not None
    original = template.run

    async def slow(ctx: Any, params: Any) -> NodeResult:
        await asyncio.sleep(0.05)  # the timer fires meanwhile
        return await original(ctx, params)

    monkeypatch.setitem(REGISTRY._types, "template", dataclasses.replace(template, run=slow))
    monkeypatch.setattr(runtime, "MARK_RUNNING_SECONDS", 0.01)
    assert await _published(flow_id) == [
        ("execution", None, "running"),
        ("step", "t", "succeeded"),
        ("step", "v", "succeeded"),
        ("step", "m", "running"),
        ("step", "m", "succeeded"),
        ("execution", None, "succeeded"),
    ]

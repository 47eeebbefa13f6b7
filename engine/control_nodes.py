"""The control-flow nodes the executor interprets itself (see engine/nodes/advanced.py).

Each handler records its own step through :meth:`Run.step` (so it is replayed like any
other) and then drives sub-walks: loop iterations, parallel branches, the try branch,
a called flow. Handlers return the nodes the enclosing walk continues with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import networkx as nx
from sqlmodel import Session

from engine.broker import send_execution
from engine.db import saved_id, session_scope
from engine.execution_store import ExecutionNotFound, TreeFull, create_execution
from engine.models import ExecutionStatus, FlowDefinition, FlowVersion
from engine.nodes.advanced import (
    MAX_FLOW_DEPTH,
    MAX_LOOP_ITERATIONS,
    LoopParams,
    ParallelParams,
    RunFlowParams,
    StopParams,
    SwitchParams,
)
from engine.nodes.base import NodeResult
from engine.nodes.triggers import missing_inputs
from engine.nodes.utility import DelayParams, as_utc

if TYPE_CHECKING:
    from engine.runtime import Run

Next = tuple[str, str]  # (node to run, node it is reached from)


# --------------------------------------------------------------------------- signals


class StepFailed(Exception):
    """A step's error: fails the execution unless a try_catch branch encloses it."""

    def __init__(self, node_id: str, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.node_id = node_id
        self.message = message
        self.kind = kind


class BudgetExceeded(Exception):
    """A limit of the whole execution; no try_catch may swallow it."""


class StopFlow(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Parked(Exception):
    """A durable delay not yet over: the execution waits and is resumed at ``resume_at``."""

    def __init__(self, resume_at: datetime) -> None:
        super().__init__(resume_at.isoformat())
        self.resume_at = resume_at


# --------------------------------------------------------------------------- frames


@dataclass
class MergeBoard:
    """Arrivals at merge nodes; the frame owning the board runs the merges when quiet."""

    arrivals: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    def pending(self) -> list[str]:
        return [merge for merge in self.arrivals if merge not in self.done]


@dataclass
class Frame:
    """Where a walk is: its step-key prefix, the outputs it sees, its loop variables."""

    prefix: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)  # overlay: item, index, loop
    merges: MergeBoard = field(default_factory=MergeBoard)
    owner: bool = True  # runs its board's merges (parallel branches hand them up)
    stop_at: frozenset[str] = frozenset()  # a loop's body ends where it leads back


Handler = Callable[["Run", str, Frame], Awaitable[list[Next]]]


def _follow(run: Run, node_id: str, handle: str) -> list[Next]:
    return [(target, node_id) for target in run.flow.successors(node_id, handle)]


# --------------------------------------------------------------------------- simple ones


async def _switch(run: Run, node_id: str, frame: Frame) -> list[Next]:
    async def body(params: SwitchParams, rendered: dict[str, Any], _ctx: Any) -> NodeResult:
        value = rendered["value"]
        text = value if isinstance(value, str) else json.dumps(value) if value is not None else ""
        handle = text if text in params.cases else "default"
        return NodeResult({"value": value, "case": handle}, handle)

    result = await run.step(node_id, frame, body)
    return _follow(run, node_id, result.handle) if result else []


async def _stop(run: Run, node_id: str, frame: Frame) -> list[Next]:
    async def body(params: StopParams, _rendered: dict[str, Any], _ctx: Any) -> NodeResult:
        return NodeResult({"status": params.status, "message": params.message}, "stop")

    result = await run.step(node_id, frame, body)
    if result is not None:
        raise StopFlow(result.output["status"], result.output["message"])
    return []


async def _delay(run: Run, node_id: str, frame: Frame) -> list[Next]:
    """Durable: the step records when to go on; a re-run replays it and parks again
    until that moment has passed, then continues after it."""

    async def body(params: DelayParams, _rendered: dict[str, Any], _ctx: Any) -> NodeResult:
        wait = timedelta(seconds=params.seconds or 0)
        resume_at = as_utc(params.until) if params.until else datetime.now(UTC) + wait
        return NodeResult({"resume_at": resume_at.isoformat()})

    result = await run.step(node_id, frame, body)
    if result is None:
        return []
    resume_at = datetime.fromisoformat(result.output["resume_at"])
    if resume_at > datetime.now(UTC):
        raise Parked(resume_at)
    return _follow(run, node_id, result.handle)


# --------------------------------------------------------------------------- loop


def _as_items(node_id: str, value: Any) -> list[Any]:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # a JSON list given as text
            value = json.loads(value) if value.strip() else []
    if isinstance(value, dict):
        return [{"key": key, "value": item} for key, item in value.items()]
    if not isinstance(value, list | tuple):
        raise StepFailed(
            node_id, f"node '{node_id}' (Loop): items must be a list, got {type(value).__name__}"
        )
    return list(value)


async def _loop(run: Run, node_id: str, frame: Frame) -> list[Next]:
    async def body(params: LoopParams, rendered: dict[str, Any], _ctx: Any) -> NodeResult:
        items = _as_items(node_id, rendered["items"])
        cap = min(params.max_iterations, MAX_LOOP_ITERATIONS)
        return NodeResult(
            {"items": items[:cap], "count": len(items), "truncated": len(items) > cap}, "done"
        )

    result = await run.step(node_id, frame, body)
    if result is None:
        return []
    items = result.output["items"]  # replayed: the very list the first run iterated
    for index, item in enumerate(items):
        current = {"item": item, "index": index, "count": len(items)}
        iteration = Frame(
            prefix=f"{frame.prefix}{node_id}[{index}]/",
            outputs={**frame.outputs, node_id: {**current, "items": items}},
            context={**frame.context, "item": item, "index": index, "loop": current},
            stop_at=frame.stop_at | {node_id},
        )
        await run.walk(_follow(run, node_id, "item"), iteration)
    frame.outputs[node_id] = result.output
    return _follow(run, node_id, "done")


# --------------------------------------------------------------------------- parallel, merge


def _merge_timeout(run: Run, node_id: str) -> float | None:
    """The shortest timeout of the merges downstream: the branches are waited that long."""
    timeouts = [
        float(run.flow.graph.nodes[other]["params"].get("timeout_seconds") or 0)
        for other in nx.descendants(run.flow.graph, node_id)
        if run.flow.graph.nodes[other]["type"] == "merge"
    ]
    timeouts = [t for t in timeouts if t > 0]
    return min(timeouts) if timeouts else None


async def _parallel(run: Run, node_id: str, frame: Frame) -> list[Next]:
    async def body(params: ParallelParams, _rendered: dict[str, Any], _ctx: Any) -> NodeResult:
        return NodeResult({"branches": params.branches}, "")

    result = await run.step(node_id, frame, body)
    if result is None:
        return []
    branch = replace(frame, owner=False)  # arrivals at merges go to this frame's board
    tasks = [
        asyncio.create_task(run.walk(_follow(run, node_id, name), branch))
        for name in result.output["branches"]
    ]
    await _gather(tasks, _merge_timeout(run, node_id))
    return []


async def _gather(tasks: list[asyncio.Task[None]], timeout: float | None) -> None:
    """Wait for every branch. A failure or stop cancels the others; a parked branch
    lets the others finish first, then the execution parks at the earliest resume."""
    parked: list[Parked] = []
    pending = set(tasks)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout if timeout is not None else None
    try:
        while pending:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            done, pending = await asyncio.wait(
                pending, timeout=left, return_when=asyncio.FIRST_EXCEPTION
            )
            if not done:  # the merge timeout: go on with the branches that arrived
                break
            for task in done:
                error = task.exception()
                if isinstance(error, Parked):
                    parked.append(error)
                elif error is not None:
                    raise error
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
    if parked:
        raise min(parked, key=lambda p: p.resume_at)


def arrive(run: Run, merge_id: str, source: str, frame: Frame) -> bool:
    """Note a branch reaching a merge; True when this arrival should run it now
    (mode ``any``: the first branch to arrive goes on, later ones end there)."""
    if merge_id in frame.merges.done:
        return False
    frame.merges.arrivals.setdefault(merge_id, {})[source] = frame.outputs.get(source)
    return bool(run.flow.graph.nodes[merge_id]["params"].get("mode") == "any")


async def run_merge(run: Run, merge_id: str, frame: Frame) -> list[Next]:
    frame.merges.done.add(merge_id)
    arrived = dict(frame.merges.arrivals.get(merge_id, {}))

    async def body(_params: Any, _rendered: dict[str, Any], _ctx: Any) -> NodeResult:
        return NodeResult(arrived)

    result = await run.step(merge_id, frame, body)
    return _follow(run, merge_id, result.handle) if result else []


# --------------------------------------------------------------------------- try_catch


async def _try_catch(run: Run, node_id: str, frame: Frame) -> list[Next]:
    async def body(_params: Any, _rendered: dict[str, Any], _ctx: Any) -> NodeResult:
        return NodeResult({}, "try")

    if await run.step(node_id, frame, body) is None:
        return []
    inner = replace(frame, merges=MergeBoard(), owner=True)
    try:
        await run.walk(_follow(run, node_id, "try"), inner)
    except StepFailed as exc:
        caught = {"node_id": exc.node_id, "message": exc.message, "kind": exc.kind}
        frame.outputs[node_id] = {"error": caught}
        run.note_caught(frame, node_id, caught)
        return _follow(run, node_id, "error")
    return []


# --------------------------------------------------------------------------- run_flow


async def _run_flow(run: Run, node_id: str, frame: Frame) -> list[Next]:
    async def body(params: RunFlowParams, _rendered: dict[str, Any], ctx: Any) -> NodeResult:
        return await call_flow(run, node_id, params, ctx.step_key)

    result = await run.step(node_id, frame, body)
    return _follow(run, node_id, result.handle) if result else []


async def call_flow(run: Run, node_id: str, params: RunFlowParams, step_key: str) -> NodeResult:
    """Start the called flow as a child execution and await it in this process (or, with
    ``wait`` off, hand it to the workers and go on).

    The child's idempotency key is this step's, so a re-run of an interrupted step finds
    (and resumes) the same child instead of starting a second one. The child joins the
    caller's tree and shares its budget (engine/runtime.py TreeBudget): past the tree's
    execution budget no child starts, and a child that exhausted a budget stops its
    callers too (BudgetExceeded, which no try_catch swallows).
    """
    label = f"node '{node_id}' (Run flow)"
    depth = run.execution.depth + 1
    if depth > MAX_FLOW_DEPTH:
        raise StepFailed(node_id, f"{label}: run_flow nests at most {MAX_FLOW_DEPTH} deep")
    if params.flow_id in run.flow_stack:
        chain = " → ".join(str(f) for f in [*run.flow_stack, params.flow_id])
        raise StepFailed(
            node_id,
            f"{label}: flow {params.flow_id} is already running in this chain ({chain}); "
            "run_flow never re-enters a flow",
        )
    trigger = run.trigger
    child_trigger = {
        "event_id": f"run_flow:{run.execution_id}:{step_key}",
        "kind": "flow_called",
        "platform": "flowbot",
        "connector": trigger.get("connector"),
        "instance_id": trigger.get("instance_id"),
        "chat": trigger.get("chat"),
        "user": trigger.get("user"),
        "data": {
            **params.input,
            "inputs": params.input,
            "caller_flow_id": run.flow_id,
            "caller_execution_id": run.execution_id,
            "depth": depth,
        },
    }
    try:
        with session_scope() as session:
            _check_inputs(session, label, node_id, params)
            child = create_execution(
                session,
                params.flow_id,
                child_trigger,
                trigger_type="flow_called",
                idempotency_key=f"run_flow:{run.execution_id}:{step_key}",
                parent=run.execution,
                max_tree=run.settings.max_tree_executions,
            )
            session.flush()
            child_id = saved_id(child)
    except ExecutionNotFound as exc:
        raise StepFailed(node_id, f"{label}: {exc}") from None
    except TreeFull as exc:
        run.budget.breach = run.budget.breach or str(exc)
        raise BudgetExceeded(f"{label}: {exc}") from None
    if not params.wait:  # fire and forget: the workers run it, this flow goes on at once
        send_execution(child_id)
        return NodeResult({"execution_id": child_id, "status": str(ExecutionStatus.queued)})
    outcome = await run.run_child(child_id)
    if outcome.status is ExecutionStatus.waiting and outcome.resume_at is not None:
        raise Parked(outcome.resume_at)
    if outcome.status is ExecutionStatus.failed and run.budget.breach:
        raise BudgetExceeded(f"{label}: flow {params.flow_id} stopped: {outcome.error}")
    if outcome.status is ExecutionStatus.failed:
        raise StepFailed(node_id, f"{label}: flow {params.flow_id} failed: {outcome.error}")
    output = {"execution_id": child_id, "status": str(outcome.status), **(outcome.result or {})}
    return NodeResult(output)


def _check_inputs(session: Session, label: str, node_id: str, params: RunFlowParams) -> None:
    """Refuse a call that leaves out an input the called flow's trigger declares."""
    flow = session.get(FlowDefinition, params.flow_id)
    live = flow.published_version_id if flow is not None else None
    version = session.get(FlowVersion, live) if live is not None else None
    if version is not None and (missing := missing_inputs(version.graph, params.input)):
        raise StepFailed(
            node_id,
            f"{label}: flow {params.flow_id} needs the input(s) {', '.join(missing)}; "
            "add them to this step's input",
        )


HANDLERS: dict[str, Handler] = {
    "switch": _switch,
    "stop": _stop,
    "delay": _delay,
    "loop": _loop,
    "parallel": _parallel,
    "try_catch": _try_catch,
    "run_flow": _run_flow,
}

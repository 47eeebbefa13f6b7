"""Control-flow nodes: declared here, interpreted by the executor itself (no runner).

The executor needs the whole graph and the execution's state to run them (sub-flows,
branches, loops, error routing), so they have parameters and handles but no ``run``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engine.nodes.base import FlowRef, NodeCategory, NodeParams, NodePlatform, NodeType
from engine.nodes.registry import REGISTRY

MAX_FLOW_DEPTH = 5
MAX_LOOP_ITERATIONS = 10_000
MAX_MERGE_TIMEOUT = 24 * 3600


class RunFlowParams(NodeParams):
    flow_id: FlowRef = Field(gt=0, description="The flow to start", examples=[7])
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="Values the called flow sees as {{trigger.data.<name>}}",
        examples=[{"user_id": "{{trigger.user.id}}"}],
    )
    wait: bool = Field(
        default=True,
        description="Wait for the called flow and output its result; off means fire and forget",
        examples=[True],
    )


class ParallelParams(NodeParams):
    branches: list[str] = Field(
        min_length=2,
        max_length=20,
        description="Branch names; each becomes a handle whose nodes run concurrently",
        examples=[["notify", "log"]],
    )


class MergeParams(NodeParams):
    mode: Literal["all", "any"] = Field(
        default="all",
        description="Continue when all incoming branches finished, or the first one",
        examples=["all", "any"],
    )
    timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        le=MAX_MERGE_TIMEOUT,
        description="Give up waiting after this long; empty means the execution's own budget",
        examples=[30],
    )


class LoopParams(NodeParams):
    items: str = Field(
        description="Expression giving the list to iterate; each item is {{context.item}}",
        examples=["{{node.members.rows}}"],
    )
    max_iterations: int = Field(
        default=100,
        ge=1,
        le=MAX_LOOP_ITERATIONS,
        description=f"Stop after this many items (at most {MAX_LOOP_ITERATIONS})",
        examples=[100],
    )


class SwitchParams(NodeParams):
    value: str = Field(description="Value to route by", examples=["{{trigger.command}}"])
    cases: list[str] = Field(
        min_length=1,
        max_length=50,
        description="Case values; each becomes a handle, anything else goes to default",
        examples=[["help", "rules", "report"]],
    )


class StopParams(NodeParams):
    status: Literal["succeeded", "failed", "stopped"] = Field(
        default="succeeded", description="Status the execution ends with", examples=["stopped"]
    )
    message: str = Field(
        default="", description="Shown as the execution's result or error", examples=["not allowed"]
    )


def control(node_id: str, label: str, description: str, **kwargs: Any) -> None:
    REGISTRY.add(
        NodeType(
            id=node_id,
            label=label,
            description=description,
            category=NodeCategory.advanced,
            platform=NodePlatform.flow,
            **kwargs,
        )
    )


control(
    "run_flow",
    "Run flow",
    f"Start another flow and wait for its result (nesting at most {MAX_FLOW_DEPTH} deep, "
    "never re-entering a flow already running in the chain).",
    params=RunFlowParams,
)
control(
    "parallel",
    "Parallel",
    "Run the named branches concurrently.",
    params=ParallelParams,
    handles=(),
    dynamic_handles=True,
)
control(
    "merge",
    "Merge",
    "Wait for branches and combine their outputs.",
    params=MergeParams,
)
control(
    "loop",
    "Loop",
    "Run the item branch for each item of a list, then the done branch.",
    params=LoopParams,
    handles=("item", "done"),
)
control(
    "switch",
    "Switch",
    "Route by value to the matching case, or to default.",
    params=SwitchParams,
    handles=("default",),
    dynamic_handles=True,
)
control(
    "try_catch",
    "Try / catch",
    "Run the try branch; any error in it continues at error instead of failing the execution.",
    handles=("try", "error"),
)
control(
    "stop",
    "Stop",
    "End the execution with a status.",
    params=StopParams,
    handles=(),
)

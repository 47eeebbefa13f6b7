"""The node catalogue (engine/nodes REGISTRY), so outside tools can build flows: each
node type with its parameters as JSON Schema, its output handles and, for triggers, an
example event. A fixed list, so not paged; filterable by category and platform."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from engine.api.v1 import paging
from engine.api.v1.caller import Viewer
from engine.api.v1.errors import ApiError
from engine.nodes import REGISTRY, NodeCategory, NodePlatform, NodeType

router = APIRouter(prefix="/nodes", tags=["Node types"])
NodeTypeId = Annotated[str, Path(description="The node type's id.", examples=["tg_send_message"])]


class NodeOut(BaseModel):
    """A node type as a flow's graph uses it: ``{"id": ..., "type": <id>, "params": ...}``."""

    id: str = Field(examples=["tg_send_message"])
    label: str = Field(examples=["Send message"])
    description: str
    category: NodeCategory
    platform: NodePlatform
    params: dict[str, Any] = Field(
        description="JSON Schema of the node's params; a text field may hold {{ }} expressions.",
        examples=[{"type": "object", "properties": {"text": {"type": "string"}}}],
    )
    handles: list[str] = Field(
        description="The output handles edges leave from (`next`, `true`/`false`, ...).",
        examples=[["next"]],
    )
    dynamic_handles: bool = Field(
        description="More handles come from the params: a switch's cases (and `default`), "
        "a parallel node's branches."
    )
    example_payload: dict[str, Any] | None = Field(
        description="Triggers: a realistic event, as a test run would send it."
    )

    @classmethod
    def of(cls, node_type: NodeType) -> NodeOut:
        return cls(
            id=node_type.id,
            label=node_type.label,
            description=node_type.description,
            category=node_type.category,
            platform=node_type.platform,
            params=node_type.params.model_json_schema(),
            handles=list(node_type.handles),
            dynamic_handles=node_type.dynamic_handles,
            example_payload=dict(node_type.example_payload)
            if node_type.example_payload is not None
            else None,
        )


@cache
def _catalogue() -> dict[str, NodeOut]:
    """Built once: the registry is fixed when the process starts."""
    return {node_type.id: NodeOut.of(node_type) for node_type in REGISTRY}


@router.get("", response_model=paging.Page[NodeOut], summary="List the node types")
async def list_nodes(
    _: Viewer,
    category: Annotated[NodeCategory | None, Query(description="Only this category.")] = None,
    platform: Annotated[NodePlatform | None, Query(description="Only this platform.")] = None,
) -> paging.Page[NodeOut]:
    items = [
        node
        for node in _catalogue().values()
        if category in (None, node.category) and platform in (None, node.platform)
    ]
    return paging.Page(items=items)


@router.get("/{node_type}", response_model=NodeOut, summary="Get one node type")
async def get_node(node_type: NodeTypeId, _: Viewer) -> NodeOut:
    found = _catalogue().get(node_type)
    if found is None:
        raise ApiError(404, f"There is no node type {node_type!r}.")
    return found

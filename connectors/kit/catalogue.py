"""The link between the node catalogue (engine/nodes) and a connector's ActionRegistry.

A connector action reuses the node's params model and its connector action name (the node id
without the platform prefix), so the editor, validation and the connector cannot drift apart.
"""

from __future__ import annotations

from pydantic import BaseModel

import engine.nodes  # noqa: F401  (declares every node type)
from engine.nodes.base import NodePlatform
from engine.nodes.registry import REGISTRY


def node_action(node_id: str) -> tuple[str, type[BaseModel]]:
    """``("send_message", SendMessageParams)`` for ``dc_send_message``: the decorator args."""
    node = REGISTRY.get(node_id)
    if node.action is None:
        raise ValueError(f"{node_id} is not a platform action")
    return node.action, node.params


def declared_actions(platform: NodePlatform) -> set[str]:
    """Connector action names the catalogue declares for one platform."""
    return {node.action for node in REGISTRY if node.platform is platform and node.action}

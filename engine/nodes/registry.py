"""The single registry instance; node modules add their declarations to it."""

from collections.abc import Callable

from engine.nodes.base import NodeCategory, NodeParams, NodePlatform, NodeRegistry, NodeType

REGISTRY = NodeRegistry()


def platform_action_declarer(platform: NodePlatform, prefix: str) -> Callable[..., NodeType]:
    """A declare function for one platform's actions: the connector action is the id
    without the platform prefix (``tg_send_message`` → ``send_message``)."""

    def declare(node_id: str, label: str, description: str, params: type[NodeParams]) -> NodeType:
        return REGISTRY.add(
            NodeType(
                id=node_id,
                label=label,
                description=description,
                category=NodeCategory.action,
                platform=platform,
                params=params,
                action=node_id.removeprefix(prefix),
            )
        )

    return declare

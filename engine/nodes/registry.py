"""The single registry instance; node modules add their declarations to it."""

from collections.abc import Callable
from typing import Protocol

from engine.nodes.base import (
    NodeCategory,
    NodeParams,
    NodePlatform,
    NodeRegistry,
    NodeType,
    Runner,
)

REGISTRY = NodeRegistry()


class RunnerDeclarer(Protocol):
    """``@declare("id", "Label", "What it does", Params)`` above a runner."""

    def __call__(
        self,
        node_id: str,
        label: str,
        description: str,
        params: type[NodeParams],
        *,
        external: bool = False,
    ) -> Callable[[Runner], Runner]: ...


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


def runner_declarer(
    category: NodeCategory, platform: NodePlatform, handles: tuple[str, ...] = ("next",)
) -> RunnerDeclarer:
    """A decorator factory declaring nodes that Python runs (conditions, utility, cross-platform):
    ``@declare("id", "Label", "What it does", Params)`` above the runner; ``external=True``
    for a runner acting outside Flowbot (see NodeType.external_effects)."""

    def declare(
        node_id: str,
        label: str,
        description: str,
        params: type[NodeParams],
        *,
        external: bool = False,
    ) -> Callable[[Runner], Runner]:
        def register(run: Runner) -> Runner:
            REGISTRY.add(
                NodeType(
                    id=node_id,
                    label=label,
                    description=description,
                    category=category,
                    platform=platform,
                    params=params,
                    handles=handles,
                    run=run,
                    external=external,
                )
            )
            return run

        return register

    return declare

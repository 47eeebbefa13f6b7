"""The node catalogue (see NODES.md): importing this package declares every node type."""

from engine.nodes import (  # noqa: F401  (each module registers its node types)
    advanced,
    broadcasting,
    conditions,
    cross_posting,
    discord_bot,
    identity,
    messaging,
    moderation,
    reputation,
    scheduling,
    telegram_bot,
    telegram_user,
    triggers,
    utility,
    whatsapp_user,
)
from engine.nodes.base import NodeCategory, NodePlatform, NodeResult, NodeType, UnknownNodeType
from engine.nodes.registry import REGISTRY

__all__ = ["REGISTRY", "NodeCategory", "NodePlatform", "NodeResult", "NodeType", "UnknownNodeType"]

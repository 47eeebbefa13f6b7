"""What a flow template is: a ready graph of registry nodes and the few things it asks for.

A template never asks for ids typed by hand: each ``Need`` is filled from a picker of real
connections, chats or communities (engine/flow_templates/choices.py), and ``build`` puts
the picked values where the nodes want them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from engine.nodes import REGISTRY
from engine.nodes.base import NodeCategory

NeedKind = Literal["connection", "chat", "community"]

# Picked values by need key: a connection's bot instance id (int), a chat's platform id
# (str, what the nodes send to the platform) or a community id (int).
Answers = Mapping[str, Any]

COLUMN_WIDTH = 280.0  # canvas distance between a node and the next one
ROW_HEIGHT = 150.0  # between branches


@dataclass(frozen=True)
class Need:
    """One picker shown when the template is chosen."""

    key: str
    kind: NeedKind
    label: str
    platform: str = ""  # connection: connector kind (telegram_bot); chat: chat platform
    connection: str = ""  # chat: key of the connection need whose chats are offered
    chat_types: tuple[str, ...] = ()  # chat: only these chat types (empty: any)


@dataclass(frozen=True)
class Node:
    """A node of the template's graph and its place on the canvas (column, row)."""

    id: str
    type: str
    params: dict[str, Any]
    column: int
    row: int = 0


@dataclass(frozen=True)
class Wire:
    source: str
    target: str
    handle: str = "next"


def graph(nodes: list[Node], wires: list[Wire]) -> dict[str, Any]:
    """The flow graph in the editor's shape (positions included, so it opens tidy)."""
    return {
        "nodes": [
            {
                "id": n.id,
                "type": n.type,
                "params": n.params,
                "position": {"x": n.column * COLUMN_WIDTH, "y": n.row * ROW_HEIGHT},
            }
            for n in nodes
        ],
        "edges": [
            {"source": w.source, "target": w.target, "sourceHandle": w.handle} for w in wires
        ],
    }


def chain(*nodes: Node) -> dict[str, Any]:
    """Nodes one after the other; a condition passes on its ``true`` handle."""
    wires = [Wire(a.id, b.id, _onward(a.type)) for a, b in zip(nodes, nodes[1:], strict=False)]
    return graph(list(nodes), wires)


def _onward(node_type: str) -> str:
    return "true" if REGISTRY.get(node_type).category is NodeCategory.condition else "next"


@dataclass(frozen=True)
class FlowTemplate:
    """A gallery card: what it does, what it asks for, and how it builds its graph."""

    id: str
    title: str
    description: str
    icon: str  # a lucide icon name for the card
    needs: tuple[Need, ...]
    build: Callable[[Answers], dict[str, Any]]


def telegram_bot(label: str = "Telegram bot") -> Need:
    return Need("telegram", "connection", label, platform="telegram_bot")


def telegram_chat(label: str, *types: str) -> Need:
    return Need("chat", "chat", label, platform="telegram", connection="telegram",
                chat_types=types)  # fmt: skip


def discord_bot(label: str = "Discord bot") -> Need:
    return Need("discord", "connection", label, platform="discord_bot")


def discord_channel(label: str = "Discord channel") -> Need:
    return Need("discord_channel", "chat", label, platform="discord", connection="discord",
                chat_types=("text",))  # fmt: skip


def community(label: str = "Community") -> Need:
    return Need("community", "community", label)

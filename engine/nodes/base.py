"""What a node type is, and the registry every part of Flowbot reads node types from.

The editor's palette and forms, flow validation, the executor and the docs are all
generated from these declarations: adding a node type is adding one declaration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class NodeCategory(StrEnum):
    trigger = "trigger"
    condition = "condition"
    action = "action"
    advanced = "advanced"


class NodePlatform(StrEnum):
    """Where a node acts; platform nodes name the connector kind that runs them."""

    telegram_bot = "telegram_bot"
    telegram_user = "telegram_user"
    discord_bot = "discord_bot"
    whatsapp_user = "whatsapp_user"
    cross_platform = "cross_platform"  # Flowbot's own services acting on any platform
    general = "general"  # triggers and conditions that are not tied to one platform
    utility = "utility"
    flow = "flow"  # control flow: run_flow, parallel, merge, loop, switch, try_catch, stop


PLATFORM_LABELS = {
    "general": "General",
    "telegram_bot": "Telegram bot",
    "telegram_user": "Telegram account",
    "discord_bot": "Discord bot",
    "whatsapp_user": "WhatsApp",
    "cross_platform": "Any platform",
    "utility": "Utility",
    "flow": "Flow control",
}
"""Each platform as people read it (the palette's groups, the re-run confirmation)."""


class NodeParams(BaseModel):
    """Base of every params model: unknown keys are errors, not silently dropped.

    Numbers are accepted where text is expected, because a rendered expression such as
    ``{{ node.counter.value }}`` yields a native number.
    """

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    template_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Fields holding templates the node renders itself, with the extra names they read
    (``{"formats": ("text", "author")}``). The executor leaves them unrendered and
    validation checks them with those names: the node substitutes its values as data
    when it renders them (engine.expressions.render ``names``), one pass, never twice."""


PICKS_KEY = "x-picks"


@dataclass(frozen=True)
class Picks:
    """Marks a param whose value names something real the admin has (a connection, a chat,
    a flow...), so the editor offers a picker of the real ones instead of a typed id.

    It shows in the params' JSON schema as ``"x-picks": <what>``, which the editor, the
    node catalogue API and the docs read; the value itself validates as before."""

    what: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema[PICKS_KEY] = self.what
        return schema


# The param types that name real things: one marker per kind of thing, used by every node.
ConnectionRef = Annotated[int, Picks("connection")]  # a bot instance id
ChatRef = Annotated[str, Picks("chat")]  # a platform chat id (Discord: a channel)
DiscoveredChatRef = Annotated[int, Picks("discovered_chat")]  # a discovered chat's row id
ServerRef = Annotated[str, Picks("server")]  # a Discord server (guild) id
VoiceChannelRef = Annotated[str, Picks("voice_channel")]  # a Discord voice or stage channel id
CommunityRef = Annotated[int, Picks("community")]
FlowRef = Annotated[int, Picks("flow")]


def acting_instance_field(what: str) -> Any:
    """The ``instance_id`` of a platform action: empty means the instance that triggered."""
    return Field(
        default=None,
        description=f"Which {what} does it; empty: the {what.split()[-1]} that triggered the flow",
        examples=[None, 1],
    )


class NoParams(NodeParams):
    pass


@dataclass(frozen=True)
class NodeResult:
    """What a runner returns: its output and which handle the flow follows next."""

    output: dict[str, Any] = field(default_factory=dict)
    handle: str = "next"


class RunContext(Protocol):
    """What a runner may use; the executor provides it (engine/runtime.py). The ids are
    read-only here, so a context whose ids are always set (a saved flow's run) fits."""

    @property
    def execution_id(self) -> int | None: ...

    @property
    def flow_id(self) -> int | None: ...

    trigger: Mapping[str, Any]
    variables: dict[str, Any]
    node_outputs: Mapping[str, Any]

    async def call_platform(
        self, kind: str, action: str, params: Mapping[str, Any], instance_id: int | None = None
    ) -> dict[str, Any]:
        """Run a platform action through the pool API (POST /execute)."""
        ...


Runner = Callable[[RunContext, Any], Awaitable[NodeResult]]


@dataclass(frozen=True)
class NodeType:
    """One node type: identity, docs, params model, handles and what runs it."""

    id: str
    label: str
    description: str
    category: NodeCategory
    platform: NodePlatform
    params: type[NodeParams] = NoParams
    # Output handles; "next" for most, "true"/"false" for conditions.
    handles: tuple[str, ...] = ("next",)
    # For switch and parallel: more handles come from the params (cases, branches).
    dynamic_handles: bool = False
    # Triggers: a realistic event payload, prefilled in the editor's test run.
    example_payload: Mapping[str, Any] | None = None
    # Platform actions: the connector action called through the pool API.
    action: str | None = None
    # Conditions, utility and cross-platform nodes: a Python coroutine the executor awaits.
    # Triggers and control-flow nodes (platform "flow") have neither: the executor
    # itself interprets them.
    run: Runner | None = None
    # A runner that acts outside Flowbot (an HTTP call): see ``external_effects``.
    external: bool = False

    @property
    def external_effects(self) -> bool:
        """Whether running it twice acts twice where no trace can undo it: platform actions,
        cross-platform services and runners declared ``external``. The executor claims such
        a step durably before running it and never repeats a claimed one (engine/runtime.py);
        every other step may be re-run freely after a crash."""
        return (
            self.external
            or self.action is not None
            or (self.run is not None and self.platform is NodePlatform.cross_platform)
        )

    def __post_init__(self) -> None:
        if self.category is NodeCategory.trigger:
            if self.example_payload is None:
                raise ValueError(f"trigger {self.id} needs an example payload")
        elif self.platform is NodePlatform.flow:
            if self.action or self.run:
                raise ValueError(f"control node {self.id} is run by the executor itself")
        elif (self.action is None) == (self.run is None):
            raise ValueError(f"node {self.id} needs exactly one of action or run")


class UnknownNodeType(KeyError):
    def __str__(self) -> str:
        return f"unknown node type {self.args[0]!r}"


class NodeRegistry:
    """The node types by id; declared once, read everywhere."""

    def __init__(self) -> None:
        self._types: dict[str, NodeType] = {}

    def add(self, node_type: NodeType) -> NodeType:
        if node_type.id in self._types:
            raise ValueError(f"node type {node_type.id} declared twice")
        self._types[node_type.id] = node_type
        return node_type

    def get(self, type_id: str) -> NodeType:
        try:
            return self._types[type_id]
        except KeyError:
            raise UnknownNodeType(type_id) from None

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._types

    def __iter__(self) -> Iterator[NodeType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    def ids(self) -> set[str]:
        return set(self._types)

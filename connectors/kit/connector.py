"""The contract between the supervisor and a platform connector.

The supervisor builds one connector per active instance from the instance's decrypted
credential, awaits :meth:`Connector.run` in a task (it returns or raises when the
client stops), executes actions through :meth:`Connector.execute`, and cancels the
task to stop it. Connectors report events through the ``emit`` callback they are given.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.kit.actions import ActionRegistry
from engine.action_errors import ActionError, ErrorKind
from engine.platform_event import PlatformEvent

EmitEvent = Callable[[PlatformEvent], Awaitable[None]]
# Status updates the supervisor records on the PlatformConnection and the event bus:
# ("connecting" | "connected" | "auth_required" | "error", message, details)
ReportStatus = Callable[[str, str, Mapping[str, Any]], Awaitable[None]]


@dataclass
class InstanceConfig:
    """What a connector needs to start: no secrets at import time, all from the database."""

    instance_id: int
    kind: str
    credential: str | None = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict)
    # Base URLs overridable for tests against fake platform servers.
    api_base_url: str | None = None
    # Shared secret the platform sends with webhook calls (Telegram webhook mode).
    webhook_secret: str | None = field(default=None, repr=False)


class Connector(ABC):
    """One running client of one instance."""

    kind: str
    actions: ActionRegistry[Any]

    def __init__(self, config: InstanceConfig, emit: EmitEvent, report: ReportStatus) -> None:
        self.config = config
        self.emit = emit
        self.report = report

    @abstractmethod
    async def run(self) -> None:
        """Connect and process updates until cancelled; raise on a fatal client error."""

    @property
    @abstractmethod
    def client(self) -> Any:
        """The library's client object action handlers receive (Bot, GatewayBot, Client...)."""

    async def execute(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return await self.actions.execute(self.client, action, params)

    async def receive_update(self, update: Mapping[str, Any], emit: EmitEvent) -> None:
        """An update the platform pushed to Flowbot's web server (a Telegram webhook),
        handed over by the pool API; its events go to ``emit``."""
        raise ActionError(ErrorKind.validation, f"a {self.kind} connector takes no pushed updates")

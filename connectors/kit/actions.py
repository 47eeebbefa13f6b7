"""ActionRegistry: action name → pydantic params model → async handler, per connector kind.

Params are validated here, once, before any platform call: a bad value becomes a
``validation`` ActionError naming the field, never a half-made call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from engine.action_errors import ActionError, ErrorKind

ClientT = TypeVar("ClientT")
Handler = Callable[[ClientT, Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Action(Generic[ClientT]):
    name: str
    params: type[BaseModel]
    handler: Handler[ClientT]


class ActionRegistry(Generic[ClientT]):
    """The actions of one connector kind; handlers receive that kind's client object."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._actions: dict[str, Action[ClientT]] = {}

    def action(
        self, name: str, params: type[BaseModel]
    ) -> Callable[[Handler[ClientT]], Handler[ClientT]]:
        """Decorator: register ``handler`` as action ``name`` taking ``params``."""

        def register(handler: Handler[ClientT]) -> Handler[ClientT]:
            if name in self._actions:
                raise ValueError(f"{self.kind} action {name} registered twice")
            self._actions[name] = Action(name, params, handler)
            return handler

        return register

    def names(self) -> set[str]:
        return set(self._actions)

    def get(self, name: str) -> Action[ClientT]:
        try:
            return self._actions[name]
        except KeyError:
            raise ActionError(
                ErrorKind.unknown_action, f"{self.kind} has no action {name!r}"
            ) from None

    def validate(self, name: str, params: Mapping[str, Any]) -> BaseModel:
        action = self.get(name)
        try:
            return action.params.model_validate(dict(params))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ActionError(ErrorKind.validation, f"{self.kind}.{name}: {problems}") from None

    async def execute(
        self, client: ClientT, name: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        model = self.validate(name, params)
        return await self.get(name).handler(client, model)

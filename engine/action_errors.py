"""Structured action errors: the contract between the engine and the connectors.

The pool API returns them, the engine records them in step traces, and retry decisions
read ``RETRYABLE``. They live in the engine, which both sides depend on.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    validation = "validation"  # params failed the action's model
    unknown_action = "unknown_action"
    platform = "platform"  # the platform refused (bad chat id, missing rights...)
    rate_limited = "rate_limited"  # still rate-limited after the bounded retries
    breaker_open = "breaker_open"  # too many recent failures: not even tried
    not_held = "not_held"  # this supervisor does not run the instance
    unavailable = "unavailable"  # the platform or the client is down


class ActionError(Exception):
    """An action that did not happen, with what the user needs to fix or wait for."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": str(self.kind), "message": self.message}
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        if self.details:
            body["details"] = self.details
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> ActionError:
        return cls(
            ErrorKind(body.get("kind", "platform")),
            body.get("message", "unknown error"),
            retry_after=body.get("retry_after"),
            details=body.get("details"),
        )


# Errors after which the action certainly did not happen and may be tried again later;
# other outcomes (done, refused by validation or by the platform) are final.
RETRYABLE = frozenset(
    {ErrorKind.rate_limited, ErrorKind.breaker_open, ErrorKind.not_held, ErrorKind.unavailable}
)

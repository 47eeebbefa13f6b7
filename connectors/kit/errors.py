"""Structured action errors: the pool API returns them and the engine records them."""

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


class CredentialRejected(Exception):
    """The platform refused the credential: restarting cannot help until it changes."""


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every secret replaced, for log lines and stored errors.

    Client libraries put tokens in URLs (``/bot<token>/getMe``) and some network
    errors quote the URL.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text

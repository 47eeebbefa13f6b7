"""Connector-side errors (action errors are the engine's contract: engine/action_errors.py)."""

from __future__ import annotations


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

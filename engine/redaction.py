"""Secrets out of traces: one rule for everything an execution stores or publishes.

A value whose key name matches ``FLOWBOT_REDACT_KEYS`` (case-insensitive: token, secret,
password, key, auth, signature...) is replaced by ``[redacted]``, recursively through
dicts and lists; a secret value seen so far also disappears from any other text of the
execution (an error message, a URL that embeds it). This applies to step inputs,
outputs, variables and errors, to the execution's trigger, context, result and error,
and to what goes on the event bus.

The running flow keeps the real values. What the engine reads back from the database
(the trigger when it resumes or re-runs an execution, a replayed step's output and the
variables it set, a finished child's result) would otherwise come back as ``[redacted]``
and be sent to a platform as such. So :meth:`Redactor.seal` stores the masked values
encrypted (the secrets-at-rest key, engine/crypto.py) under ``_sealed`` next to the
masked copy, and :func:`unseal` restores them; viewers get the masked copy only
(:func:`public`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from engine import crypto
from engine.settings import get_settings

REDACTED = "[redacted]"
SEALED_KEY = "_sealed"
# Shorter secrets are still masked under their key, but not searched for in other text
# (a four-letter password would blank out every word it happens to be).
MIN_SCRUB_LENGTH = 6

Path = list[str | int]


class SealBroken(RuntimeError):
    """The sealed secrets of a record cannot be decrypted (FLOWBOT_SECRET_KEY changed)."""


@lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


@lru_cache(maxsize=4096)
def _matches(patterns: tuple[str, ...], name: str) -> bool:
    return _compiled(patterns).search(name) is not None


def is_secret_name(name: object) -> bool:
    """Whether a key of this name holds a secret, by the configured rule."""
    return _matches(tuple(get_settings().redact_keys), str(name))


def _maskable(value: Any) -> bool:
    return value is not None and value != "" and not isinstance(value, bool)


class Redactor:
    """Masks secrets and remembers the values it masked, so that later texts of the same
    execution (errors, rendered params) can be scrubbed of them too."""

    def __init__(self) -> None:
        self.known: set[str] = set()

    def learn(self, value: Any, *, secret: bool = False) -> None:
        """Remember the strings held under secret-named keys of ``value``."""
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key != SEALED_KEY:
                    self.learn(item, secret=secret or is_secret_name(key))
        elif isinstance(value, list | tuple):
            for item in value:
                self.learn(item, secret=secret)
        elif secret and isinstance(value, str) and len(value) >= MIN_SCRUB_LENGTH:
            self.known.add(value)

    def scrub(self, text: str | None) -> str | None:
        """``text`` without any secret value this redactor has seen."""
        if not text or not self.known:
            return text
        for secret in sorted(self.known, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def redact(self, value: Any) -> Any:
        """A masked copy, for what viewers may read and the engine never reads back."""
        return self._masked(value)[0]

    def seal(self, value: Mapping[str, Any]) -> dict[str, Any]:
        """A masked copy that carries the masked values encrypted, for records the engine
        reads back (see :func:`unseal`)."""
        masked: dict[str, Any]
        masked, changes = self._masked(unseal(value))
        if changes:
            masked[SEALED_KEY] = crypto.encrypt(json.dumps(changes))
        return masked

    def _masked(self, value: Any) -> tuple[Any, list[tuple[Path, Any]]]:
        self.learn(value)
        changes: list[tuple[Path, Any]] = []
        return self._mask(value, [], changes), changes

    def _mask(self, value: Any, path: Path, changes: list[tuple[Path, Any]]) -> Any:
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if key == SEALED_KEY:
                    continue
                where = [*path, str(key)]
                if is_secret_name(key) and _maskable(item):
                    changes.append((where, item))
                    out[str(key)] = REDACTED
                else:
                    out[str(key)] = self._mask(item, where, changes)
            return out
        if isinstance(value, list | tuple):
            return [self._mask(item, [*path, i], changes) for i, item in enumerate(value)]
        if isinstance(value, str):
            scrubbed = self.scrub(value)
            if scrubbed != value:
                changes.append((path, value))
            return scrubbed
        return value


def unseal(value: Any) -> Any:
    """The record as it was before :meth:`Redactor.seal` (unchanged if nothing is sealed)."""
    if not isinstance(value, Mapping) or SEALED_KEY not in value:
        return value
    restored = json.loads(json.dumps({k: v for k, v in value.items() if k != SEALED_KEY}))
    try:
        changes = json.loads(crypto.decrypt(value[SEALED_KEY]))
    except crypto.SecretDecryptionError as exc:
        raise SealBroken(
            "the secret values of this recorded execution cannot be decrypted "
            "(FLOWBOT_SECRET_KEY changed); they are not replaced by their redaction marker"
        ) from exc
    for path, original in changes:
        if not path:
            return original
        target: Any = restored
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = original
    return restored


def public(value: Any) -> Any:
    """What viewers see of a stored record: the masked copy, without the sealed values."""
    if isinstance(value, Mapping) and SEALED_KEY in value:
        return {k: v for k, v in value.items() if k != SEALED_KEY}
    return value

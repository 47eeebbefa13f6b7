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


MAX_NAMES = 4096
"""Key names a rule remembers its answer for (past this, it starts over: a caller's header
names are not ours to let grow without bound)."""


class _SecretNames(dict[str, bool]):
    """One rule's answers by key name. The same names come back on every call (a
    webhook's headers, a flow's parameters), and a dict hit costs no regex search."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        super().__init__()
        self._search = _compiled(patterns).search

    def __missing__(self, name: str) -> bool:
        secret = self._search(name) is not None
        if len(self) >= MAX_NAMES:
            self.clear()
        self[name] = secret
        return secret


@lru_cache(maxsize=8)
def _secret_names(patterns: tuple[str, ...]) -> _SecretNames:
    return _SecretNames(patterns)


def _current_rule() -> _SecretNames:
    return _secret_names(tuple(get_settings().redact_keys))


def is_secret_name(name: object) -> bool:
    """Whether a key of this name holds a secret, by the configured rule."""
    return _current_rule()[str(name)]


# Exact types that hold no secret of their own and nothing to walk into (their subclasses
# take the slower general path).
_LEAVES = frozenset({int, float, bool, type(None)})

# Where a value sits, built only when something there is masked: (parent, key), None at the
# top (a list per visited key cost more than the masking itself).
_Where = tuple[Any, str | int] | None


def _path(where: _Where) -> Path:
    parts: Path = []
    while where is not None:
        where, part = where
        parts.append(part)
    parts.reverse()
    return parts


def _maskable(value: Any) -> bool:
    return value is not None and value != "" and not isinstance(value, bool)


class Redactor:
    """Masks secrets and remembers the values it masked, so that later texts of the same
    execution (errors, rendered params) can be scrubbed of them too.

    The rule (``FLOWBOT_REDACT_KEYS``) is read when the redactor is made: one per run."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self._longest_first: list[str] = []  # ``known`` as scrub replaces them, longest first
        self._names = _current_rule()

    def _secret(self, key: object) -> bool:
        return self._names[key if type(key) is str else str(key)]

    def learn(self, value: Any, *, secret: bool = False) -> None:
        """Remember the strings held under secret-named keys of ``value``."""
        kind = type(value)
        if kind is str or kind in _LEAVES:
            if secret and kind is str and len(value) >= MIN_SCRUB_LENGTH:
                self.known.add(value)
        elif kind is dict or isinstance(value, Mapping):
            for key, item in value.items():
                if key != SEALED_KEY and type(item) not in _LEAVES:
                    inner = secret or self._secret(key)
                    if type(item) is not str:
                        self.learn(item, secret=inner)
                    elif inner and len(item) >= MIN_SCRUB_LENGTH:
                        self.known.add(item)
        elif kind is list or kind is tuple or isinstance(value, list | tuple):
            for item in value:
                if type(item) not in _LEAVES:
                    self.learn(item, secret=secret)
        elif secret and isinstance(value, str) and len(value) >= MIN_SCRUB_LENGTH:
            self.known.add(value)

    def scrub(self, text: str | None) -> str | None:
        """``text`` without any secret value this redactor has seen."""
        if not text or not self.known:
            return text
        if len(self._longest_first) != len(self.known):  # learned more since (it only grows)
            self._longest_first = sorted(self.known, key=len, reverse=True)
        for secret in self._longest_first:
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
        """Learns and masks in one walk. Texts are scrubbed of the secrets known when the
        walk reaches them, so one that learned a new secret walks again: then every text
        is scrubbed of all of them, as if the whole value had been learned first."""
        known = len(self.known)
        changes: list[tuple[Path, Any]] = []
        masked = self._mask(value, None, changes)
        if len(self.known) != known:
            changes = []
            masked = self._mask(value, None, changes)
        return masked, changes

    def _mask(self, value: Any, where: _Where, changes: list[tuple[Path, Any]]) -> Any:
        kind = type(value)
        if kind in _LEAVES:
            return value
        if kind is str or (kind is not dict and isinstance(value, str)):
            if not self.known:
                return value
            scrubbed = self.scrub(value)
            if scrubbed != value:
                changes.append((_path(where), value))
            return scrubbed
        if kind is dict or isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if key == SEALED_KEY:
                    continue
                name = key if type(key) is str else str(key)
                if self._names[name] and _maskable(item):
                    self.learn(item, secret=True)
                    changes.append((_path((where, name)), item))
                    out[name] = REDACTED
                elif type(item) in _LEAVES or (type(item) is str and not self.known):
                    out[name] = item
                else:
                    out[name] = self._mask(item, (where, name), changes)
            return out
        if kind is list or kind is tuple or isinstance(value, list | tuple):
            return [self._mask(item, (where, i), changes) for i, item in enumerate(value)]
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

"""Refusal kinds every service shares, so each face (UI, REST) can answer them alike.

A service's own error class stays what its callers catch; a refusal that means "there is
no such thing" also derives from :class:`NotFound` (the API answers 404), one that means
"not now, in this state" from :class:`Conflict` (409).
"""

from __future__ import annotations


class NotFound(LookupError):
    """The named row does not exist (any more)."""


class Conflict(RuntimeError):
    """The request is valid but the thing is not in a state that allows it."""

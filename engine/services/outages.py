"""The database, Redis and Flowbot's own processes down, in words: the System status page
and its REST face show the sentence, the client's raw text stays available as the detail
(a connection's platform errors are explained by engine/services/connections.py)."""

from __future__ import annotations

import re

# What is down, by health-check component (a connection names itself).
WHAT = {
    "database": "The database",
    "redis": "Redis",
    "workers": "The workers",
    "supervisors": "The connector supervisors",
}
CAUSES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), sentence)
    for pattern, sentence in (
        (r"password authentication failed|authentication failed|wrongpass|noauth|"
         r"invalid password|access denied", "refuses Flowbot's credentials: check the "
         "user and password in its URL."),
        (r"database \S+ does not exist", "has no database of the name in its URL."),
        (r"too many (clients|connections)|max ?clients|remaining connection slots",
         "has no free connection: too many clients are connected."),
        (r"connection refused|connect call failed|error 111|actively refused",
         "refuses connections: is it running, at the address in its URL?"),
        (r"could not translate host name|name or service not known|nodename nor servname|"
         r"name resolution|getaddrinfo", "has a host name that does not resolve: check its "
         "URL."),
        (r"timed? ?out|timeout", "did not answer in time."),
        (r"server closed the connection|connection reset|broken pipe|eof|connection lost|"
         r"closed by server", "dropped the connection."),
        (r"read.?only|readonly", "accepts no writes (read-only)."),
        (r"disk|no space left", "has no space left."),
    )
)  # fmt: skip
"""Common failures, first match wins."""


def raw_detail(exc: BaseException) -> str:
    """An exception as the client put it (class and message), for "Details"."""
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def explain_outage(component: str, raw: str) -> str:
    """One sentence for ``component`` failing with ``raw``: what, and the cause in words.
    A health check's own finding (no worker beating, an instance nobody holds) is already
    words and is kept, prefixed by what it concerns."""
    what = WHAT.get(component, component)
    raw = raw.strip()
    for pattern, sentence in CAUSES:
        if pattern.search(raw):
            return f"{what} {sentence}"
    if component in ("workers", "supervisors") and raw:
        return f"{what}: {raw}."
    first = _short(raw)
    return f"{what} failed ({first}); see Details." if first else f"{what} is down."


def _short(raw: str) -> str:
    """The exception's name: the message behind it can be a traceback's worth of text."""
    name = re.match(r"^([\w.]+(?:Error|Exception|Timeout|Refused))\b", raw)
    return name.group(1).rsplit(".", 1)[-1] if name else ""

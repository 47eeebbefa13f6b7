"""Conversions every connector needs between node params (strings from the editor) and
platform arguments: ids, durations "in seconds from now", times and remote files.

A bad value becomes a ``validation`` ActionError naming the field, so the admin sees what to
fix instead of a library traceback.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from engine.action_errors import ActionError, ErrorKind

_INT = re.compile(r"^-?\d+$")
_FILE_ID = re.compile(r"^[A-Za-z0-9_-]{16,}$")


def invalid(field: str, problem: str) -> ActionError:
    return ActionError(ErrorKind.validation, f"{field}: {problem}")


def to_int(value: str | int, field: str) -> int:
    """A numeric id ("-1001234", "42") as an int; rendered expressions may leave spaces."""
    text = str(value).strip()
    if not _INT.match(text):
        raise invalid(field, f"expected a numeric id, got {value!r}")
    return int(text)


def to_ints(values: list[str], field: str) -> list[int]:
    return [to_int(value, field) for value in values]


def chat_ref(value: str | int, field: str = "chat_id") -> int | str:
    """A chat given as a numeric id, ``@username``, ``me`` or an invite link: ints stay ints."""
    text = str(value).strip()
    if not text:
        raise invalid(field, "empty")
    return int(text) if _INT.match(text) else text


def seconds_from_now(seconds: float, *, now: datetime | None = None) -> datetime:
    """The moment ``seconds`` after now (UTC): params say "for 600 seconds", APIs want a time."""
    return (now or datetime.now(UTC)) + timedelta(seconds=seconds)


def to_datetime(value: str, field: str) -> datetime:
    """ISO 8601 with a time zone; a naive time would silently mean the server's zone."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise invalid(field, f"not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise invalid(field, "needs a time zone, e.g. 2025-06-01T19:00:00+02:00")
    return moment


def http_url(value: str, field: str) -> str:
    """An http(s) URL, and nothing else.

    The client libraries read a plain string that is not a URL as a local path and upload
    that file: a flow must never be able to send the server's files.
    """
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(field, f"expected an http(s) URL, got {value!r}")
    return value.strip()


def url_or_file_id(value: str, field: str) -> str:
    """An http(s) URL or a platform file id (never a local path, see :func:`http_url`)."""
    text = value.strip()
    if _FILE_ID.match(text):
        return text
    return http_url(text, field)

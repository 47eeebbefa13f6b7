"""Lists: newest first, at most ``limit`` (≤ 200) a page, continued by an opaque cursor.

The cursor is the last row's id (keyset paging): stable while rows are added, and as fast
on page 500 as on page 1.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Query
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.api.v1.errors import ApiError

MAX_LIMIT = 200
T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (at most 200).")]
Cursor = Annotated[
    str | None, Query(description="`next_cursor` of the previous page; omit for the first.")
]


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first."""

    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last one."
    )


def encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": last_id}).encode()).decode()


def decode(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        before = json.loads(base64.urlsafe_b64decode(cursor.encode()))["before"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ApiError(400, "The cursor is not one this API gave out.") from None
    if not isinstance(before, int):
        raise ApiError(400, "The cursor is not one this API gave out.")
    return before


def keyset(query: Any, id_column: Any, limit: int, cursor: str | None) -> Any:
    """``query`` narrowed to the page after ``cursor``, newest id first, one row extra."""
    before = decode(cursor)
    if before is not None:
        query = query.where(id_column < before)
    return query.order_by(sa.desc(id_column)).limit(limit + 1)


def page_of(rows: Sequence[Any], limit: int, item_id: Any) -> tuple[list[Any], str | None]:
    """The page's rows and the cursor after them (from the extra row :func:`keyset` asked)."""
    rows = list(rows)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode(item_id(rows[-1]))


def fetch(
    session: Session, query: Any, id_column: Any, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """The rows of ``query`` on the page after ``cursor``, and the cursor after them."""
    rows = session.exec(keyset(query, id_column, limit, cursor)).all()
    return page_of(rows, limit, lambda row: getattr(row, id_column.key))

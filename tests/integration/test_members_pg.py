"""The Members list at 100,000 members on PostgreSQL: pages deep in the list match what an
OFFSET query says is there, and the planner walks the (community_id, last_active_at, id)
and (community_id, joined_at, id) indexes from the cursor on, without sorting the set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from bench.members import seed_members
from engine.db import get_engine
from engine.migrations import upgrade
from engine.services import members
from engine.services.members import MemberFilter, MemberSort
from engine.settings import get_settings
from tests.services import fresh_postgres_database

MEMBERS = 100_000


@pytest.fixture(scope="module")
def big(postgresql_module_url: str) -> int:
    with get_engine().begin() as connection:
        return seed_members(connection, MEMBERS)


@pytest.fixture(scope="module")
def postgresql_module_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the module: seeding 100,000 rows once."""
    with fresh_postgres_database() as url, pytest.MonkeyPatch.context() as patch:
        upgrade(url)
        patch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        get_engine.cache_clear()
        yield url
        get_engine().dispose()
        get_engine.cache_clear()
        get_settings.cache_clear()


@pytest.fixture
def session(
    big: int, monkeypatch: pytest.MonkeyPatch, postgresql_module_url: str
) -> Iterator[Session]:
    """The module's database, after the per-test settings reset (tests/conftest.py)."""
    monkeypatch.setenv("DATABASE_URL", postgresql_module_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    with Session(get_engine(), expire_on_commit=False) as s:
        yield s


def _walk(session: Session, community_id: int, sort: MemberSort, pages: int) -> str | None:
    cursor = None
    for _ in range(pages):
        cursor = members.member_page(
            session, community_id, sort=sort, limit=200, cursor=cursor
        ).next_cursor
    return cursor


REFERENCE = {
    MemberSort.last_active: "last_active_at DESC NULLS LAST, id DESC",
    MemberSort.joined: "joined_at DESC, id DESC",
    MemberSort.messages: "message_count DESC, id DESC",
}


@pytest.mark.parametrize("sort", list(REFERENCE))
def test_a_deep_page_is_what_offset_finds(session: Session, big: int, sort: MemberSort) -> None:
    cursor = _walk(session, big, sort, 20)
    page = members.member_page(session, big, sort=sort, limit=50, cursor=cursor)
    expected = session.connection().execute(
        sa.text(
            f"SELECT id FROM community_member WHERE community_id = :c "
            f"ORDER BY {REFERENCE[sort]} OFFSET 4000 LIMIT 50"
        ),
        {"c": big},
    )
    assert [r.member_id for r in page.rows] == [row.id for row in expected]


def _plans(session: Session, run: Any) -> list[str]:
    """EXPLAIN of each member-list query ``run`` sends."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM community_member" in statement and "ORDER BY" in statement:
            sent.append((statement, parameters))

    engine = get_engine()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    with engine.connect() as connection:
        return [
            "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}", params))
            for sql, params in sent
        ]


@pytest.mark.parametrize(
    ("sort", "index"),
    [
        (MemberSort.last_active, "ix_community_member_recent"),
        (MemberSort.joined, "ix_community_member_joined"),
    ],
)
def test_deep_pages_start_at_the_cursor_in_the_index(
    session: Session, big: int, sort: MemberSort, index: str
) -> None:
    cursor = _walk(session, big, sort, 100)
    plans = _plans(session, lambda: members.member_page(session, big, sort=sort, cursor=cursor))
    assert plans, "no member query was sent"
    ranked = plans[0]
    assert f"Index Scan Backward using {index}" in ranked, ranked
    assert "Sort" not in ranked, ranked  # no sort of the whole set per page
    # the cursor is an index bound, not a filter applied to every row before it
    cond = next(line for line in ranked.splitlines() if "Index Cond" in line)
    assert "ROW(" in cond, ranked


def test_filters_and_search_at_scale(session: Session, big: int) -> None:
    def everyone(**filters: Any) -> int:
        total, cursor = 0, None
        while True:
            page = members.member_page(
                session, big, filters=MemberFilter(**filters), limit=200, cursor=cursor
            )
            total += len(page.rows)
            if not (cursor := page.next_cursor):
                return total

    assert everyone(banned=True) == MEMBERS // 200
    assert everyone(warned=True) == MEMBERS // 100
    assert everyone(role=members.MemberRole.admin) == MEMBERS // 500
    found = members.member_page(session, big, filters=MemberFilter(search="useru4242")).rows
    assert {r.username for r in found} == {"useru4242", *(f"useru4242{d}" for d in range(10))}
    exact = members.member_page(session, big, filters=MemberFilter(search="u77777")).rows
    assert [r.platform_user_id for r in exact] == ["u77777"]

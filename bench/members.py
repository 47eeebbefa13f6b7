"""Members benchmark on PostgreSQL: how fast events become member rows, and how fast the
Members page's queries answer at 100,000 members.

    python -m bench.members            # 2,000 joins, 2,000 messages, 100,000 members
    python -m bench.members -n 100     # calls per query measurement (default 30)

Ingest: join and message events of a Telegram group attached to a community go through
engine/services/member_ingest.observe, one transaction per event as route_event runs it
(the join creates the account and the member, a message counts on an existing member).
Queries: engine/services/members.member_page (the page and the REST API call it) on a
community of 100,000 members generated inside PostgreSQL (tests/integration/test_members_pg),
first page, a page 50,000 members deep (by cursor), a search, filters and each sort.
A fresh scratch database is created and dropped. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.engine import configure, measure, print_figures

MEMBERS = 100_000
DEEP_PAGES = 250  # of 200: the cursor 50,000 members in
WARMUP = 10


def _event(kind: str, i: int, user: int) -> Any:
    from engine.platform_event import EventChat, EventUser, PlatformEvent

    return PlatformEvent(
        event_id=f"bench:{kind}:{i}",
        kind=kind,
        platform="telegram",
        connector="telegram_bot",
        chat=EventChat(id="-100777", type="supergroup", title="Bench group"),
        user=EventUser(id=str(900_000 + user), username=f"bench{user}", first_name="Bench"),
        text="hello" if kind == "tg_message" else None,
    )


def _observer(kind: str, users: Callable[[int], int]) -> Callable[[int], Awaitable[None]]:
    """One event a call, observed in its own transaction off the event loop."""
    from engine.db import session_scope
    from engine.services.member_ingest import observe

    def observe_one(i: int) -> None:
        with session_scope() as session:
            seen = observe(session, _event(kind, i, users(i)))
        if seen.member_id is None:
            raise RuntimeError(f"{kind} {i} recorded no member")

    async def run_one(i: int) -> None:
        await asyncio.to_thread(observe_one, i)

    return run_one


def _attach_group() -> None:
    from engine.db import session_scope
    from engine.models import Chat, Community, Platform

    with session_scope() as session:
        community = Community(name="Ingest")
        session.add(community)
        session.flush()
        session.add(
            Chat(
                platform=Platform.telegram,
                platform_chat_id="-100777",
                type="supergroup",
                community_id=community.id,
            )
        )


def _querier(community_id: int, **options: Any) -> Callable[[int], Awaitable[None]]:
    from engine.db import session_scope
    from engine.services import members

    def query() -> None:
        with session_scope() as session:
            members.member_page(session, community_id, **options)

    async def run_one(_: int) -> None:
        await asyncio.to_thread(query)

    return run_one


def _deep_cursor(community_id: int, sort: Any) -> str | None:
    from engine.db import session_scope
    from engine.services import members

    cursor = None
    with session_scope() as session:
        for _ in range(DEEP_PAGES):
            page = members.member_page(session, community_id, sort=sort, limit=200, cursor=cursor)
            cursor = page.next_cursor
    return cursor


async def _rows(n: int, joins: int) -> list[tuple[str, dict[str, Any]]]:
    from engine.db import get_engine
    from engine.services.members import MemberFilter, MemberSort
    from tests.integration.test_members_pg import seed_members

    _attach_group()
    rows: list[tuple[str, dict[str, Any]]] = [
        (
            "ingest: join (new account + member)",
            await measure(_observer("tg_member_joined", lambda i: i), joins // 2),
        ),
        (
            "ingest: message (existing member)",
            await measure(_observer("tg_message", lambda i: i % joins), joins // 2),
        ),
    ]
    started = time.perf_counter()
    with get_engine().begin() as connection:
        community_id = seed_members(connection, MEMBERS)
    print(f"seeded {MEMBERS:,} members in {time.perf_counter() - started:.1f} s", flush=True)

    deep = _deep_cursor(community_id, MemberSort.last_active)
    deep_joined = _deep_cursor(community_id, MemberSort.joined)
    cases = [
        ("page 1, last active", {}),
        ("page 251 (50,000 in), last active", {"cursor": deep}),
        ("page 1, joined", {"sort": MemberSort.joined}),
        ("page 251, joined", {"sort": MemberSort.joined, "cursor": deep_joined}),
        ("page 1, messages", {"sort": MemberSort.messages}),
        ("page 1, warnings", {"sort": MemberSort.warnings}),
        ("page 1, reputation", {"sort": MemberSort.reputation}),
        ("search 'useru4242'", {"filters": MemberFilter(search="useru4242")}),
        ("search a user id", {"filters": MemberFilter(search="u77777")}),
        ("filter warned", {"filters": MemberFilter(warned=True)}),
        ("filter banned", {"filters": MemberFilter(banned=True)}),
        ("filter discord + joined 30 d", {"filters": MemberFilter(
            platform="discord", joined_within_days=30)}),  # type: ignore[arg-type]
    ]  # fmt: skip
    for title, options in cases:
        run_one = _querier(community_id, **options)
        for i in range(WARMUP):
            await run_one(i)
        rows.append((f"{title}", await measure(run_one, n)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="calls per query measurement")
    parser.add_argument("--joins", type=int, default=4000, help="ingest events (both kinds)")
    args = parser.parse_args(argv)

    from engine.migrations import upgrade
    from tests.services import PostgresUnreachable, scratch_postgres_database

    try:
        with scratch_postgres_database("flowbot_bench_members") as url:
            try:
                configure(
                    DATABASE_URL=url,
                    FLOWBOT_DATA_DIR=tempfile.mkdtemp(prefix="flowbot-bench-members-"),
                    FLOWBOT_SECRET_KEY="bench-secret-key",
                )
                upgrade(url)
                rows = asyncio.run(_rows(args.n, args.joins))
            finally:
                from engine.db import get_engine

                get_engine().dispose()
    except PostgresUnreachable as exc:
        raise SystemExit(str(exc)) from None
    print_figures("members (PostgreSQL)", "n", rows)
    print(
        f"\nIngest: one event per transaction (seq/s: one at a time; burst/s: 16 in flight). "
        f"Queries: member_page, 50 a page, {MEMBERS:,} members; p50/p99 of one call."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

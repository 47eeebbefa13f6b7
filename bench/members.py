"""Members benchmark on PostgreSQL: how fast events become member rows, and how fast the
Members page's queries answer at 100,000 members.

    python -m bench.members            # 2,000 joins, 2,000 messages, 100,000 members
    python -m bench.members -n 100     # calls per query measurement (default 30)

Ingest: join and message events of a Telegram group attached to a community go through
engine/services/member_ingest.observe, one transaction per event as route_event runs it
(the join creates the account and the member, a message counts on an existing member).
Queries: engine/services/members.member_page (the page and the REST API call it) on a
community of 100,000 members generated inside PostgreSQL (seed_members, which
tests/integration/test_members_pg.py uses too): first page, a page 50,000 members deep
(by cursor), a search, filters and each sort.
A fresh scratch database is created and dropped. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa

from bench._services import bench_database
from bench.engine import measure, print_figures

MEMBERS = 100_000
DEEP_PAGES = 250  # of 200: the cursor 50,000 members in
WARMUP = 10


def seed_members(connection: sa.Connection, count: int, prefix: str = "u") -> int:
    """A community of ``count`` members, generated inside PostgreSQL: platforms in turn,
    every 10th never active, every 50th left, every 200th banned, every 100th warned, every
    3rd with a reputation score. Returns the community's id."""
    community_id = connection.execute(
        sa.text(
            "INSERT INTO community (name, description, is_active, created_at, updated_at) "
            "VALUES (:name, '', true, now(), now()) RETURNING id"
        ),
        {"name": f"Big {prefix}"},
    ).scalar_one()
    connection.execute(
        sa.text(
            "INSERT INTO platform_account (platform, platform_user_id, username, display_name,"
            " is_bot, first_seen_at, last_seen_at) "
            "SELECT (ARRAY['telegram','discord','whatsapp'])[1 + g % 3], :p || g, "
            "'user' || :p || g, 'Person ' || g, false, now(), now() "
            "FROM generate_series(1, :n) g"
        ),
        {"p": prefix, "n": count},
    )
    connection.execute(
        sa.text(
            "INSERT INTO community_member (community_id, platform_account_id, role, joined_at,"
            " left_at, last_active_at, message_count, is_banned, muted_until) "
            "SELECT :c, a.id, CASE WHEN g % 500 = 0 THEN 'admin' ELSE 'member' END, "
            "now() - ((g * 7919) % 525600) * interval '1 minute', "
            "CASE WHEN g % 50 = 0 THEN now() END, "
            "CASE WHEN g % 10 = 0 THEN NULL "
            "ELSE now() - ((g * 104729) % 43200) * interval '1 minute' END, "
            "(g * 31) % 997, g % 200 = 0, NULL "
            "FROM platform_account a, LATERAL substr(a.platform_user_id, length(:p) + 1) s, "
            "LATERAL CAST(s AS bigint) g WHERE a.platform_user_id LIKE :p || '%'"
        ),
        {"c": community_id, "p": prefix},
    )
    connection.execute(
        sa.text(
            "INSERT INTO warning (community_id, platform_account_id, reason, issued_by, "
            "created_at) SELECT :c, platform_account_id, 'spam', 'bench', now() "
            "FROM community_member WHERE community_id = :c AND id % 100 = 1"
        ),
        {"c": community_id},
    )
    connection.execute(
        sa.text(
            "INSERT INTO reputation_score (community_id, platform_account_id, score, given_up,"
            " given_down, updated_at) SELECT :c, platform_account_id, (id * 13) % 41 - 10, 0, "
            "0, now() FROM community_member WHERE community_id = :c AND id % 3 = 0"
        ),
        {"c": community_id},
    )
    connection.execute(sa.text("ANALYZE"))
    return int(community_id)


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
    with bench_database(
        "flowbot_bench_members",
        FLOWBOT_DATA_DIR=tempfile.mkdtemp(prefix="flowbot-bench-members-"),
        FLOWBOT_SECRET_KEY="bench-secret-key",
    ):
        rows = asyncio.run(_rows(args.n, args.joins))
    print_figures("members (PostgreSQL)", "n", rows)
    print(
        f"\nIngest: one event per transaction (seq/s: one at a time; burst/s: 16 in flight). "
        f"Queries: member_page, 50 a page, {MEMBERS:,} members; p50/p99 of one call."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

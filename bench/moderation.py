"""Moderation log benchmark on PostgreSQL: how fast the Moderation page's queries answer
with 200,000 log rows and 100,000 warnings.

    python -m bench.moderation         # 30 calls per measurement
    python -m bench.moderation -n 100

The rows are generated inside PostgreSQL: 10 communities, 20,000 accounts (every fourth
linked into an identity), 100,000 warnings over 60 days, 200,000 log rows over 90 days by
people, rules and flows. Measured: engine/services/moderation_log.py as the page and the
REST API call it: the 30-day overview (all communities, one), log pages (first, 10,000
rows deep by cursor), filters, a member search and one CSV chunk. A fresh scratch database
is created and dropped. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bench._reads import measure_reads
from bench._services import bench_database
from bench.engine import print_figures

COMMUNITIES = 10
ACCOUNTS = 20_000
WARNINGS = 100_000
LOG_ROWS = 200_000
DEEP = 10_000  # rows into the log for the deep page
WARMUP = 5

SEED = [
    f"""INSERT INTO community (name, description, is_active, created_at, updated_at)
    SELECT 'Community ' || i, '', true, now(), now() FROM generate_series(1, {COMMUNITIES}) i""",
    f"""INSERT INTO user_identity (display_name, notes, created_at)
    SELECT 'Person ' || i, '', now() FROM generate_series(1, {ACCOUNTS // 4}) i""",
    f"""INSERT INTO platform_account (identity_id, platform, platform_user_id, username,
        display_name, is_bot, first_seen_at, last_seen_at)
    SELECT CASE WHEN i % 4 = 0 THEN i / 4 END,
        (ARRAY['telegram', 'discord', 'whatsapp'])[i % 3 + 1], 'u' || i, 'user' || i,
        'User ' || i, false, now(), now()
    FROM generate_series(1, {ACCOUNTS}) i""",
    f"""INSERT INTO warning (community_id, platform_account_id, reason, issued_by, created_at,
        expires_at, revoked_at)
    SELECT i % {COMMUNITIES} + 1, (i * 7) % {ACCOUNTS} + 1, 'spam', 'rules:antilink',
        now() - make_interval(days => i % 60, mins => i % 1440),
        CASE WHEN i % 3 = 0 THEN now() + interval '30 days' END,
        CASE WHEN i % 10 = 0 THEN now() END
    FROM generate_series(1, {WARNINGS}) i""",
    f"""INSERT INTO moderation_log (community_id, action, platform, target_account_id, actor,
        reason, details, created_at)
    SELECT i % {COMMUNITIES} + 1,
        (ARRAY['warn', 'mute', 'kick', 'ban', 'unban', 'unmute', 'delete_message'])[i % 7 + 1],
        (ARRAY['telegram', 'discord', 'whatsapp'])[(i * 13) % {ACCOUNTS} % 3 + 1],
        (i * 13) % {ACCOUNTS} + 1,
        (ARRAY['ada', 'rules:antilink', 'flow:' || i % 5])[i % 3 + 1],
        'reason ' || i,
        '{{"results": [{{"platform": "telegram", "chat_id": "-1001", "ok": true,
            "error": null, "skipped": false}}]}}'::jsonb,
        now() - make_interval(days => (({LOG_ROWS} - i) * 90) / {LOG_ROWS}, mins => i % 1440)
    FROM generate_series(1, {LOG_ROWS}) i""",
    "ANALYZE",
]


def _seed() -> None:
    import sqlalchemy as sa

    from engine.db import get_engine

    with get_engine().begin() as connection:
        for statement in SEED[:-1]:
            connection.execute(sa.text(statement))
    with get_engine().connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text(SEED[-1]))


def _deep_before() -> int:
    """The id DEEP rows into the log, newest first (the cursor of that page)."""
    import sqlalchemy as sa

    from engine.db import get_engine

    with get_engine().connect() as connection:
        query = "SELECT id FROM moderation_log ORDER BY id DESC OFFSET :n LIMIT 1"
        return int(connection.execute(sa.text(query), {"n": DEEP}).scalar_one())


async def _rows(n: int) -> list[tuple[str, dict[str, Any]]]:
    from engine.models import utcnow
    from engine.services import moderation_log as ml
    from engine.services.moderation_log import LogFilters

    started = time.perf_counter()
    _seed()
    print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
    deep = _deep_before()

    def page(filters: LogFilters, before: int | None = None) -> Callable[[Any, Any], object]:
        return lambda s, me: ml.log_entries(s, me, filters, limit=51, before=before)

    week = LogFilters(since=utcnow() - timedelta(days=7), action="ban")
    cases: list[tuple[str, Callable[[Any, Any], object]]] = [
        ("overview, all communities", lambda s, me: ml.overview(s, me)),
        ("overview, one community", lambda s, me: ml.overview(s, me, 3)),
        ("log page 1", page(LogFilters())),
        (f"log page {DEEP // 50 + 1} ({DEEP:,} in)", page(LogFilters(), deep)),
        ("log page 1, one community", page(LogFilters(community_id=3))),
        ("log, community + rules actor", page(LogFilters(community_id=3, actor="rules:antilink"))),
        ("log, bans of the last 7 days", page(week)),
        ("log, member search 'user4242'", page(LogFilters(member="user4242"))),
        ("CSV chunk (500 rows)", lambda s, me: ml.csv_chunk(s, me, LogFilters())),
    ]
    return await measure_reads(cases, n, WARMUP)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="calls per measurement")
    args = parser.parse_args(argv)

    with bench_database(
        "flowbot_bench_moderation",
        FLOWBOT_DATA_DIR=tempfile.mkdtemp(prefix="flowbot-bench-moderation-"),
        FLOWBOT_SECRET_KEY="bench-secret-key",
    ):
        rows = asyncio.run(_rows(args.n))
    print_figures("moderation log (PostgreSQL)", "n", rows)
    print(
        f"\n{LOG_ROWS:,} log rows, {WARNINGS:,} warnings, {ACCOUNTS:,} accounts; p50/p99 of one "
        "call (seq/s: one at a time; burst/s: 16 in flight)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Dashboard benchmark on PostgreSQL: how fast the Dashboard's reads answer over the
analytics benchmark's year of data.

    python -m bench.dashboard          # 20 calls per measurement
    python -m bench.dashboard -n 50

Seeded as bench/analytics.py seeds (10 communities, 400,000 members of whom a quarter
left, 200,000 moderation actions, 100 flows with 82,200 execution rows over 30 days and
roll-ups for the year), plus 100,000 connection log rows over 30 days. Measured, as the
page and GET /api/v1/activity call them: the activity feed (its first 15 items, a page of
50, and a page 1,000 items deep by cursor), the counters (engine/services/overview.py),
what one live update reads (counters and feed together, once per burst of bus events),
and the charts read on load (executions per hour for 7 days, the five largest
communities' week). Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable
from typing import Any

from bench._reads import measure_reads
from bench._services import bench_database
from bench.analytics import _seed
from bench.engine import print_figures

CONNECTION_LOG_ROWS = 100_000
DEEP = 1_000  # items into the feed for the deep page
WARMUP = 3

SEED = [
    """INSERT INTO bot_instance (name, kind, default_language, settings, created_at, updated_at)
    SELECT 'Bot ' || i, 'telegram_bot', 'en', '{}', now(), now() FROM generate_series(1, 10) i""",
    """INSERT INTO platform_connection (bot_instance_id, is_active, status, restart_count,
        details, created_at, updated_at)
    SELECT i, true, 'connected', 0, '{}', now(), now() FROM generate_series(1, 10) i""",
    f"""INSERT INTO platform_connection_log (connection_id, level, event, message, details,
        created_at)
    SELECT i % 10 + 1, CASE WHEN i % 5 = 0 THEN 'error' ELSE 'info' END,
        (ARRAY['status.connecting', 'status.connected', 'status.error'])[i % 3 + 1],
        'message ' || i, '{{}}',
        now() - make_interval(secs => i * 30 * 86400.0 / {CONNECTION_LOG_ROWS})
    FROM generate_series(1, {CONNECTION_LOG_ROWS}) i""",
]


def _seed_connections() -> None:
    import sqlalchemy as sa

    from engine.db import get_engine

    with get_engine().begin() as connection:
        for statement in SEED:
            connection.execute(sa.text(statement))
    with get_engine().connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))


def _deep_cursor() -> Any:
    from engine.db import session_scope
    from engine.models import AdminUser, Role
    from engine.services.activity import MAX_LIMIT, recent_activity

    viewer = AdminUser(username="bench", role=Role.viewer, password_hash="")
    before = None
    with session_scope() as session:
        for _ in range(DEEP // MAX_LIMIT):
            before = recent_activity(session, viewer, MAX_LIMIT, before)[-1].cursor
    return before


async def _rows(n: int) -> list[tuple[str, dict[str, Any]]]:
    from engine.services import activity, analytics, overview

    _seed()
    _seed_connections()
    deep = _deep_cursor()
    week = analytics.day_range(7)

    def update(session: Any, me: Any) -> object:
        return overview.overview(session, me), activity.recent_activity(session, me, 15)

    cases: list[tuple[str, Callable[[Any, Any], object]]] = [
        ("feed, first 15 items", lambda s, me: activity.recent_activity(s, me, 15)),
        ("feed, a page of 50", lambda s, me: activity.recent_activity(s, me, 51)),
        (f"feed, 50 items {DEEP:,} deep", lambda s, me: activity.recent_activity(s, me, 51, deep)),
        ("counters", lambda s, me: overview.overview(s, me)),
        ("one live update (counters + feed)", update),
        ("executions per hour, 7 days", lambda s, me: analytics.executions_per_hour(s, me, 168)),
        ("five largest communities, 7 days", lambda s, me: overview.community_trends(s, me, week)),
    ]
    return await measure_reads(cases, n, WARMUP)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="calls per measurement")
    args = parser.parse_args(argv)

    with bench_database(
        "flowbot_bench_dashboard",
        FLOWBOT_DATA_DIR=tempfile.mkdtemp(prefix="flowbot-bench-dashboard-"),
        FLOWBOT_SECRET_KEY="bench-secret-key",
    ):
        rows = asyncio.run(_rows(args.n))
    print_figures("dashboard (PostgreSQL)", "n", rows)
    print(
        "\nThe analytics bench's year of data plus "
        f"{CONNECTION_LOG_ROWS:,} connection log rows; p50/p99 of one call (seq/s: one at a "
        "time; burst/s: 16 in flight)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Analytics benchmark on PostgreSQL: how fast each chart of the Community and Flow
analytics pages (and the dashboard's hourly chart) answers over a year of data.

    python -m bench.analytics          # 20 calls per measurement
    python -m bench.analytics -n 50

Seeded inside PostgreSQL (multi-row INSERT ... SELECT): 10 communities with 1,000,000
recorded events over a year (400,000 joins, 100,000 leaves, 300,000 warnings, 200,000
moderation actions), their daily snapshots computed from those events, 20,000 message
events on each of the two live days; 100 flows with about 1,000,000 executions: the last
30 days as execution rows with three steps each, rolled up by the real daily job
(engine/maintenance.rollup_flow_stats) for the days before yesterday, and roll-up rows for
the 11 months before; each finished month merged into month rows. Measured:
engine/services/analytics.py as the pages and the REST API call it (today, and yesterday
until its job has run, counted live; the rest read from snapshots and roll-ups).
A fresh scratch database is created and dropped. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench._reads import measure_reads
from bench._services import bench_database
from bench.engine import print_figures

COMMUNITIES = 10
JOINS = 400_000
WARNINGS = 300_000
MODERATION = 200_000
MESSAGES_PER_LIVE_DAY = 20_000
FLOWS = 100
RECENT_EXECUTIONS = 82_200  # 30 days of about 2,740 a day
ROWS_DAYS = 30  # days kept as execution rows
YEAR = 365
WARMUP = 3
UTC_TODAY = "timezone('UTC', now())::date"

SEED = [
    f"""INSERT INTO community (name, description, is_active, created_at, updated_at)
    SELECT 'Community ' || i, '', true, now(), now() FROM generate_series(1, {COMMUNITIES}) i""",
    f"""INSERT INTO chat (platform, platform_chat_id, type, title, bot_is_admin, bot_rights,
        first_seen_at, updated_at, community_id)
    SELECT 'telegram', '-100' || i, 'group', 'Chat ' || i, false, '{{}}', now(), now(), i
    FROM generate_series(1, {COMMUNITIES}) i""",
    f"""INSERT INTO platform_account (platform, platform_user_id, display_name, is_bot,
        first_seen_at, last_seen_at)
    SELECT (ARRAY['telegram', 'discord', 'whatsapp'])[i % 3 + 1], 'u' || i, 'User ' || i,
        false, now(), now()
    FROM generate_series(1, {JOINS}) i""",
    # A join a year back at most; every 4th member left since, every 200th is banned.
    f"""INSERT INTO community_member (community_id, platform_account_id, role, joined_at,
        left_at, message_count, is_banned)
    SELECT i % {COMMUNITIES} + 1, i, 'member', joined,
        CASE WHEN i % 4 = 0 THEN joined + (now() - joined) * ((i * 37) % 100) / 100.0 END,
        0, i % 200 = 0
    FROM generate_series(1, {JOINS}) i,
        LATERAL (SELECT now() - make_interval(mins => ((i::bigint * 7919) % 525000)::int)
            AS joined) j""",
    f"""INSERT INTO warning (community_id, platform_account_id, reason, issued_by, created_at)
    SELECT i % {COMMUNITIES} + 1, (i * 7) % {JOINS} + 1, 'spam', 'rules:antilink',
        now() - make_interval(mins => ((i::bigint * 104729) % 525000)::int)
    FROM generate_series(1, {WARNINGS}) i""",
    f"""INSERT INTO moderation_log (community_id, action, actor, reason, details, created_at)
    SELECT i % {COMMUNITIES} + 1, (ARRAY['ban', 'mute', 'kick', 'delete_message'])[i % 4 + 1],
        'rules:antilink', 'reason', '{{}}',
        now() - make_interval(mins => ((i::bigint * 7907) % 525000)::int)
    FROM generate_series(1, {MODERATION}) i""",
    # The snapshots the daily job would have taken, from the events above.
    f"""INSERT INTO community_analytics_snapshot (community_id, day, member_count, joined,
        "left", messages, active_members, warnings, bans, by_platform, created_at)
    WITH days AS (
        SELECT c.id AS community_id, {UTC_TODAY} - g AS day
        FROM community c, generate_series(2, {YEAR}) g),
    joined AS (SELECT community_id, timezone('UTC', joined_at)::date AS day, count(*) AS n
        FROM community_member GROUP BY 1, 2),
    gone AS (SELECT community_id, timezone('UTC', left_at)::date AS day, count(*) AS n
        FROM community_member WHERE left_at IS NOT NULL GROUP BY 1, 2),
    warned AS (SELECT community_id, timezone('UTC', created_at)::date AS day, count(*) AS n
        FROM warning GROUP BY 1, 2),
    banned AS (SELECT community_id, timezone('UTC', created_at)::date AS day, count(*) AS n
        FROM moderation_log WHERE action = 'ban' GROUP BY 1, 2)
    SELECT d.community_id, d.day,
        sum(coalesce(j.n, 0) - coalesce(g.n, 0)) OVER (PARTITION BY d.community_id
            ORDER BY d.day),
        coalesce(j.n, 0), coalesce(g.n, 0), 15000 + (d.day - DATE '2000-01-01') % 9000,
        2000 + (d.day - DATE '2000-01-01') % 700, coalesce(w.n, 0), coalesce(b.n, 0),
        '{{}}', now()
    FROM days d LEFT JOIN joined j USING (community_id, day) LEFT JOIN gone g
        USING (community_id, day) LEFT JOIN warned w USING (community_id, day)
        LEFT JOIN banned b USING (community_id, day)""",
    f"""INSERT INTO flow_event (event_id, kind, platform, payload, created_at)
    SELECT 'e' || i, 'tg_message', 'telegram', jsonb_build_object('platform', 'telegram',
        'chat', jsonb_build_object('id', '-100' || (i % {COMMUNITIES} + 1)),
        'user', jsonb_build_object('id', ((i * 7) % 5000)::text)),
        greatest(now() - make_interval(secs => i * 86400.0 / {MESSAGES_PER_LIVE_DAY} / 2),
                 timezone('UTC', {UTC_TODAY} - 1))
    FROM generate_series(1, {2 * MESSAGES_PER_LIVE_DAY}) i""",
    f"""INSERT INTO flow_definition (name, description, status, graph, revision, created_by,
        created_at, updated_at)
    SELECT 'Flow ' || i, '', 'active', '{{}}', 0, 'bench', now(), now()
    FROM generate_series(1, {FLOWS}) i""",
    # Every 20th fails, every 50th is stopped; 10 ms to 3 s.
    f"""INSERT INTO flow_execution (flow_id, status, trigger_type, trigger_data, context, depth,
        step_count, started_at, finished_at)
    SELECT i % {FLOWS} + 1,
        CASE WHEN i % 20 = 0 THEN 'failed' WHEN i % 50 = 1 THEN 'stopped'
            ELSE 'succeeded' END,
        (ARRAY['tg_message', 'webhook', 'schedule', 'manual'])[i % 4 + 1], '{{}}', '{{}}', 0, 3,
        ended - make_interval(secs => 0.01 + ((i * 7919) % 3000) / 1000.0), ended
    FROM generate_series(1, {RECENT_EXECUTIONS}) i,
        LATERAL (SELECT now() - make_interval(secs => i * {ROWS_DAYS} * 86400.0
            / {RECENT_EXECUTIONS}) AS ended) e""",
    """INSERT INTO flow_execution_step (execution_id, seq, step_key, node_id, node_type, status,
        input, error, started_at, duration_ms)
    SELECT e.id, s, n.node, n.node, 'x',
        CASE WHEN e.status = 'failed' AND s = 3 THEN 'failed' ELSE 'succeeded' END, '{}',
        CASE WHEN e.status = 'failed' AND s = 3 THEN
            (ARRAY['chat not found', 'flood wait'])[e.id % 2 + 1] END,
        e.started_at, (e.id * 13 % 500) / s
    FROM flow_execution e, generate_series(1, 3) s,
        LATERAL (SELECT (ARRAY['trigger1', 'if1', 'send1'])[s] AS node) n""",
    # The 11 months before the execution rows: 27 or 28 executions per flow and day.
    f"""INSERT INTO flow_daily_stats (flow_id, day, span, executions, succeeded, failed,
        stopped, duration_ms_sum, duration_histogram, triggers, failed_nodes, node_time,
        updated_at)
    SELECT f, {UTC_TODAY} - d, 'day', 27 + (f + d) % 2, 25 + (f + d) % 2, 1, 1, 27 * 420.0,
        jsonb_build_object('100', 8, '250', 9, '500', 6, '1000', 3 + (f + d) % 2, '5000', 1),
        jsonb_build_object('tg_message', 20 + (f + d) % 2, 'webhook', 7),
        jsonb_build_object('send1', jsonb_build_object('count', 1, 'errors',
            jsonb_build_object((ARRAY['chat not found', 'flood wait'])[d % 2 + 1], 1))),
        jsonb_build_object('trigger1', jsonb_build_array(27, 54.0), 'if1',
            jsonb_build_array(27, 27.0), 'send1', jsonb_build_array(27, 8100.0)),
        now()
    FROM generate_series(1, {FLOWS}) f, generate_series({ROWS_DAYS + 1}, {YEAR}) d""",
]


def _seed() -> dict[str, float]:
    """Seed, roll up the days of execution rows with the daily job and merge each finished
    month's days into month rows (as the daily job does when a month ends); how long each
    took."""
    from datetime import timedelta

    import sqlalchemy as sa

    from engine import maintenance
    from engine.db import get_engine
    from engine.models import utcnow

    started = time.perf_counter()
    with get_engine().begin() as connection:
        for statement in SEED:
            connection.execute(sa.text(statement))
    seeded = time.perf_counter() - started
    today = utcnow().date()
    started = time.perf_counter()
    for days_ago in range(2, ROWS_DAYS + 1):
        maintenance.rollup_flow_stats(today - timedelta(days=days_ago))
    rolled = (time.perf_counter() - started) / (ROWS_DAYS - 1)
    started, months = time.perf_counter(), 0
    first = (today - timedelta(days=YEAR)).replace(day=1)
    while (first + timedelta(days=32)).replace(day=1) <= today:
        maintenance.rollup_flow_month(first)
        first, months = (first + timedelta(days=32)).replace(day=1), months + 1
    merged = (time.perf_counter() - started) / months
    with get_engine().connect() as connection:  # as autovacuum would have by then
        vacuum = connection.execution_options(isolation_level="AUTOCOMMIT")
        vacuum.execute(sa.text("VACUUM ANALYZE"))
    return {"seeded_s": seeded, "rollup_s": rolled, "month_s": merged}


def _counts() -> dict[str, int]:
    import sqlalchemy as sa

    from engine.db import get_engine

    queries = {
        "events": "SELECT (SELECT count(*) FROM community_member)"
        " + (SELECT count(*) FROM community_member WHERE left_at IS NOT NULL)"
        " + (SELECT count(*) FROM warning) + (SELECT count(*) FROM moderation_log)",
        "executions": "SELECT (SELECT sum(executions) FROM flow_daily_stats WHERE span = 'day'"
        f" AND day < {UTC_TODAY} - {ROWS_DAYS}) + (SELECT count(*) FROM flow_execution)",
        "rollup_rows": "SELECT count(*) FROM flow_daily_stats",
        "snapshots": "SELECT count(*) FROM community_analytics_snapshot",
    }
    with get_engine().connect() as connection:
        return {k: int(connection.execute(sa.text(q)).scalar_one()) for k, q in queries.items()}


async def _rows(n: int) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    from engine.services import analytics as an

    facts: dict[str, Any] = dict(_seed())
    facts.update(_counts())
    month, quarter, year = an.day_range(30), an.day_range(90), an.day_range(YEAR)
    cases: list[tuple[str, Callable[[Any, Any], object]]] = [
        ("community series, 30 days", lambda s, me: an.community_series(s, me, 3, month)),
        ("community series, 365 days", lambda s, me: an.community_series(s, me, 3, year)),
        (
            "compare 5 communities, 90 days",
            lambda s, me: an.compare_communities(s, me, [1, 2, 3, 4, 5], quarter),
        ),
        ("flow series, one flow, 30 days", lambda s, me: an.flow_series(s, me, 7, month)),
        ("flow series, all flows, 30 days", lambda s, me: an.flow_series(s, me, None, month)),
        ("flow series, all flows, 365 days", lambda s, me: an.flow_series(s, me, None, year)),
        ("flow summary, one flow, 30 days", lambda s, me: an.flow_summary(s, me, 7, month)),
        ("flow summary, one flow, 365 days", lambda s, me: an.flow_summary(s, me, 7, year)),
        ("flow summary, all flows, 30 days", lambda s, me: an.flow_summary(s, me, None, month)),
        ("flow summary, all flows, 365 days", lambda s, me: an.flow_summary(s, me, None, year)),
        ("flow table, 30 days", lambda s, me: an.flow_table(s, me, month)),
        ("executions per hour, 168 h", lambda s, me: an.executions_per_hour(s, me, 168)),
    ]
    rows = await measure_reads(cases, n, WARMUP)
    return rows, facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="calls per measurement")
    args = parser.parse_args(argv)

    with bench_database(
        "flowbot_bench_analytics",
        FLOWBOT_DATA_DIR=tempfile.mkdtemp(prefix="flowbot-bench-analytics-"),
        FLOWBOT_SECRET_KEY="bench-secret-key",
    ):
        rows, facts = asyncio.run(_rows(args.n))
    print_figures("analytics (PostgreSQL)", "n", rows)
    print(
        f"\n{facts['events']:,} recorded community events, {facts['snapshots']:,} snapshots; "
        f"{facts['executions']:,} executions of {FLOWS} flows ({facts['rollup_rows']:,} "
        f"roll-up rows, the last {ROWS_DAYS} days as rows). Seeded in {facts['seeded_s']:.1f} s;"
        f" the daily flow roll-up of one day ({RECENT_EXECUTIONS // ROWS_DAYS:,} executions) "
        f"took {facts['rollup_s'] * 1000:.0f} ms, merging a month of 100 flows' days "
        f"{facts['month_s'] * 1000:.0f} ms. p50/p99 of one call (seq/s: one at a time; "
        "burst/s: 16 in flight)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

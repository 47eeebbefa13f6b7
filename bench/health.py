"""Health benchmark on PostgreSQL: what a heartbeat, the System status page and one
health check cost with 200 active connections, 30 processes and 30 days of checks.

    python -m bench.health          # 50 calls per measurement
    python -m bench.health -n 200

Seeded inside PostgreSQL: 200 connections (one in five in error), 30 process heartbeats,
8,640 health checks (every 5 minutes for 30 days) of 205 components each, 500 incidents.
Measured one call at a time: ``heartbeats.beat`` (the one UPDATE each process makes every
30 s), ``system_status.gather`` (the page and ``GET /api/v1/system/status``) and
``health_check.run_check`` with no channel chosen. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

import sqlalchemy as sa

from bench._services import bench_database

CONNECTIONS = 200
CHECKS = 8_640
SEED = [
    f"""INSERT INTO bot_instance (name, kind, default_language, settings, created_at, updated_at)
    SELECT 'Bot ' || i, 'telegram_bot', 'en', '{{}}', now(), now()
    FROM generate_series(1, {CONNECTIONS}) i""",
    """INSERT INTO platform_connection (bot_instance_id, is_active, status, last_error,
        lease_owner, lease_expires_at, heartbeat_at, restart_count, details, created_at,
        updated_at)
    SELECT id, true, CASE WHEN id % 5 = 0 THEN 'error' ELSE 'connected' END,
        CASE WHEN id % 5 = 0 THEN 'Unauthorized' END, 'bench-supervisor',
        now() + interval '1 hour', now(), 0, '{}', now(), now() FROM bot_instance""",
    """INSERT INTO process_heartbeat (key, kind, host, pid, version, details, started_at,
        heartbeat_at)
    SELECT (ARRAY['web','worker','supervisor'])[1 + i % 3] || ':bench:' || i,
        (ARRAY['web','worker','supervisor'])[1 + i % 3], 'bench', i, '0', '{}', now(), now()
    FROM generate_series(1, 30) i""",
    f"""INSERT INTO health_check (checked_at, ok, results)
    SELECT now() - (i * interval '5 minutes'), false,
        (SELECT jsonb_agg(jsonb_build_object('component', 'connection:' || c, 'label',
            'Bot ' || c, 'ok', c % 5 <> 0, 'error', '', 'details', '{{}}'::jsonb))
         FROM generate_series(1, 205) c)
    FROM generate_series(1, {CHECKS}) i""",
    """INSERT INTO health_incident (component, label, error, started_at, resolved_at)
    SELECT 'connection:' || (1000 + i), 'Gone ' || i, 'x', now() - i * interval '1 hour',
        now() - i * interval '1 hour' + interval '10 minutes'
    FROM generate_series(1, 500) i""",
]


def timed(call: Callable[[], object], n: int) -> str:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return f"p50 {statistics.median(times):7.2f} ms   p95 {p95:7.2f} ms   (n={n})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50)
    n = parser.parse_args().n
    with bench_database("bench_health"):
        from engine import heartbeats
        from engine.db import get_engine, session_scope
        from engine.health_check import run_check
        from engine.models import AdminUser, Role, utcnow
        from engine.services import system_status

        with get_engine().begin() as conn:
            for statement in SEED:
                conn.execute(sa.text(statement))
            conn.execute(sa.text("ANALYZE"))
        viewer = AdminUser(username="bench", role=Role.viewer, password_hash="")

        def gather() -> None:
            with session_scope() as session:
                system_status.gather(session, viewer)

        heartbeats.beat("worker")
        print(f"heartbeat (one UPDATE)        {timed(lambda: heartbeats.beat('worker'), n)}")
        print(f"System status (gather)        {timed(gather, n)}")
        print(f"health check (no channel)     {timed(lambda: asyncio.run(run_check(utcnow())), n)}")


if __name__ == "__main__":
    main()

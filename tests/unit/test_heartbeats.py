"""Process heartbeats (engine/heartbeats.py): one row per process, refreshed in place,
pruned once silent; the status page shows them with their version."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from engine import heartbeats
from engine.models import AdminUser, Role, utcnow
from engine.models.health import ProcessHeartbeat
from engine.services import system_status


def rows(session: Session) -> list[ProcessHeartbeat]:
    session.expire_all()
    return list(session.exec(select(ProcessHeartbeat)).all())


def test_a_beat_refreshes_its_own_row_and_silent_rows_are_pruned(sqlite_session: Session) -> None:
    heartbeats.beat("worker", details={"threads": 4})
    (first,) = rows(sqlite_session)
    heartbeats.beat("worker", details={"threads": 8})
    heartbeats.beat("supervisor", "supervisor:h:1:ab", {"owner": "h:1:ab"})
    worker, supervisor = sorted(rows(sqlite_session), key=lambda r: r.kind, reverse=True)
    assert (worker.id, worker.details, worker.version) == (
        first.id,
        {"threads": 8},
        heartbeats.version(),
    )
    assert worker.heartbeat_at >= first.heartbeat_at and supervisor.key == "supervisor:h:1:ab"

    viewer = AdminUser(username="v", role=Role.viewer, password_hash="")
    shown = system_status.gather(sqlite_session, viewer).processes
    assert {(p.kind, p.alive) for p in shown} == {("worker", True), ("supervisor", True)}

    sqlite_session.execute(
        sa.update(ProcessHeartbeat)
        .where(ProcessHeartbeat.kind == "supervisor")
        .values(heartbeat_at=utcnow() - heartbeats.PRUNE_AFTER - timedelta(seconds=1))
    )
    sqlite_session.commit()
    assert heartbeats.prune(utcnow()) == 1
    assert [r.kind for r in rows(sqlite_session)] == ["worker"]
    heartbeats.forget(worker.key)
    assert rows(sqlite_session) == []


def test_the_pacer_lets_a_fast_loop_beat_only_so_often() -> None:
    pacer = heartbeats.Pacer(every=3600)
    assert pacer.due() and not pacer.due()

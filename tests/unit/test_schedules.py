"""Schedule triggers: which sweeps start a flow, and that none starts it twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import pytest
from sqlmodel import Session, select

from engine import actors, worker
from engine.models import ExecutionStatus, FlowDefinition, FlowExecution, FlowStatus, FlowVersion
from engine.runtime import run_execution
from engine.schedules import CATCH_UP, fire_due_schedules
from engine.services.flows import set_status
from tests.flow_helpers import make_admin, make_flow

PUBLISHED = datetime(2025, 3, 10, tzinfo=UTC)


def scheduled_flow(session: Session, published: datetime = PUBLISHED, **params: Any) -> int:
    """A published flow started by ``schedule`` with ``params``, its version made at
    ``published`` (the tests choose the clock)."""
    flow_id = make_flow({"nodes": [{"id": "t", "type": "schedule", "params": params}]})
    flow = session.get(FlowDefinition, flow_id)
    assert flow is not None
    version = session.get(FlowVersion, flow.published_version_id)
    assert version is not None
    version.created_at = published
    session.add(version)
    session.commit()
    return flow_id


def executions(session: Session) -> list[FlowExecution]:
    session.expire_all()
    return list(session.exec(select(FlowExecution).order_by(FlowExecution.id)).all())


async def test_cron_fires_once_in_its_time_zone_however_often_swept(
    sqlite_session: Session,
) -> None:
    flow_id = scheduled_flow(sqlite_session, cron="30 9 * * *", timezone="Europe/Berlin")
    due = datetime(2025, 3, 14, 8, 30, tzinfo=UTC)  # 09:30 in Berlin (CET, +01:00)

    assert fire_due_schedules(due - timedelta(seconds=1)) == []  # yesterday's is too old
    created = fire_due_schedules(due + timedelta(seconds=3))
    assert fire_due_schedules(due + timedelta(seconds=3)) == []
    assert fire_due_schedules(due + timedelta(seconds=18)) == []

    (execution,) = executions(sqlite_session)
    assert created == [execution.id]
    assert (execution.flow_id, execution.trigger_type) == (flow_id, "schedule")
    assert execution.status == ExecutionStatus.queued
    key = f"schedule:{flow_id}:2025-03-14T09:30:00+01:00"
    assert execution.idempotency_key == key
    trigger = execution.trigger_data
    assert (trigger["kind"], trigger["platform"]) == ("schedule", "flowbot")
    assert trigger["event_id"] == key
    assert trigger["data"] == {
        "scheduled_for": "2025-03-14T09:30:00+01:00",
        "cron": "30 9 * * *",
        "timezone": "Europe/Berlin",
    }
    outcome = await run_execution(execution.id)
    assert outcome.status is ExecutionStatus.succeeded, outcome.error


def test_interval_counts_from_the_publish_time(sqlite_session: Session) -> None:
    flow_id = scheduled_flow(sqlite_session, interval_seconds=3600)
    hour = timedelta(hours=1)

    assert fire_due_schedules(PUBLISHED + hour / 2) == []  # not at publishing, after an hour
    assert len(fire_due_schedules(PUBLISHED + hour + timedelta(seconds=5))) == 1
    assert fire_due_schedules(PUBLISHED + hour + timedelta(seconds=20)) == []
    assert len(fire_due_schedules(PUBLISHED + 2 * hour)) == 1

    runs = executions(sqlite_session)
    assert [r.trigger_data["data"]["scheduled_for"] for r in runs] == [
        "2025-03-10T01:00:00+00:00",
        "2025-03-10T02:00:00+00:00",
    ]
    assert runs[0].trigger_data["data"]["interval_seconds"] == 3600
    assert runs[0].idempotency_key == f"schedule:{flow_id}:2025-03-10T01:00:00+00:00"


def test_paused_flows_and_times_before_publishing_never_fire(sqlite_session: Session) -> None:
    published = datetime(2025, 3, 14, 8, 30, 10, tzinfo=UTC)  # just after a due time
    scheduled_flow(sqlite_session, published, cron="30 8 * * *")
    assert fire_due_schedules(published + timedelta(seconds=5)) == []

    paused = scheduled_flow(sqlite_session, cron="*/5 * * * *")
    set_status(sqlite_session, make_admin(), paused, FlowStatus.paused)
    sqlite_session.commit()
    assert fire_due_schedules(datetime(2025, 3, 14, 8, 35, 1, tzinfo=UTC)) == []
    assert executions(sqlite_session) == []


def test_a_backlog_after_downtime_is_not_replayed(sqlite_session: Session) -> None:
    scheduled_flow(sqlite_session, cron="0 * * * *")
    # Nothing swept for days: the last due time (12:00) is older than the catch-up window.
    back = datetime(2025, 3, 14, 12, 0, tzinfo=UTC) + CATCH_UP + timedelta(seconds=1)
    assert fire_due_schedules(back) == []
    assert fire_due_schedules(datetime(2025, 3, 14, 13, 0, 4, tzinfo=UTC)) != []
    assert len(executions(sqlite_session)) == 1


def test_an_invalid_schedule_is_skipped(sqlite_session: Session) -> None:
    flow_id = scheduled_flow(sqlite_session, cron="0 * * * *")
    version = sqlite_session.exec(select(FlowVersion).where(FlowVersion.flow_id == flow_id)).one()
    version.graph = {"nodes": [{"id": "t", "type": "schedule", "params": {}}]}  # neither set
    sqlite_session.add(version)
    sqlite_session.commit()
    assert fire_due_schedules(datetime(2025, 3, 14, 13, 0, 4, tzinfo=UTC)) == []


def test_the_actor_runs_only_the_executions_it_created(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduled_flow(sqlite_session, interval_seconds=60)
    sent: list[int] = []
    monkeypatch.setattr(actors.execute_flow, "send", sent.append)
    monkeypatch.setattr(actors, "utcnow", lambda: PUBLISHED + timedelta(seconds=61))
    actors.fire_schedules()
    actors.fire_schedules()
    assert sent == [executions(sqlite_session)[0].id]


def test_the_sweep_timer_asks_for_schedules_and_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = threading.Event()
    names: list[str] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def send(self) -> None:
            names.append(self.name)
            if len(names) == 2:
                sent.set()

    monkeypatch.setattr(worker, "PERIODIC", tuple(Recorder(a.actor_name) for a in worker.PERIODIC))
    timer = worker.SweepTimer(interval=0.01)
    booted = dramatiq.Worker(actors.broker, worker_threads=1)  # not started: the timer only counts
    timer.after_worker_boot(actors.broker, booted)
    try:
        assert sent.wait(5)
    finally:
        timer.before_worker_shutdown(actors.broker, booted)
    assert names[:2] == ["fire_schedules", "deliver_scheduled_messages"]

"""The sweep of lost messages and the worker supervisor, against the shared Redis."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dramatiq
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from engine import actors, broker
from engine.broker import QUEUE, build_broker
from engine.db import session_scope
from engine.execution_store import create_execution
from engine.models import FlowExecution, utcnow
from engine.settings import get_settings
from tests.flow_helpers import chain, make_flow
from tests.processes import alive, children, kill_group, logs, spawn, wait_until
from tests.services import redis_url_or_skip

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[dramatiq.Broker]:
    """The settings' Redis broker under a namespace of its own, as ``get_broker``."""
    monkeypatch.setenv("REDIS_URL", redis_url_or_skip())
    monkeypatch.setenv("FLOWBOT_REDIS_NAMESPACE", f"flowbot_t_{uuid.uuid4().hex[:10]}")
    get_settings.cache_clear()
    real = build_broker(get_settings())
    real.declare_queue(QUEUE)
    monkeypatch.setattr(broker, "get_broker", lambda: real)
    yield real
    real.client.delete(*(real.client.keys(f"{real.namespace}:*") or ["none"]))
    real.close()


def queued(session: Session, flow_id: int, event_id: str, age: timedelta) -> int:
    execution = create_execution(
        session, flow_id, {"event_id": event_id}, trigger_type="tg_command"
    )
    session.flush()
    session.exec(
        sa.update(FlowExecution)
        .where(FlowExecution.id == execution.id)
        .values(started_at=utcnow() - age)
    )
    return execution.id


def test_lost_messages_are_sent_again_within_seconds_and_only_those(
    sqlite_session: Session, redis_broker: dramatiq.Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_id = make_flow(chain(("t", "tg_command", {"command": "start"})))
    with session_scope() as session:
        lost = queued(session, flow_id, "lost", timedelta(seconds=20))
        held = queued(session, flow_id, "held", timedelta(seconds=20))
        young = queued(session, flow_id, "young", timedelta(seconds=1))
    message = dramatiq.Message(
        queue_name=QUEUE, actor_name="execute_flow", args=(held,), kwargs={}, options={}
    )
    redis_broker.enqueue(message)  # still waiting in Redis: sending it again would run it twice
    sent: list[int] = []
    monkeypatch.setattr(actors.execute_flow, "send", sent.append)
    assert actors.requeue_lost(utcnow()) == [lost] and sent == [lost]
    assert young  # too young: its message may be on its way


def test_a_killed_worker_process_is_restarted(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis_url_or_skip(),
        FLOWBOT_REDIS_NAMESPACE=f"flowbot_t_{uuid.uuid4().hex[:10]}",
        DATABASE_URL=f"sqlite:///{tmp_path / 'flowbot.db'}",
    )
    args = ["-m", "flowbot.cli", "worker", "--processes", "2", "--threads", "1"]
    parent = spawn(args, env, tmp_path / "worker.log")
    try:
        first = wait_until(lambda: len(children(parent.pid)) == 2 and children(parent.pid), "2")
        os.kill(first[0], signal.SIGKILL)
        wait_until(
            lambda: first[0] not in children(parent.pid) and len(children(parent.pid)) == 2,
            "the killed process to be replaced",
            timeout=20,
        )
        assert parent.poll() is None, logs(tmp_path)
        assert "killed by SIGKILL" in (tmp_path / "worker.log").read_text()
        survivors = children(parent.pid)
        parent.send_signal(signal.SIGTERM)  # a clean stop takes its processes with it
        assert parent.wait(40) == 0
        assert not any(alive(pid) for pid in survivors)
    finally:
        if parent.poll() is None:
            kill_group(parent)

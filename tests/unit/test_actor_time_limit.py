"""An execute_flow message that hits its time limit twice is dead-lettered, not retried.

The time limit only interrupts a worker between Python bytecodes, so whatever outlived
it once (a C-level operation, a blocking call) would stall every worker that retries it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlmodel import Session

from engine import actors, runtime
from engine import broker as broker_module
from engine.models import ExecutionStatus, FlowExecution
from engine.runtime import ExecutionOutcome
from engine.worker import start_embedded_worker, stop_embedded_worker
from tests.flow_helpers import five_node_graph, make_flow


def test_an_execution_that_times_out_twice_fails_and_its_message_is_dead_lettered(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broker_module, "_claims", {})  # no claim left by another test
    actors.broker.flush_all()  # nor a message: this test's single worker thread is counted
    flow_id = make_flow(five_node_graph())
    execution = runtime.create_execution(sqlite_session, flow_id, {}, trigger_type="manual")
    sqlite_session.commit()
    assert execution.id is not None
    runs: list[int] = []

    async def stuck(execution_id: int) -> ExecutionOutcome:
        """Blocks its thread as a C-level operation would: nothing to await, no yield."""
        runs.append(execution_id)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.02)
        raise AssertionError("the time limit never interrupted the run")

    monkeypatch.setattr(actors.runtime, "run_execution", stuck)
    dead_before = len(actors.broker.dead_letters)  # type: ignore[attr-defined]
    worker = start_embedded_worker(threads=1)
    try:
        actors.execute_flow.send_with_options(
            args=(execution.id,), time_limit=200, min_backoff=10, max_backoff=20
        )
        # Waiting for the dead letter, not broker.join(): a worker stopped by an earlier
        # test may have left the shared stub queue's unfinished-task count above zero.
        deadline = time.monotonic() + 30
        while len(actors.broker.dead_letters) == dead_before:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, f"not dead-lettered; runs: {runs}"
            time.sleep(0.05)
    finally:
        stop_embedded_worker(worker)

    assert runs == [execution.id, execution.id]  # once, retried once, then no more
    dead: list[Any] = actors.broker.dead_letters[dead_before:]  # type: ignore[attr-defined]
    assert [(m.actor_name, m.args) for m in dead] == [("execute_flow", (execution.id,))]
    sqlite_session.expire_all()
    row = sqlite_session.get(FlowExecution, execution.id)
    assert row is not None
    assert row.status == ExecutionStatus.failed
    assert row.error == actors.TIMED_OUT_TWICE
    assert "time limit" in row.error and "twice" in row.error
    assert row.finished_at is not None


def test_a_first_time_out_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """One time-out may be bad luck (a slow platform): the message is retried as usual."""
    monkeypatch.setattr(broker_module, "_claims", {})
    failed: list[int] = []
    monkeypatch.setattr(actors, "fail_timed_out", failed.append)
    message = actors.execute_flow.message(7)
    middleware = actors.TimeLimitedTwice()
    exception = actors.dramatiq.middleware.TimeLimitExceeded()
    middleware.after_process_message(actors.broker, message, exception=exception)
    assert "max_retries" not in message.options and failed == []
    middleware.after_process_message(actors.broker, message, exception=exception)
    assert message.options["max_retries"] == 0 and failed == [7]

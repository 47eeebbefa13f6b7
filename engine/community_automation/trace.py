"""A run of a community's rules, recorded as an execution of its built-in flow.

Each rule evaluated is one step (input, output, error, duration), written through
engine/execution_store.py like the runtime's node steps, so traces are redacted alike
and watchers get the same live events. A redelivered message finds its execution by
idempotency key: a finished run is not repeated, and within an unfinished one every
step is a claim, so a rule that already acted (or may have) never acts twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from engine import events, execution_store
from engine.db import session_scope
from engine.execution_events import announce_status, step_event
from engine.execution_store import (
    OUTCOME_UNKNOWN,
    TERMINAL,
    ClaimTaken,
    ExecutionCancelled,
    StepRecord,
    jsonable,
)
from engine.models import ExecutionStatus, StepStatus
from engine.redaction import Redactor, SealBroken, unseal

from .system_flow import ensure_rules_flow

log = logging.getLogger(__name__)

RuleBody = Callable[[], Awaitable[dict[str, Any]]]


class RuleSkipped(Exception):
    """A rule that had nothing to do; its step is recorded ``skipped`` with the reason."""


@dataclass
class RulesRun:
    execution_id: int
    flow_id: int
    recorded: dict[str, StepRecord]
    redactor: Redactor = field(default_factory=Redactor)
    seq: int = 1
    failures: list[str] = field(default_factory=list)
    cancelled: bool = False

    @classmethod
    def open(
        cls, community_id: int, trigger: dict[str, Any], trigger_type: str, key: str
    ) -> RulesRun | None:
        """The run for ``key`` (created, or found unfinished); None once it has finished."""
        with session_scope() as session:
            flow = ensure_rules_flow(session, community_id)
            execution = execution_store.create_execution(
                session,
                flow.flow_id,
                trigger,
                trigger_type=trigger_type,
                idempotency_key=key,
                version_id=flow.version_id,
            )
            if execution.status in TERMINAL:
                return None
            # Running at once: the runtime's sweep of lost *queued* messages is not for it.
            execution.status = ExecutionStatus.running
            session.add(execution)
            session.flush()
            execution_id = execution.id
        assert execution_id is not None
        loaded = execution_store.load(execution_id)  # an earlier delivery's steps
        run = cls(execution_id, flow.flow_id, loaded.steps, seq=loaded.next_seq)
        run.redactor.learn(trigger)
        announce_status(run.execution_id, run.flow_id, ExecutionStatus.running, None)
        return run

    async def step(self, rule: str, given: dict[str, Any], body: RuleBody) -> dict[str, Any] | None:
        """Evaluate one rule as a recorded step; its output, or None when it failed, was
        skipped, or an earlier delivery of this run already took it."""
        if self.cancelled:
            return None
        prior = self.recorded.get(rule)
        if prior is not None:
            return self._replayed(prior)
        try:
            record = execution_store.start_step(
                self.execution_id, self.seq, rule, rule, f"rule_{rule}", given, None,
                self.redactor, claim=True,
            )  # fmt: skip
        except ClaimTaken as taken:
            return self._replayed(taken.step)
        except ExecutionCancelled:
            self.cancelled = True
            return None
        self.seq = record.seq + 1
        self._publish(record)
        started = time.perf_counter()
        output: dict[str, Any] | None = None
        try:
            output = jsonable(await body())
            record.status, record.output, record.handle = StepStatus.succeeded, output, "next"
        except RuleSkipped as skipped:
            record.status, record.output = StepStatus.skipped, {"skipped": str(skipped)}
        except Exception as exc:  # noqa: BLE001 - a rule's failure is its step's, not the run's
            log.debug("rule %s of execution %s raised", rule, self.execution_id, exc_info=exc)
            record.status, record.error = StepStatus.failed, f"{rule}: {exc}"
            self.failures.append(record.error)
        duration_ms = (time.perf_counter() - started) * 1000
        execution_store.finish_step(record, self.redactor, duration_ms=duration_ms)
        self._publish(record, duration_ms)
        return output

    def _replayed(self, prior: StepRecord) -> dict[str, Any] | None:
        """A step an earlier delivery recorded: its output if it succeeded; one left
        running may have acted, so it is failed as "outcome unknown", not repeated."""
        if prior.status is StepStatus.succeeded:
            try:
                return dict(unseal(prior.output) or {})
            except SealBroken:
                return None
        if prior.status is StepStatus.running:
            prior.status, prior.error = StepStatus.failed, f"{prior.step_key}: {OUTCOME_UNKNOWN}"
            execution_store.finish_step(prior, self.redactor, only_running=True)
            self._publish(prior)
        if prior.status is StepStatus.failed:
            self.failures.append(prior.error or prior.step_key)
        return None

    def finish(self, result: dict[str, Any]) -> ExecutionStatus:
        """Record the end: failed when a rule failed (the first failure is the error)."""
        failed = bool(self.failures)
        status = execution_store.finish(
            self.execution_id,
            ExecutionStatus.failed if failed else ExecutionStatus.succeeded,
            result=result,
            error=self.failures[0] if failed else None,
            resume_at=None,
            variables={},
            redactor=self.redactor,
        )
        announce_status(
            self.execution_id, self.flow_id, status, self.failures[0] if failed else None
        )
        return status

    def _publish(self, record: StepRecord, duration_ms: float | None = None) -> None:
        """The runtime's step event, so the editor, debugger and SSE follow rules too."""
        key = record.step_key
        event = step_event(self.execution_id, self.flow_id, record, key, f"rule_{key}", duration_ms)
        events.publish_all([event])

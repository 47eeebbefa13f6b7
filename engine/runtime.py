"""The executor: runs (or resumes) one flow execution, breadth-first from its trigger.

Replay is what makes it safe to run an execution more than once (a redelivered message,
a worker that died, a durable delay that is over). Every step has a deterministic key:
the node id, prefixed by the loop iterations it runs in (``loop1[3]/send1``). Before
running a step, the executor looks its key up among the execution's recorded steps:

* ``succeeded``: not run again; its recorded output and handle are reused (and the
  variables it set re-applied), so later steps see exactly what the first run saw;
* ``failed``: the same error again (only reachable inside a try_catch branch);
* ``running`` (a run died in it): a step without external effects runs again; one with
  them (``NodeType.external_effects``: platform actions, HTTP calls...) fails visibly
  with "outcome unknown", because its effect may already have happened. Such a step is
  claimed, its ``running`` row inserted and committed, before it acts, and a run that
  finds the claim taken does not act either;
* absent: run and recorded.

A durable delay records when to go on and parks the execution (``waiting``); the
re-run at that time replays everything before it and continues after it.

Steps of side-effect-free nodes are written in one batch with the run's next durable
write (a side-effecting step's claim, or the end): see engine/execution_store.py. Their
events wait for that write too (the bus says "look again", and the rows are then there),
one per step with its state as written; the execution's ``running`` is announced with the
write that marks its row running. A run still going after ``MARK_RUNNING_SECONDS`` marks
its row, announces what it held, and from then on publishes every step as it happens.

A cancelled execution (engine/services/executions.py ``cancel``) is ``stopped`` in its
row; the step in flight finishes, and the next one refuses to start, which ends the run.
A cancellation made in this process is known at once; one made elsewhere is read before
every side-effecting step, and before a side-effect-free one at most every
``CANCEL_READ_SECONDS`` (such steps change nothing outside, so running one more is harmless).

Limits hold for the whole tree one trigger starts (run_flow children run in their
caller's process and share its :class:`TreeBudget`): steps, wall-clock time, and the
number of executions. Secrets are masked in everything stored or published, and
sealed where a replay reads them back (engine/redaction.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Lock
from typing import Any, NoReturn

from engine import events, execution_store, pool_client
from engine.control_nodes import (
    HANDLERS,
    BudgetExceeded,
    Frame,
    Next,
    Parked,
    StepFailed,
    StopFlow,
    arrive,
    run_merge,
)
from engine.db import session_scope
from engine.execution_events import announce_status, step_event
from engine.execution_store import (
    OUTCOME_UNKNOWN,
    ClaimTaken,
    ExecutionCancelled,
    StepRecord,
    create_execution,
    jsonable,
)
from engine.expressions import Scope
from engine.graph import ValidatedFlow, build_graph
from engine.models import ExecutionStatus, FlowExecution, StepStatus
from engine.nodes import REGISTRY
from engine.nodes.base import NodeCategory, NodeResult, NodeType
from engine.redaction import Redactor, SealBroken, unseal
from engine.settings import get_settings
from engine.step_params import label, prepare_params, step_failure

__all__ = ["ExecutionOutcome", "TreeBudget", "create_execution", "run_execution", "run_flow_now"]

log = logging.getLogger("flowbot.runtime")

GRAPH_CACHE_SIZE = 256
CANCEL_READ_SECONDS = 0.25
# A run with no durable write by then records that it is running (else its end does).
MARK_RUNNING_SECONDS = 1.0
VARIABLES_KEY = "_variables"  # in a step's recorded output: the variables it set

StepBody = Callable[[Any, dict[str, Any], "StepContext"], Awaitable[NodeResult]]


@dataclass
class ExecutionOutcome:
    execution_id: int
    status: ExecutionStatus
    result: dict[str, Any] | None = None
    error: str | None = None
    resume_at: datetime | None = None


@dataclass
class TreeBudget:
    """What one trigger's tree of executions shares in a run, so loops calling run_flow
    cannot multiply one request: the steps run so far and the wall-clock deadline. The
    number of executions is counted in the database (``root_execution_id``)."""

    deadline: float  # event-loop time
    steps: int = 0
    breach: str | None = None  # the budget that ran out, once one did: the callers stop too

    @classmethod
    def start(cls, seconds: float) -> TreeBudget:
        return cls(asyncio.get_running_loop().time() + seconds)

    def expired(self) -> bool:
        return asyncio.get_running_loop().time() >= self.deadline


# --------------------------------------------------------------------------- graph cache

_graphs: OrderedDict[tuple[str, int, datetime], ValidatedFlow] = OrderedDict()
_graphs_lock = Lock()


def _graph_key(version_id: int, created_at: datetime) -> tuple[str, int, datetime]:
    return (get_settings().effective_database_url, version_id, created_at)


def _has_graph(version_id: int, created_at: datetime) -> bool:
    """Whether the version's validated graph is cached (so loading skips reading it)."""
    with _graphs_lock:
        return _graph_key(version_id, created_at) in _graphs


def _validated(
    version_id: int, created_at: datetime, graph: Mapping[str, Any] | None
) -> ValidatedFlow:
    """Versions never change, so their validated graphs are cached (per database; the
    creation time guards against SQLite reusing a deleted version's id). ``graph``: None
    when the loader relied on the cache, read again if it was dropped meanwhile."""
    key = _graph_key(version_id, created_at)
    with _graphs_lock:
        if key in _graphs:
            _graphs.move_to_end(key)
            return _graphs[key]
    if graph is None:
        graph = execution_store.version_graph(version_id)
    flow = build_graph(graph, REGISTRY)  # unknown node types fail when reached, not here
    with _graphs_lock:
        _graphs[key] = flow
        while len(_graphs) > GRAPH_CACHE_SIZE:
            _graphs.popitem(last=False)
    return flow


# --------------------------------------------------------------------------- public API


async def run_execution(execution_id: int, budget: TreeBudget | None = None) -> ExecutionOutcome:
    """Run, resume or merely report one execution; never raises for a flow's own errors.

    ``budget``: the caller's, when run_flow runs a child; else the run starts its own.
    """
    loaded = execution_store.load(execution_id, _has_graph)
    execution = loaded.execution
    if not execution_store.runnable(execution, datetime.now(UTC)):
        return _outcome(execution)
    assert execution.version_id is not None
    flow = _validated(execution.version_id, loaded.version_created_at, loaded.graph)
    return await Run(loaded, flow, budget).execute()


async def run_flow_now(
    flow_id: int,
    trigger: dict[str, Any],
    *,
    trigger_type: str = "manual",
    idempotency_key: str | None = None,
    version_id: int | None = None,
) -> ExecutionOutcome:
    """Create an execution of the flow's published version and run it here and now."""
    with session_scope() as session:
        execution = create_execution(
            session,
            flow_id,
            trigger,
            trigger_type=trigger_type,
            idempotency_key=idempotency_key,
            version_id=version_id,
        )
        session.flush()
        execution_id = execution.id
    assert execution_id is not None
    return await run_execution(execution_id)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _outcome(execution: FlowExecution) -> ExecutionOutcome:
    """A finished (or not yet due) execution as recorded, its result unsealed for a caller
    that goes on with it (run_flow); never with redaction markers in place of secrets."""
    assert execution.id is not None
    error = execution.error
    try:
        result = unseal(execution.result)
    except SealBroken as exc:
        result, error = None, error or str(exc)
    return ExecutionOutcome(
        execution.id,
        ExecutionStatus(execution.status),
        result,
        error,
        _aware(execution.resume_at) if execution.resume_at else None,
    )


# --------------------------------------------------------------------------- runner context


@dataclass
class StepContext:
    """The RunContext a node's runner gets; platform calls carry the step's idempotency key."""

    execution_id: int
    flow_id: int
    trigger: Mapping[str, Any]
    variables: dict[str, Any]
    node_outputs: Mapping[str, Any]
    step_key: str
    calls: int = 0

    async def call_platform(
        self, kind: str, action: str, params: Mapping[str, Any], instance_id: int | None = None
    ) -> dict[str, Any]:
        self.calls += 1  # a runner calling twice gets two keys, the same ones on every run
        suffix = "" if self.calls == 1 else f"#{self.calls}"
        return await pool_client.execute(
            kind,
            action,
            jsonable(params),
            instance_id=instance_id,
            idempotency_key=f"{self.execution_id}:{self.step_key}{suffix}",
        )


# --------------------------------------------------------------------------- one run


@dataclass
class Run:
    loaded: execution_store.LoadedExecution
    flow: ValidatedFlow
    caller_budget: TreeBudget | None = None
    settings: Any = field(default_factory=get_settings)

    def __post_init__(self) -> None:
        self.execution = self.loaded.execution
        assert self.execution.id is not None
        self.execution_id: int = self.execution.id
        self.flow_id: int = self.execution.flow_id
        self.flow_stack = self.loaded.flow_stack
        self.trigger: dict[str, Any] = {}  # unsealed when the run starts
        self.redactor = Redactor()
        self.variables: dict[str, Any] = {}
        self.steps = self.loaded.steps
        self.seq = self.loaded.next_seq
        self.claimed: set[str] = set()  # step keys this run has reached
        self.owns_budget = self.caller_budget is None
        self.budget = self.caller_budget or TreeBudget.start(self.settings.max_seconds)
        self.last: tuple[str, dict[str, Any]] | None = None
        self.batch = execution_store.StepBatch(self.execution_id)
        self.row_read_at = time.monotonic()  # when the row was last read (cancellation)
        self.marked_running = False
        self.announced_running = False
        self.live = False  # a slow run: its steps' events are published as they happen
        # The side-effect-free steps whose events wait for their rows, by step key.
        self.held: dict[str, tuple[StepRecord, str, str, float | None]] = {}
        self.externals: dict[str, bool] = {}  # by node id: NodeType.external_effects

    # -- the execution

    async def run_child(self, execution_id: int) -> ExecutionOutcome:
        """Run a child execution (run_flow) in this process, inside this run's budget."""
        return await run_execution(execution_id, self.budget)

    async def execute(self) -> ExecutionOutcome:
        """Run it to its end. Its row says ``running`` from its first durable write on, or
        after MARK_RUNNING_SECONDS: a quick run of side-effect-free steps writes only its
        end (the workers' sweep of lost queued executions waits far longer than that)."""
        execution_store.track(self.execution_id, running=True)
        timer = asyncio.get_running_loop().call_later(MARK_RUNNING_SECONDS, self._mark_running)
        try:
            return await self._run_to_end()
        finally:
            timer.cancel()
            execution_store.track(self.execution_id, running=False)

    def _mark_running(self) -> None:
        """The timer: a slow run says it is running, and goes live (see the module's doc)."""
        self.live = True
        if not self.marked_running:
            try:
                execution_store.mark_running(self.execution_id)
                self.marked_running = True
            except Exception:  # the end is recorded anyway; a sweep may send it again meanwhile
                log.warning(
                    "execution %s: could not mark it running", self.execution_id, exc_info=True
                )
        self._written()

    async def _run_to_end(self) -> ExecutionOutcome:
        status, result, error, resume_at = ExecutionStatus.succeeded, None, None, None
        try:
            # The run that started the budget enforces its deadline for the whole tree.
            async with asyncio.timeout_at(self.budget.deadline if self.owns_budget else None):
                self.trigger = dict(unseal(self.execution.trigger_data) or {})
                self.redactor.learn(self.trigger)
                await self.walk(self._start(), Frame())
            result = self._result()
        except Parked as parked:
            status, resume_at = ExecutionStatus.waiting, parked.resume_at
        except ExecutionCancelled:  # the step in flight finished; no further one started
            status, result = ExecutionStatus.stopped, self._result()
        except StopFlow as stop:
            status = ExecutionStatus(stop.status)
            result = {**self._result(), "message": stop.message}
            error = stop.message if status is ExecutionStatus.failed else None
        except StepFailed as exc:
            status, error = ExecutionStatus.failed, exc.message
        except (BudgetExceeded, TimeoutError) as exc:
            status, error = ExecutionStatus.failed, str(exc) or self._out_of_time()
            self.budget.breach = self.budget.breach or error
        except SealBroken as exc:
            status, error = ExecutionStatus.failed, str(exc)
        except asyncio.CancelledError:
            # A child cancelled because its caller's deadline (the tree's) passed: record
            # why; any other cancellation (shutdown) leaves the run to be resumed.
            if self.owns_budget or not self.budget.expired():
                raise
            self._end(ExecutionStatus.failed, None, self._out_of_time(), None)
            raise
        except Exception as exc:  # a bug of ours: record it, never take the worker down
            log.exception("execution %s crashed", self.execution_id)
            status, error = ExecutionStatus.failed, f"internal error: {exc!r}"
        return self._end(status, result, error, resume_at)

    def _out_of_time(self) -> str:
        return (
            f"the execution ran out of its wall-clock budget of {self.settings.max_seconds:g} s"
            + ("" if self.owns_budget else " (shared with the execution that called it)")
        )

    def _end(
        self,
        status: ExecutionStatus,
        result: dict[str, Any] | None,
        error: str | None,
        resume_at: datetime | None,
    ) -> ExecutionOutcome:
        error = self.redactor.scrub(error)
        status = execution_store.finish(
            self.execution_id,
            status,
            result=result,
            error=error,
            resume_at=resume_at,
            variables=self.variables,
            redactor=self.redactor,
            batch=self.batch,
            step_count=len(self.steps),
            left_running=any(step.status is StepStatus.running for step in self.steps.values()),
        )
        steps = self._take_held()
        announce_status(self.execution_id, self.flow_id, status, error, resume_at, before=steps)
        return ExecutionOutcome(self.execution_id, status, result, error, resume_at)

    def _start(self) -> list[Next]:
        if self.flow.trigger_id is None:
            problems = "; ".join(issue.message for issue in self.flow.errors[:3])
            raise StepFailed("", f"the flow version cannot run: {problems or 'no trigger'}")
        return [(self.flow.trigger_id, "")]

    def _result(self) -> dict[str, Any]:
        node, output = self.last if self.last else (None, {})
        return {"last_node": node, "output": output, "variables": self.variables}

    # -- walking

    async def walk(self, starts: list[Next], frame: Frame) -> None:
        """Breadth-first from ``starts``; a merge waits until nothing else in its frame can run."""
        queue = list(starts)
        while True:
            while queue:
                node_id, source = queue.pop(0)
                if node_id in frame.stop_at:
                    continue
                if self.flow.graph.nodes[node_id]["type"] == "merge":
                    if arrive(self, node_id, source, frame):
                        queue += await run_merge(self, node_id, frame)
                    continue
                queue += await self.visit(node_id, frame)
            pending = frame.merges.pending() if frame.owner else []
            if not pending:
                return
            for merge_id in pending:
                queue += await run_merge(self, merge_id, frame)

    async def visit(self, node_id: str, frame: Frame) -> list[Next]:
        node_type = self.flow.graph.nodes[node_id]["node_type"]
        handler = HANDLERS.get(self.flow.graph.nodes[node_id]["type"])
        if handler is not None:
            return await handler(self, node_id, frame)
        result = await self.step(node_id, frame, self._body(node_id, node_type))
        if result is None:
            return []
        return [(target, node_id) for target in self.flow.successors(node_id, result.handle)]

    def _body(self, node_id: str, node_type: NodeType | None) -> StepBody:
        async def trigger(_params: Any, _rendered: dict[str, Any], _ctx: StepContext) -> NodeResult:
            return NodeResult(self.trigger)

        async def runner(params: Any, _rendered: dict[str, Any], ctx: StepContext) -> NodeResult:
            assert node_type is not None and node_type.run is not None
            return await node_type.run(ctx, params)

        async def action(params: Any, _rendered: dict[str, Any], ctx: StepContext) -> NodeResult:
            assert node_type is not None and node_type.action is not None
            instance_id = getattr(params, "instance_id", None) or self.trigger.get("instance_id")
            payload = params.model_dump(mode="json", exclude={"instance_id"})
            kind = str(node_type.platform)
            return NodeResult(await ctx.call_platform(kind, node_type.action, payload, instance_id))

        if node_type is None:
            return runner  # never called: the step reports the unknown type first
        if node_type.category is NodeCategory.trigger:
            return trigger
        return runner if node_type.run is not None else action

    # -- one step

    async def step(self, node_id: str, frame: Frame, body: StepBody) -> NodeResult | None:
        """Run (or replay) one node as a recorded step; None when this run already did it."""
        key = frame.prefix + node_id
        if key in self.claimed:
            return None  # reached again (two paths join): a node runs once per frame
        self.claimed.add(key)
        self.budget.steps += 1
        if self.budget.steps > self.settings.max_steps:
            raise BudgetExceeded(
                f"the execution ran out of its step budget of {self.settings.max_steps} steps, "
                f"shared by the flows one trigger runs (at node '{node_id}')"
            )
        prior = self.steps.get(key)
        if prior is not None and prior.status is StepStatus.succeeded:
            return self._replay(node_id, prior, frame)
        if prior is not None and prior.status is StepStatus.failed:
            raise StepFailed(node_id, prior.error or f"node '{node_id}' failed")
        if prior is not None and self._external(node_id):
            self._outcome_unknown(node_id, prior)  # claimed by a run that never finished
        return await self._execute(node_id, key, frame, body, prior)

    def _external(self, node_id: str) -> bool:
        """Whether the node acts outside Flowbot (asked about four times per step)."""
        external = self.externals.get(node_id)
        if external is None:
            node_type: NodeType | None = self.flow.graph.nodes[node_id]["node_type"]
            external = self.externals[node_id] = (
                node_type is not None and node_type.external_effects
            )
        return external

    def _outcome_unknown(self, node_id: str, claimed: StepRecord) -> NoReturn:
        """Fail a side-effecting step another run claimed: it may have acted already."""
        data = self.flow.graph.nodes[node_id]
        message = f"{label(node_id, data['node_type'])}: {OUTCOME_UNKNOWN}"
        claimed.status, claimed.output, claimed.error = StepStatus.failed, None, message
        self.steps[claimed.step_key] = claimed
        execution_store.finish_step(claimed, self.redactor, only_running=True)
        self._publish_step(claimed, node_id, data["type"])
        raise StepFailed(node_id, message, "outcome_unknown")

    def _replay(self, node_id: str, prior: StepRecord, frame: Frame) -> NodeResult:
        try:
            output = dict(unseal(prior.output) or {})
        except SealBroken as exc:
            raise StepFailed(node_id, f"{label(node_id, None)}: {exc}") from None
        self.redactor.learn(output)
        self.variables.update(output.pop(VARIABLES_KEY, {}))
        frame.outputs[node_id] = output
        if node_id != self.flow.trigger_id:
            self.last = (node_id, output)
        return NodeResult(output, prior.handle or "")

    async def _execute(
        self, node_id: str, key: str, frame: Frame, body: StepBody, prior: StepRecord | None
    ) -> NodeResult:
        data = self.flow.graph.nodes[node_id]
        node_type: NodeType | None = data["node_type"]
        if self._external(node_id):
            try:
                record = execution_store.start_step(
                    self.execution_id, self.seq, key, node_id, data["type"], data["params"],
                    prior, self.redactor, claim=True, batch=self.batch,
                    mark_running=not self.marked_running,
                )  # fmt: skip
            except ClaimTaken as taken:
                self._outcome_unknown(node_id, taken.step)
            self.row_read_at, self.marked_running = time.monotonic(), True
            self._written()
        else:
            self._refuse_if_cancelled()
            values = execution_store.running_values(
                node_id, data["type"], data["params"], self.redactor
            )
            record = self.batch.start(self.seq, key, prior, values)
        self.seq = max(self.seq, record.seq) + 1
        self.steps[key] = record
        self._publish_step(record, node_id, data["type"])
        started = time.perf_counter()
        rendered: dict[str, Any] = data["params"]
        try:
            if node_type is None:
                raise StepFailed(node_id, f"node '{node_id}': unknown node type '{data['type']}'")
            scope = Scope(self.trigger, frame.outputs, {**self.variables, **frame.context})
            rendered, params = prepare_params(node_id, node_type, data["params"], scope)
            before = {**self.variables, **frame.context}
            ctx = StepContext(
                self.execution_id, self.flow_id, self.trigger, dict(before), frame.outputs, key
            )
            result = await body(params, rendered, ctx)
        except (Parked, StopFlow):
            raise  # a parked step stays running: the re-run resumes it (run_flow's child)
        except BudgetExceeded as exc:  # recorded on the step too, then fails the execution
            self._finish(record, node_id, data["type"], started, rendered, error=str(exc))
            raise
        except Exception as exc:
            failure = step_failure(node_id, node_type, exc)
            if failure.kind == "error":
                log.debug(
                    "node %s of execution %s raised", node_id, self.execution_id, exc_info=exc
                )
            self._finish(record, node_id, data["type"], started, rendered, error=failure.message)
            raise failure from None
        changed = {k: v for k, v in ctx.variables.items() if before.get(k, object()) != v}
        self.variables.update(changed)
        output = jsonable(dict(result.output))
        frame.outputs[node_id] = output
        if node_type.category is not NodeCategory.trigger:
            self.last = (node_id, output)
        recorded = {**output, VARIABLES_KEY: changed} if changed else output
        self._finish(record, node_id, data["type"], started, rendered, output=recorded,
                     handle=result.handle)  # fmt: skip
        return NodeResult(output, result.handle)

    def _refuse_if_cancelled(self) -> None:
        """The check before a side-effect-free step (see the module's docstring)."""
        read_row = time.monotonic() - self.row_read_at >= CANCEL_READ_SECONDS
        if read_row:
            self.row_read_at = time.monotonic()
        if execution_store.cancelled(self.execution_id, read_row=read_row):
            raise ExecutionCancelled(f"execution {self.execution_id} was cancelled")

    def _finish(
        self,
        record: StepRecord,
        node_id: str,
        type_id: str,
        started: float,
        rendered: dict[str, Any],
        *,
        output: dict[str, Any] | None = None,
        error: str | None = None,
        handle: str | None = None,
    ) -> None:
        self.redactor.learn(rendered)  # so the error below loses what it echoes of them
        record.status = StepStatus.failed if error else StepStatus.succeeded
        record.output, record.handle = output, handle or None
        record.error = self.redactor.scrub(error)
        duration_ms = (time.perf_counter() - started) * 1000
        batch = None if self._external(node_id) else self.batch  # an effect's outcome: now
        execution_store.finish_step(
            record, self.redactor, rendered=rendered, duration_ms=duration_ms, batch=batch
        )
        self._publish_step(record, node_id, type_id, duration_ms)

    def note_caught(self, frame: Frame, node_id: str, caught: dict[str, Any]) -> None:
        """Show on the try_catch step that its error branch was taken."""
        record = self.steps.get(frame.prefix + node_id)
        if record is not None and record.handle != "error":
            record.output, record.handle = {"error": caught}, "error"
            execution_store.finish_step(record, self.redactor, batch=self.batch)

    # -- events

    def _written(self) -> None:
        """The row says running and the batch is written: announce both."""
        steps = self._take_held()
        if not self.announced_running:
            self.announced_running = True
            announce_status(self.execution_id, self.flow_id, ExecutionStatus.running, None)
        events.publish_all(steps)

    def _take_held(self) -> list[events.Outgoing]:
        """The held steps' events, now that their rows are written (none held after)."""
        held, self.held = self.held, {}
        return [self._step_event(*step) for step in held.values()]

    def _step_event(
        self, record: StepRecord, node_id: str, type_id: str, duration_ms: float | None
    ) -> events.Outgoing:
        """A step's event, on its execution's and its flow's topics."""
        return step_event(self.execution_id, self.flow_id, record, node_id, type_id, duration_ms)

    def _publish_step(
        self, record: StepRecord, node_id: str, type_id: str, duration_ms: float | None = None
    ) -> None:
        """Now for a side-effecting step (its row is committed) or a live run; else held
        until the step's row is written, as it is then (one event per step)."""
        if self.live or self._external(node_id):
            events.publish_all([self._step_event(record, node_id, type_id, duration_ms)])
        else:
            self.held[record.step_key] = (record, node_id, type_id, duration_ms)

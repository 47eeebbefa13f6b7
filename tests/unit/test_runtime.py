"""The executor on SQLite, with platform actions against the recording fake pool.

Also home of the helpers the PostgreSQL runtime tests share: flows built as JSON and
published through the flows service, and a fake pool wired in through the settings.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import pytest
from sqlmodel import Session, select

from engine import actors, events, pool_client  # noqa: F401  (actors: declares the flows queue)
from engine.broker import QUEUE, get_broker
from engine.execution_store import create_execution
from engine.models import (
    AdminUser,
    ExecutionStatus,
    FlowExecution,
    FlowExecutionStep,
    FlowVersion,
    Role,
    StepStatus,
    utcnow,
)
from engine.runtime import run_execution, run_flow_now
from engine.services.flows import create_flow, publish, save_draft
from engine.settings import get_settings
from tests.fakes.pool import FakePool, read_records
from tests.unit.test_condition_nodes import event

POOL_TOKEN = "test-pool-token"
ACTOR = AdminUser(username="tester", password_hash="x", role=Role.editor)

# --- shared helpers ---


def node(node_id: str, type_id: str, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_id, "params": params}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {"source": source, "target": target, "sourceHandle": handle}


def send(node_id: str, text: str, **params: Any) -> dict[str, Any]:
    return node(node_id, "tg_send_message", text=text, **params)


TRIGGER = node("t", "tg_message")


def make_flow(
    session: Session, nodes: list[dict[str, Any]], edges: list[dict[str, Any]], name: str = "f"
) -> int:
    """Create and publish a flow; its id."""
    flow = create_flow(session, ACTOR, name, graph={"nodes": nodes, "edges": edges})
    assert flow.id is not None
    publish(session, ACTOR, flow.id)
    session.commit()
    return flow.id


def chain(*nodes: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A linear flow: trigger → nodes in order."""
    everything = [TRIGGER, *nodes]
    return everything, [
        edge(a["id"], b["id"]) for a, b in zip(everything, everything[1:], strict=False)
    ]


def steps(session: Session, execution_id: int) -> list[FlowExecutionStep]:
    session.expire_all()
    return list(
        session.exec(
            select(FlowExecutionStep)
            .where(FlowExecutionStep.execution_id == execution_id)
            .order_by(FlowExecutionStep.seq)
        ).all()
    )


def texts(pool: FakePool) -> list[str]:
    return [call.params["text"] for call in pool.executions.calls]


def trigger(**fields: Any) -> dict[str, Any]:
    return event(instance_id=5, **fields)


@pytest.fixture
async def pool(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakePool]:
    async with FakePool(token=POOL_TOKEN) as fake:
        monkeypatch.setenv("FLOWBOT_POOL_URL", fake.url)
        monkeypatch.setenv("FLOWBOT_POOL_TOKEN", POOL_TOKEN)
        get_settings.cache_clear()
        yield fake
        await pool_client.aclose()


# --- the basic path ---


async def test_linear_flow_runs_every_step_and_records_it(
    sqlite_session: Session, pool: FakePool
) -> None:
    flow_id = make_flow(
        sqlite_session,
        *chain(
            send("send1", "hi {{trigger.user.first_name}}"),
            send("send2", "after {{node.send1.message_id}}", chat_id="77"),
        ),
    )
    outcome = await run_flow_now(flow_id, trigger(), trigger_type="tg_message")

    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    first, second = pool.executions.calls
    assert (first.kind, first.action, first.instance_id) == ("telegram_bot", "send_message", 5)
    assert first.params["chat_id"] == "-100" and first.params["text"] == "hi Alice"
    assert "instance_id" not in first.params
    assert second.params == {**second.params, "chat_id": "77", "text": "after 1"}
    eid = outcome.execution_id
    assert [c.idempotency_key for c in pool.executions.calls] == [f"{eid}:send1", f"{eid}:send2"]
    recorded = steps(sqlite_session, eid)
    assert [(s.seq, s.step_key, s.node_type, s.status) for s in recorded] == [
        (1, "t", "tg_message", StepStatus.succeeded),
        (2, "send1", "tg_send_message", StepStatus.succeeded),
        (3, "send2", "tg_send_message", StepStatus.succeeded),
    ]
    assert recorded[1].input["text"] == "hi Alice" and recorded[1].output == {"message_id": "1"}
    assert recorded[1].handle == "next" and recorded[1].duration_ms is not None
    execution = sqlite_session.get(FlowExecution, eid)
    assert execution is not None and execution.step_count == 3 and execution.finished_at
    assert outcome.result is not None and outcome.result["last_node"] == "send2"


@pytest.mark.parametrize(("text", "sent"), [("hello world", "yes"), ("goodbye", "no")])
async def test_condition_follows_true_or_false(
    sqlite_session: Session, pool: FakePool, text: str, sent: str
) -> None:
    flow_id = make_flow(
        sqlite_session,
        [
            TRIGGER,
            node("c", "text_contains", values=["hello"]),
            send("yes", "yes"),
            send("no", "no"),
        ],
        [edge("t", "c"), edge("c", "yes", "true"), edge("c", "no", "false")],
    )
    outcome = await run_flow_now(flow_id, trigger(text=text))
    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    assert texts(pool) == [sent]


@pytest.mark.parametrize(("command", "sent"), [("help", "H"), ("rules", "R"), ("other", "D")])
async def test_switch_routes_by_value(
    sqlite_session: Session, pool: FakePool, command: str, sent: str
) -> None:
    flow_id = make_flow(
        sqlite_session,
        [
            TRIGGER,
            node("sw", "switch", value="{{trigger.command}}", cases=["help", "rules"]),
            send("h", "H"),
            send("r", "R"),
            send("d", "D"),
        ],
        [
            edge("t", "sw"),
            edge("sw", "h", "help"),
            edge("sw", "r", "rules"),
            edge("sw", "d", "default"),
        ],
    )
    outcome = await run_flow_now(flow_id, trigger(command=command))
    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    assert texts(pool) == [sent]


async def test_loop_runs_item_branch_per_item_up_to_the_cap_then_done(
    sqlite_session: Session, pool: FakePool
) -> None:
    flow_id = make_flow(
        sqlite_session,
        [
            TRIGGER,
            node("loop1", "loop", items="{{trigger.data.items}}", max_iterations=3),
            send("each", "{{context.item}}@{{node.loop1.index}}"),
            send("done", "done {{node.loop1.count}}"),
        ],
        [
            edge("t", "loop1"),
            edge("loop1", "each", "item"),
            edge("each", "loop1"),
            edge("loop1", "done", "done"),
        ],  # fmt: skip
    )
    outcome = await run_flow_now(flow_id, trigger(data={"items": ["a", "b", "c", "d", "e"]}))
    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    assert texts(pool) == ["a@0", "b@1", "c@2", "done 5"]
    keys = [s.step_key for s in steps(sqlite_session, outcome.execution_id)]
    assert keys == ["t", "loop1", "loop1[0]/each", "loop1[1]/each", "loop1[2]/each", "done"]


async def test_parallel_branches_run_concurrently_and_merge_waits_for_both(
    sqlite_session: Session, pool: FakePool
) -> None:
    pool.delays = {"send_message": 1.0, "ban_member": 1.0}
    flow_id = make_flow(
        sqlite_session,
        [
            TRIGGER,
            node("p", "parallel", branches=["a", "b"]),
            send("a1", "from a"),
            node("b1", "tg_ban_member"),
            node("m", "merge"),
            node("after", "log", message="{{node.m.a1.message_id}}/{{node.m.b1.message_id}}"),
        ],
        [
            edge("t", "p"),
            edge("p", "a1", "a"),
            edge("p", "b1", "b"),
            edge("a1", "m"),
            edge("b1", "m"),
            edge("m", "after"),
        ],  # fmt: skip
    )
    outcome = await run_flow_now(flow_id, trigger())

    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    assert pool.max_active == 2  # both branches were inside the pool at the same time
    recorded = {s.step_key: s for s in steps(sqlite_session, outcome.execution_id)}
    assert set(recorded["m"].output) == {"a1", "b1"}
    assert recorded["after"].output["message"] in ("1/2", "2/1")


async def test_try_catch_routes_an_error_to_its_error_branch(
    sqlite_session: Session, pool: FakePool
) -> None:
    pool.fail("ban_member", "platform", "not enough rights")
    flow_id = make_flow(
        sqlite_session,
        [
            TRIGGER,
            node("tc", "try_catch"),
            node("ban", "tg_ban_member"),
            send("report", "caught: {{node.tc.error.message}}"),
        ],  # fmt: skip
        [edge("t", "tc"), edge("tc", "ban", "try"), edge("tc", "report", "error")],
    )
    outcome = await run_flow_now(flow_id, trigger())
    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    assert texts(pool) == ["caught: node 'ban' (Ban member): platform: not enough rights"]
    recorded = {s.step_key: s for s in steps(sqlite_session, outcome.execution_id)}
    assert recorded["ban"].status == StepStatus.failed
    assert recorded["tc"].handle == "error"


async def test_stop_ends_the_execution_with_its_status(
    sqlite_session: Session, pool: FakePool
) -> None:
    flow_id = make_flow(
        sqlite_session,
        [TRIGGER, node("s", "stop", status="stopped", message="nope"), send("x", "x")],
        [edge("t", "s"), edge("t", "x")],  # x is queued after s, which ends everything
    )
    outcome = await run_flow_now(flow_id, trigger())
    assert outcome.status is ExecutionStatus.stopped
    assert outcome.result is not None and outcome.result["message"] == "nope"
    assert pool.requests.calls == []


# --- run_flow ---


async def test_run_flow_runs_the_child_and_outputs_its_result(
    sqlite_session: Session, pool: FakePool
) -> None:
    child = make_flow(
        sqlite_session,
        [
            node("ct", "flow_called"),
            node("v", "set_variable", name="answer", value="{{trigger.data.x}}!"),
        ],  # fmt: skip
        [edge("ct", "v")],
        name="child",
    )
    parent = make_flow(
        sqlite_session,
        *chain(
            node("call", "run_flow", flow_id=child, input={"x": "{{trigger.text}}"}),
            send("say", "{{node.call.variables.answer}}"),
        ),
    )
    outcome = await run_flow_now(parent, trigger(text="hey"))
    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    assert texts(pool) == ["hey!"]
    sqlite_session.expire_all()
    child_run = sqlite_session.exec(
        select(FlowExecution).where(FlowExecution.parent_execution_id == outcome.execution_id)
    ).one()
    assert child_run.depth == 1 and child_run.trigger_type == "flow_called"
    assert child_run.trigger_data["data"]["inputs"] == {"x": "hey"}


async def test_run_flow_without_waiting_queues_the_child_and_goes_on(
    sqlite_session: Session, pool: FakePool
) -> None:
    child = make_flow(
        sqlite_session,
        [node("ct", "flow_called"), send("hi", "child got {{trigger.data.x}}")],
        [edge("ct", "hi")],
        name="child",
    )
    parent = make_flow(
        sqlite_session,
        *chain(
            node("call", "run_flow", flow_id=child, input={"x": "1"}, wait=False),
            send("after", "parent went on ({{node.call.status}})"),
        ),
    )
    queue = get_broker().queues[QUEUE]
    queue.queue.clear()

    outcome = await run_flow_now(parent, trigger())

    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    assert texts(pool) == ["parent went on (queued)"]  # the child has not run
    sqlite_session.expire_all()
    child_run = sqlite_session.exec(
        select(FlowExecution).where(FlowExecution.parent_execution_id == outcome.execution_id)
    ).one()
    assert child_run.status == ExecutionStatus.queued
    [message] = [dramatiq.Message.decode(raw) for raw in queue.queue]
    assert (message.actor_name, list(message.args)) == ("execute_flow", [child_run.id])
    assert (await run_execution(child_run.id)).status is ExecutionStatus.succeeded
    assert texts(pool)[-1] == "child got 1"


async def test_run_flow_names_the_inputs_the_called_flow_needs(
    sqlite_session: Session, pool: FakePool
) -> None:
    child = make_flow(
        sqlite_session,
        [node("ct", "flow_called", inputs=["user_id", "reason"])],
        [],
        name="child",
    )
    parent = make_flow(
        sqlite_session, *chain(node("call", "run_flow", flow_id=child, input={"user_id": "7"}))
    )

    outcome = await run_flow_now(parent, trigger())

    assert outcome.status is ExecutionStatus.failed
    assert f"flow {child} needs the input(s) reason" in (outcome.error or "")
    sqlite_session.expire_all()
    [call] = [s for s in steps(sqlite_session, outcome.execution_id) if s.node_id == "call"]
    assert call.status == StepStatus.failed and "needs the input(s) reason" in (call.error or "")
    runs_of_child = select(FlowExecution).where(FlowExecution.flow_id == child)
    assert sqlite_session.exec(runs_of_child).all() == []  # rolled back with the refusal


async def test_run_flow_refuses_to_nest_deeper_than_five(
    sqlite_session: Session, pool: FakePool
) -> None:
    callee = make_flow(sqlite_session, [node("ct", "flow_called")], [], name="leaf")
    for level in range(6):
        callee = make_flow(
            sqlite_session,
            [node("ct", "flow_called"), node("call", "run_flow", flow_id=callee)],
            [edge("ct", "call")],
            name=f"level{level}",
        )
    outcome = await run_flow_now(callee, trigger())
    assert outcome.status is ExecutionStatus.failed
    assert "nests at most 5 deep" in (outcome.error or "")
    sqlite_session.expire_all()
    depths = sqlite_session.exec(select(FlowExecution.depth)).all()
    assert max(depths) == 5


async def test_run_flow_never_reenters_a_flow_on_its_stack(
    sqlite_session: Session, pool: FakePool
) -> None:
    first = make_flow(sqlite_session, [TRIGGER], [], name="a")
    second = make_flow(
        sqlite_session,
        [node("ct", "flow_called"), node("back", "run_flow", flow_id=first)],
        [edge("ct", "back")],
        name="b",
    )
    nodes, edges = chain(node("call", "run_flow", flow_id=second))
    save_draft(sqlite_session, ACTOR, first, {"nodes": nodes, "edges": edges})
    publish(sqlite_session, ACTOR, first)
    sqlite_session.commit()

    outcome = await run_flow_now(first, trigger())
    assert outcome.status is ExecutionStatus.failed
    assert f"flow {first} is already running in this chain ({first} → {second} → {first})" in (
        outcome.error or ""
    )


# --- durability: delay, replay ---


async def test_delay_parks_the_execution_and_resuming_continues_after_it(
    sqlite_session: Session, pool: FakePool
) -> None:
    flow_id = make_flow(
        sqlite_session,
        *chain(send("before", "before"), node("d", "delay", seconds=1.0), send("after", "after")),
    )
    outcome = await run_flow_now(flow_id, trigger())
    assert outcome.status is ExecutionStatus.waiting and outcome.resume_at is not None
    assert texts(pool) == ["before"]
    execution = sqlite_session.get(FlowExecution, outcome.execution_id)
    assert execution is not None and execution.status == ExecutionStatus.waiting

    early = await run_execution(outcome.execution_id)  # too early: nothing happens
    assert early.status is ExecutionStatus.waiting and texts(pool) == ["before"]

    await asyncio.sleep(1.05)
    resumed = await run_execution(outcome.execution_id)
    assert resumed.status is ExecutionStatus.succeeded, resumed.error
    assert texts(pool) == ["before", "after"]
    assert len(pool.requests.calls) == 2
    keys = [s.step_key for s in steps(sqlite_session, outcome.execution_id)]
    assert keys == ["t", "before", "d", "after"]


async def test_rerun_after_a_crash_repeats_no_completed_step(
    sqlite_session: Session, pool: FakePool
) -> None:
    """A worker died in tpl, a step without external effects: the re-run replays send1
    (its output reused) and runs tpl again. (A side-effecting step left running is never
    repeated: tests/integration/test_step_claims.py.)"""
    flow_id = make_flow(
        sqlite_session,
        *chain(
            send("send1", "one"),
            node("tpl", "template", text="two"),
            send("send3", "{{node.send1.message_id}}"),
        ),
    )
    execution = create_execution(sqlite_session, flow_id, trigger(), trigger_type="tg_message")
    sqlite_session.flush()
    eid = execution.id
    assert eid is not None
    for seq, key, status, output in [
        (1, "t", StepStatus.succeeded, trigger()),
        (2, "send1", StepStatus.succeeded, {"message_id": "old-1"}),
        (3, "tpl", StepStatus.running, None),
    ]:
        sqlite_session.add(
            FlowExecutionStep(
                execution_id=eid,
                seq=seq,
                step_key=key,
                node_id=key,
                node_type="x",
                status=status,
                output=output,
                handle="next" if output else None,
            )  # fmt: skip
        )
    execution.status = ExecutionStatus.running
    sqlite_session.commit()

    outcome = await run_execution(eid)
    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    assert texts(pool) == ["old-1"]  # send1 not repeated
    assert [c.idempotency_key for c in pool.requests.calls] == [f"{eid}:send3"]
    recorded = steps(sqlite_session, eid)
    assert [(s.step_key, s.status) for s in recorded] == [
        ("t", "succeeded"), ("send1", "succeeded"), ("tpl", "succeeded"), ("send3", "succeeded")
    ]  # fmt: skip
    assert recorded[2].output == {"text": "two"}

    again = await run_execution(eid)  # a redelivered message: finished, nothing runs
    assert again.status is ExecutionStatus.succeeded and len(pool.requests.calls) == 1


async def test_same_idempotency_key_runs_once(sqlite_session: Session, pool: FakePool) -> None:
    flow_id = make_flow(sqlite_session, *chain(send("s", "once")))
    first = await run_flow_now(flow_id, trigger(), idempotency_key="evt-1")
    second = await run_flow_now(flow_id, trigger(), idempotency_key="evt-1")
    assert first.execution_id == second.execution_id
    assert texts(pool) == ["once"]


# --- limits and errors ---


async def test_step_budget_fails_the_execution(
    sqlite_session: Session, pool: FakePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWBOT_MAX_STEPS", "10")
    get_settings.cache_clear()
    flow_id = make_flow(
        sqlite_session,
        [
            TRIGGER,
            node("loop1", "loop", items="{{trigger.data.items}}"),
            node("l", "log", message="{{context.item}}"),
        ],  # fmt: skip
        [edge("t", "loop1"), edge("loop1", "l", "item")],
    )
    outcome = await run_flow_now(flow_id, trigger(data={"items": list(range(50))}))
    assert outcome.status is ExecutionStatus.failed
    assert "step budget of 10 steps" in (outcome.error or "")
    assert len(steps(sqlite_session, outcome.execution_id)) == 10


async def test_wall_clock_budget_fails_a_slow_execution(
    sqlite_session: Session, pool: FakePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWBOT_MAX_SECONDS", "0.3")
    get_settings.cache_clear()
    pool.delays["send_message"] = 6
    flow_id = make_flow(sqlite_session, *chain(send("slow", "zzz")))
    outcome = await run_flow_now(flow_id, trigger())
    assert outcome.status is ExecutionStatus.failed
    assert "wall-clock budget of 0.3 s" in (outcome.error or "")
    slow = steps(sqlite_session, outcome.execution_id)[-1]
    assert slow.step_key == "slow" and slow.status == StepStatus.failed


async def test_a_bad_expression_fails_the_step_with_a_clear_message(
    sqlite_session: Session, pool: FakePool
) -> None:
    flow_id = make_flow(sqlite_session, *chain(send("send1", "x", chat_id="{{trigger.chat.idd}}")))
    outcome = await run_flow_now(flow_id, trigger())
    assert outcome.status is ExecutionStatus.failed
    error = outcome.error or ""
    assert error.startswith("node 'send1' (Send message): chat_id: ")
    assert "'{{trigger.chat.idd}}'" in error
    failed = steps(sqlite_session, outcome.execution_id)[-1]
    assert failed.status == StepStatus.failed and failed.error == error
    assert pool.requests.calls == []


async def test_a_failing_expression_names_its_field(
    sqlite_session: Session, pool: FakePool
) -> None:
    flow_id = make_flow(sqlite_session, *chain(send("send1", "{{ 1 // 0 }}")))
    outcome = await run_flow_now(flow_id, trigger())
    assert outcome.status is ExecutionStatus.failed
    assert (outcome.error or "").startswith("node 'send1' (Send message): field 'text': ")


async def test_rate_limited_error_shows_retry_after(
    sqlite_session: Session, pool: FakePool
) -> None:
    pool.fail("send_message", "rate_limited", "Too Many Requests", retry_after=7)
    flow_id = make_flow(sqlite_session, *chain(send("send1", "x")))
    outcome = await run_flow_now(flow_id, trigger())
    assert outcome.status is ExecutionStatus.failed
    assert outcome.error == (
        "node 'send1' (Send message): rate_limited: Too Many Requests (retry after 7 s)"
    )


async def test_unreachable_pool_is_reported_not_raised(
    sqlite_session: Session, pool: FakePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_client, "RETRY_DELAYS", (0.01, 0.01))
    await pool.stop()
    flow_id = make_flow(sqlite_session, *chain(send("send1", "x")))
    outcome = await run_flow_now(flow_id, trigger())
    assert outcome.status is ExecutionStatus.failed
    assert "unavailable: connector pool unreachable at http://127.0.0.1:" in (outcome.error or "")


async def test_unknown_node_type_fails_the_step(sqlite_session: Session, pool: FakePool) -> None:
    flow_id = make_flow(sqlite_session, *chain(send("s", "x")))
    nodes, edges = chain(node("odd", "no_such_node"))
    version = FlowVersion(flow_id=flow_id, version=9, graph={"nodes": nodes, "edges": edges})
    sqlite_session.add(version)
    sqlite_session.commit()
    outcome = await run_flow_now(flow_id, trigger(), version_id=version.id)
    assert outcome.status is ExecutionStatus.failed
    assert outcome.error == "node 'odd': unknown node type 'no_such_node'"


async def test_secrets_are_redacted_in_step_input(sqlite_session: Session, pool: FakePool) -> None:
    flow_id = make_flow(
        sqlite_session,
        *chain(
            node(
                "h",
                "http_request",
                url="http://127.0.0.1:9/hook",
                headers={"Authorization": "Bearer s3cret", "X-Api-Key": "k3y", "Accept": "json"},
            )
        ),
    )
    outcome = await run_flow_now(flow_id, trigger())
    step = steps(sqlite_session, outcome.execution_id)[-1]
    assert step.input["headers"] == {
        "Authorization": "[redacted]", "X-Api-Key": "[redacted]", "Accept": "json"
    }  # fmt: skip
    assert "s3cret" not in json.dumps(step.input) and "k3y" not in json.dumps(step.input)


async def test_steps_and_status_changes_are_published(
    sqlite_session: Session, pool: FakePool
) -> None:
    flow_id = make_flow(sqlite_session, *chain(send("send1", "x")))
    async with events.subscribe(f"flow.{flow_id}") as subscription:
        outcome = await run_flow_now(flow_id, trigger())
        seen: list[dict[str, Any]] = []
        while not (seen and seen[-1]["type"] == "execution" and seen[-1]["status"] != "running"):
            seen.append((await asyncio.wait_for(anext(subscription), 2)).payload)
    assert all(p["execution_id"] == outcome.execution_id for p in seen)
    assert [(p["type"], p.get("step_key"), p["status"]) for p in seen] == [
        ("execution", None, "running"),  # with send1's claim, which also writes t
        ("step", "t", "succeeded"),  # side-effect-free: once, as written
        ("step", "send1", "running"),
        ("step", "send1", "succeeded"),
        ("execution", None, "succeeded"),
    ]


async def test_memory_bus_delivers_from_other_threads() -> None:
    async with events.subscribe("execution.*") as subscription:
        await asyncio.to_thread(events.publish, "execution.9", {"n": 1})
        events.publish("flow.9", {"n": 2})  # not matching
        events.publish("execution.10", {"n": 3})
        got = [await asyncio.wait_for(anext(subscription), 2) for _ in range(2)]
    assert [(e.topic, e.payload["n"]) for e in got] == [("execution.9", 1), ("execution.10", 3)]


async def test_started_at_is_recorded(sqlite_session: Session, pool: FakePool) -> None:
    before = utcnow()
    flow_id = make_flow(sqlite_session, *chain(send("s", "x")))
    outcome = await run_flow_now(flow_id, trigger())
    step = steps(sqlite_session, outcome.execution_id)[-1]
    started = (
        step.started_at if step.started_at.tzinfo else step.started_at.replace(tzinfo=before.tzinfo)
    )
    assert started >= before.replace(microsecond=0)


# --- merge modes, the fake pool as a process ---


async def test_merge_timeout_goes_on_with_the_branches_that_arrived(
    sqlite_session: Session, pool: FakePool
) -> None:
    # The slow branch outlasts the timeout by far; the fast one has seconds to arrive even on
    # a loaded machine (a timeout shorter than one step's write made this test flaky).
    pool.delays["ban_member"] = 60
    flow_id = make_flow(
        sqlite_session,
        [
            TRIGGER,
            node("p", "parallel", branches=["fast", "slow"]),
            send("a1", "fast"),
            node("b1", "tg_ban_member"),
            node("m", "merge", timeout_seconds=3),
            node("after", "log", message="merged"),
        ],
        [
            edge("t", "p"),
            edge("p", "a1", "fast"),
            edge("p", "b1", "slow"),
            edge("a1", "m"),
            edge("b1", "m"),
            edge("m", "after"),
        ],  # fmt: skip
    )
    outcome = await run_flow_now(flow_id, trigger())
    assert outcome.status is ExecutionStatus.succeeded, outcome.error
    recorded = {s.step_key: s for s in steps(sqlite_session, outcome.execution_id)}
    assert set(recorded["m"].output) == {"a1"} and recorded["after"].status == "succeeded"


async def test_fake_pool_runs_as_a_process_and_records_to_a_file(tmp_path: Path) -> None:
    import socket
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    record = tmp_path / "calls.jsonl"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.pool", "--port", str(port), "--token", "tok",
        "--record-file", str(record), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert b"listening" in await asyncio.wait_for(process.stdout.readline(), 30)
        async with httpx.AsyncClient() as client:
            for _ in range(2):
                answer = await client.post(
                    f"http://127.0.0.1:{port}/execute",
                    headers={"Authorization": "Bearer tok"},
                    json={
                        "instance_id": 1,
                        "kind": "telegram_bot",
                        "action": "send_message",
                        "params": {"text": "x"},
                        "idempotency_key": "k1",
                    },  # fmt: skip
                )
                assert answer.json() == {"ok": True, "result": {"message_id": "1"}}
    finally:
        process.terminate()
        await process.wait()
    requests, executions = read_records(record)
    assert len(requests) == 2 and len(executions) == 1
    assert executions[0].idempotency_key == "k1" and executions[0].params == {"text": "x"}

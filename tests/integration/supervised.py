"""Run one platform instance under a real supervisor and pool API, for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from sqlmodel import select

from connectors.kit.forwarder import EventForwarder
from connectors.pool_api import start_api
from connectors.registry import ConnectorFactory, connector_factory
from connectors.supervisor import Supervisor
from engine.db import session_scope
from engine.models import ExecutionStatus, FlowExecution, FlowExecutionStep
from engine.models.connections import BotInstance, ConnectorKind, PlatformConnection
from engine.services import executions
from engine.settings import get_settings

POOL_TOKEN = "e2e-pool-token"


class Environment(Protocol):
    """Where the engine is pointed at the pool: pytest's monkeypatch, or a bench's process."""

    def setenv(self, name: str, value: str) -> None: ...


@contextlib.asynccontextmanager
async def supervised_instance(
    monkeypatch: Environment, kind: ConnectorKind, credential: str, settings: dict[str, Any]
) -> AsyncIterator[Supervisor]:
    """An active connection of ``kind``, its supervisor, and the engine pointed at its pool."""
    async with supervised_instances(monkeypatch, [(kind, credential, settings)]) as (supervisor, _):
        yield supervisor


Instance = tuple[ConnectorKind, str | None, dict[str, Any]]  # kind, credential, settings


@contextlib.asynccontextmanager
async def supervised_instances(
    monkeypatch: Environment,
    instances: list[Instance],
    factories: Callable[[str], ConnectorFactory] = connector_factory,
) -> AsyncIterator[tuple[Supervisor, list[int]]]:
    """Active connections (their ids, in order) run by one supervisor, built by
    ``factories``, and the engine pointed at its pool."""
    ids = []
    with session_scope() as session:
        for kind, credential, settings in instances:
            bot = BotInstance(
                name=f"e2e-{kind}", kind=kind, credential=credential, settings=settings
            )
            session.add(bot)
            session.flush()
            session.add(PlatformConnection(bot_instance_id=bot.id, is_active=True))
            assert bot.id is not None
            ids.append(bot.id)

    supervisor = Supervisor(
        factories=factories, forwarder=EventForwarder(), reconcile_seconds=1, listen_bus=False
    )
    runner = await start_api(supervisor, POOL_TOKEN, "127.0.0.1", 0)
    monkeypatch.setenv("FLOWBOT_POOL_URL", f"http://127.0.0.1:{runner.addresses[0][1]}")
    monkeypatch.setenv("FLOWBOT_POOL_TOKEN", POOL_TOKEN)
    get_settings.cache_clear()
    task = asyncio.create_task(supervisor.run())
    try:
        yield supervisor, ids
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)
        await runner.cleanup()


async def only_execution_steps(flow_id: int) -> tuple[FlowExecution, dict[str, FlowExecutionStep]]:
    """The flow's single execution, once it succeeded, and its steps by node id."""
    with session_scope() as session:
        (execution,) = session.exec(
            select(FlowExecution).where(FlowExecution.flow_id == flow_id)
        ).all()
    finished = await executions.wait_for_finish(execution.id, 10)
    assert finished is not None and finished.status == ExecutionStatus.succeeded
    return finished, {step.node_id: step for step in executions.load_steps(execution.id)}

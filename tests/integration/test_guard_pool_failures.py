"""Failure paths of the connector pool, run for real: the idempotency cache through the pool
HTTP API (a retryable error is tried again, a final one is not), and a supervisor cut off
from its database stopping its connectors before its lease runs out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel
from sqlmodel import Session

from connectors.kit.actions import ActionRegistry
from connectors.kit.connector import Connector, EmitEvent, InstanceConfig, ReportStatus
from engine import db
from engine.action_errors import ActionError, ErrorKind
from engine.models.base import utcnow
from engine.models.connections import PlatformConnection
from engine.settings import get_settings
from tests.integration.test_supervisor import add_bot, eventually, make_supervisor, pool, running

ANSWERS: dict[str, list[ActionError | None]] = {}  # per idempotency key: what each call does
CALLS: dict[str, int] = {}
STOPPED: list[datetime] = []

actions: ActionRegistry[None] = ActionRegistry("telegram_bot")


class Act(BaseModel):
    key: str


@actions.action("act", Act)
async def act(client: None, p: Act) -> dict[str, Any]:
    """Fails as scripted for ``p.key``, then succeeds; counts every real call."""
    CALLS[p.key] = CALLS.get(p.key, 0) + 1
    script = ANSWERS.get(p.key, [])
    failure = script.pop(0) if script else None
    if failure is not None:
        raise failure
    return {"call": CALLS[p.key]}


class ScriptedConnector(Connector):
    """Connects at once, answers ``act`` from the script and notes when it was stopped."""

    kind = "telegram_bot"
    actions = actions

    @property
    def client(self) -> None:
        return None

    async def run(self) -> None:
        try:
            await self.report("connected", "", {})
            await asyncio.Event().wait()
        finally:
            STOPPED.append(utcnow())


def scripted(kind: str) -> Any:
    def factory(config: InstanceConfig, emit: EmitEvent, report: ReportStatus) -> Connector:
        return ScriptedConnector(config, emit, report)

    return factory


def body(instance_id: int, key: str) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "kind": "telegram_bot",
        "action": "act",
        "params": {"key": key},
        "idempotency_key": key,
    }


async def test_pool_api_retries_after_a_retryable_error_only(sqlite_session: Session) -> None:
    ANSWERS.clear()
    CALLS.clear()
    ANSWERS["limited"] = [ActionError(ErrorKind.rate_limited, "slow down", retry_after=1)]
    ANSWERS["down"] = [ActionError(ErrorKind.unavailable, "platform down")]
    ANSWERS["refused"] = [ActionError(ErrorKind.platform, "chat not found")]
    connection = add_bot(sqlite_session)
    supervisor = make_supervisor(factories=scripted)
    instance_id = connection.bot_instance_id
    async with running(supervisor), pool(supervisor) as client:
        await eventually(lambda: supervisor.instances.get(instance_id), timeout=60, what="running")

        async def execute(key: str) -> dict[str, Any]:
            answer = await client.post("/execute", json=body(instance_id, key))
            assert answer.status_code == 200
            return dict(answer.json())

        for key, kind in [("limited", "rate_limited"), ("down", "unavailable")]:
            first = await execute(key)
            assert first["ok"] is False and first["error"]["kind"] == kind
            again = await execute(key)  # the same key acts again: it failed retryably
            assert again == {"ok": True, "result": {"call": 2}}
            assert await execute(key) == again  # and is answered from the cache after that
            assert CALLS[key] == 2

        final = await execute("refused")
        assert final["ok"] is False and final["error"]["kind"] == "platform"
        assert await execute("refused") == final  # a final answer is not tried again
        assert CALLS["refused"] == 1


async def test_supervisor_cut_off_from_its_database_stops_within_the_lease(
    sqlite_session: Session, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leases 80 times the heartbeat; the stop is compared with the expiry of the last lease
    the supervisor wrote (read from the row through the test's own connection)."""
    STOPPED.clear()
    connection = add_bot(sqlite_session)
    supervisor = make_supervisor(factories=scripted, lease_seconds=8.0, reconcile_seconds=0.1)
    assert supervisor.lease_seconds >= 10 * supervisor.heartbeat_seconds
    own_view = db.make_engine(sqlite_url)  # the test's own line to the database
    async with running(supervisor):
        await eventually(lambda: supervisor.instances, timeout=60, what="connector running")
        monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://flowbot@127.0.0.1:1/gone")
        get_settings.cache_clear()
        db.get_engine().dispose()
        db.get_engine.cache_clear()  # from now on every claim fails: connection refused
        await eventually(lambda: STOPPED, timeout=supervisor.lease_seconds * 2, what="stopped")
        assert supervisor.instances == {}
    with Session(own_view) as session:  # the last lease that got written before the cut
        row = session.get(PlatformConnection, connection.id)
        assert row is not None and row.lease_owner == supervisor.owner
        expires = row.lease_expires_at
    assert expires is not None
    own_view.dispose()
    stopped_at, expiry = STOPPED[0], expires
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=UTC)
    if stopped_at.tzinfo is None:
        stopped_at = stopped_at.replace(tzinfo=UTC)
    assert stopped_at < expiry, f"stopped {stopped_at - expiry} after the lease ran out"

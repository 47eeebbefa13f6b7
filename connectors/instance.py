"""ManagedInstance: one instance's connector, kept running by the supervisor.

It builds the connector, awaits its ``run()``, and when that fails records the error
and starts it again after an exponential, capped backoff; a refused credential stops
the retries until the instance's configuration changes. It also guards the
instance's actions with a CircuitBreaker.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from connectors.kit.circuit_breaker import CircuitBreaker
from connectors.kit.connector import Connector, EmitEvent
from connectors.kit.errors import CredentialRejected, redact
from connectors.registry import ConnectorFactory
from connectors.store import HeldInstance
from engine.action_errors import ActionError, ErrorKind
from engine.child_tasks import cancel_and_wait

log = logging.getLogger(__name__)

# (instance, status, message, details) → recorded in the database and on the bus.
StatusSink = Callable[["ManagedInstance", str, str, dict[str, Any]], Awaitable[None]]
_STOP_TIMEOUT = 10.0


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """1, 2, 4, 8… × base seconds, never more than ``cap``."""
    return min(cap, base * 2.0 ** max(0, failures - 1))


class ManagedInstance:
    def __init__(
        self,
        held: HeldInstance,
        factory: ConnectorFactory | None,
        emit: EmitEvent,
        on_status: StatusSink,
        breaker: CircuitBreaker,
        *,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self.held = held
        self._factory = factory
        self._emit = emit
        self._on_status = on_status
        self.breaker = breaker
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.connector: Connector | None = None
        self.status = "stopped"
        self.last_error: str | None = None
        self.restarts = 0
        self._failures = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def instance_id(self) -> int:
        return self.held.instance_id

    @property
    def connection_id(self) -> int:
        return self.held.connection_id

    @property
    def kind(self) -> str:
        return self.held.config.kind

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(
                self._keep_running(), name=f"connector-{self.kind}-{self.instance_id}"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task, _STOP_TIMEOUT)
        self.connector = None

    async def restart(self) -> None:
        """Stop and start again at once (an admin asked; the backoff is reset)."""
        await self.stop()
        self.restarts += 1
        self._failures = 0
        self.start()

    async def execute(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        connector = self.connector
        if connector is None:
            why = f" (last error: {self.last_error})" if self.last_error else ""
            raise ActionError(ErrorKind.unavailable, f"the {self.kind} client is not running{why}")
        connector.actions.validate(action, params)  # a bad request is neither up nor down
        self.breaker.before_call()
        try:
            result = await connector.execute(action, params)
        except ActionError as exc:
            if exc.kind is ErrorKind.unavailable:
                self.breaker.record_failure(exc.message)
            else:
                self.breaker.record_success()  # the platform answered
            raise
        except Exception as exc:
            self.breaker.record_failure(self._describe(exc))
            log.error(
                "%s action %s failed unexpectedly:\n%s",
                self.kind, action, self._redact("".join(traceback.format_exception(exc))),
            )  # fmt: skip
            raise ActionError(ErrorKind.platform, self._describe(exc)) from None
        self.breaker.record_success()
        return result

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.instance_id,
            "connection_id": self.connection_id,
            "kind": self.kind,
            "status": self.status,
            "running": self.running,
            "breaker": self.breaker.snapshot(),
            "restarts": self.restarts,
            "last_error": self.last_error,
        }

    # -- internals --------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        config = self.held.config
        return redact(text, config.credential, config.webhook_secret)

    def _describe(self, exc: BaseException) -> str:
        return self._redact(f"{type(exc).__name__}: {exc}")

    async def _report(self, status: str, message: str, details: Mapping[str, Any]) -> None:
        """The connector's own status reports (connecting, connected…)."""
        if status == "connected":
            self._failures = 0
            self.last_error = None
            self.breaker.record_success()
        elif status in ("error", "auth_required"):
            self.last_error = message
        self.status = status
        await self._on_status(self, status, self._redact(message), dict(details))

    async def _keep_running(self) -> None:
        if self.held.error or self._factory is None:
            await self._report("error", self.held.error or f"no connector for {self.kind!r}", {})
            return
        while True:
            try:
                self.connector = self._factory(self.held.config, self._emit, self._report)
                await self.connector.run()
                raise RuntimeError("the client stopped by itself")
            except asyncio.CancelledError:
                raise
            except CredentialRejected as exc:
                self.connector = None
                await self._report("auth_required", str(exc), {})
                return  # a new credential changes the fingerprint: the supervisor restarts us
            except Exception as exc:
                self.connector = None
                self._failures += 1
                self.restarts += 1
                message = self._describe(exc)
                self.breaker.record_failure(message)
                delay = backoff_delay(self._failures, self.backoff_base, self.backoff_max)
                log.warning(
                    "%s instance %s failed (%s); restarting in %.1f s",
                    self.kind, self.instance_id, message, delay,
                )  # fmt: skip
                await self._report("error", message, {"retry_in": delay})
                await asyncio.sleep(delay)

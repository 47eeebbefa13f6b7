"""The connector supervisor: leases, one connector per held instance, restarts, status.

Every ``heartbeat`` (a third of the lease) it claims/renews leases with one UPDATE
(connectors/store.py). When the held set changed, every ``reconcile_seconds``, or at
once when the bus says ``connections.changed``, it reloads the held instances'
configs and the Reconciler starts, stops or restarts connectors to match. A
supervisor that cannot renew its leases for most of a lease period stops its
connectors, since another supervisor is about to take them over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from connectors import store
from connectors.instance import ManagedInstance
from connectors.kit.circuit_breaker import CircuitBreaker
from connectors.kit.dedupe import IdempotencyCache
from connectors.kit.errors import redact
from connectors.kit.forwarder import EventForwarder
from connectors.kit.reconciler import Reconciler
from connectors.registry import ConnectorFactory, UnknownConnectorKind, connector_factory
from engine import events, heartbeats
from engine.action_errors import ActionError, ErrorKind
from engine.platform_event import PlatformEvent
from engine.settings import Settings, get_settings

log = logging.getLogger(__name__)

CHANGED_TOPIC = "connections.changed"
# Published by engine/services/bot_config.py: {"instance_id": int, "version": int}.
BOT_CONFIG_TOPIC = "bot_config.published"
# How long a stop waits for its "stopped" row (behind its connector's writes still in
# their threads) before the tick goes on; the row lands in order whenever it does.
_STATUS_WAIT = 10.0


def new_owner_id() -> str:
    """Unique per supervisor process (and per instance of it in tests)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Supervisor:
    def __init__(
        self,
        *,
        owner: str | None = None,
        forwarder: EventForwarder | None = None,
        factories: Callable[[str], ConnectorFactory] = connector_factory,
        reconcile_seconds: float = 30.0,
        lease_seconds: float = 60.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        breaker_failures: int = 5,
        breaker_reset_seconds: float = 30.0,
        pool_url: str | None = None,
        listen_bus: bool = True,
    ) -> None:
        self.owner = owner or new_owner_id()
        self.forwarder = forwarder or EventForwarder()
        self._factories = factories
        self.reconcile_seconds = reconcile_seconds
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = min(lease_seconds / 3, reconcile_seconds)
        self._backoff = (backoff_base, backoff_max)
        self._breaker = (breaker_failures, breaker_reset_seconds)
        self.pool_url = pool_url
        self.listen_bus = listen_bus
        self.dedupe = IdempotencyCache()
        self.instances: dict[int, ManagedInstance] = {}  # by bot instance id
        self._restarts: dict[int, int] = {}  # survives a restart after a config change
        self._reconciler: Reconciler[store.HeldInstance, int] = Reconciler(
            start=self._start, stop=self._stop, key=lambda h: h.instance_id,
            fingerprint=lambda h: h.fingerprint,
        )  # fmt: skip
        self._wake = asyncio.Event()
        self._reload_due = True
        self._claimed: list[store.Claimed] = []
        self._last_renewal: float | None = None
        self._reloads: set[asyncio.Task[None]] = set()  # bot configuration reloads under way
        # Each connection's latest status write; the next one waits for it (_queue_status).
        self._status_writes: dict[int, asyncio.Task[None]] = {}
        self._beats = heartbeats.Pacer()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> Supervisor:
        s = settings or get_settings()
        options: dict[str, Any] = {
            "reconcile_seconds": s.reconcile_seconds,
            "lease_seconds": s.lease_seconds,
            "backoff_max": s.restart_backoff_max,
            "breaker_failures": s.breaker_failures,
            "breaker_reset_seconds": s.breaker_reset_seconds,
            "pool_url": s.pool_url,
        }
        return cls(**{**options, **overrides})

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, *, release_on_exit: bool = True) -> None:
        """Supervise until cancelled; then stop the connectors and give the leases back."""
        listener = asyncio.create_task(self._listen()) if self.listen_bus else None
        loop = asyncio.get_running_loop()
        next_reload = loop.time()
        try:
            while True:
                if loop.time() >= next_reload:
                    self._reload_due = True
                    next_reload = loop.time() + self.reconcile_seconds
                await self.tick()
                await self._sleep_unless_woken()
                self._wake.clear()
        finally:
            if listener is not None:
                listener.cancel()
            for reload in self._reloads:
                reload.cancel()
            await asyncio.shield(self.shutdown(release=release_on_exit))

    async def _sleep_unless_woken(self) -> None:
        """Wait a heartbeat or until poked. Not ``wait_for``: on Python 3.11 it returns the
        inner result and drops a cancellation that arrives as the inner wait ends (a poke at
        the moment of a stop), and the supervisor would run on."""
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({woken}, timeout=self.heartbeat_seconds)
        finally:
            woken.cancel()

    def poke(self) -> None:
        """Reconcile now (a connection changed)."""
        self._reload_due = True
        self._wake.set()

    async def tick(self) -> None:
        """Renew and claim leases; reconcile when the held set or the configs changed."""
        loop = asyncio.get_running_loop()
        try:
            claimed = await asyncio.to_thread(store.claim, self.owner, self.lease_seconds)
        except Exception:
            log.exception("could not renew leases")
            if self._last_renewal and loop.time() - self._last_renewal > self.lease_seconds * 0.9:
                log.error("leases about to expire: stopping all connectors")
                await self._stop_all(record=False)
            return
        self._last_renewal = loop.time()
        if self._beats.due():
            await self._beat()
        if claimed == self._claimed and not self._reload_due:
            return
        self._claimed, self._reload_due = claimed, False
        held = await asyncio.to_thread(store.load_held, claimed)
        result = await self._reconciler.reconcile(held)
        if result.changed:
            log.info(
                "reconciled: started %s, stopped %s, restarted %s",
                result.started, result.stopped, result.restarted,
            )  # fmt: skip

    async def _beat(self) -> None:
        """The supervisor's heartbeat row, with each held instance's last event time."""
        details = {
            "owner": self.owner,
            "instances": len(self.instances),
            "last_event_at": {str(k): v for k, v in self.forwarder.last_event_at.items()},
        }
        try:
            await asyncio.to_thread(heartbeats.beat, "supervisor", self.heartbeat_key, details)
        except Exception as exc:  # the leases matter; a missed beat does not
            log.warning("heartbeat skipped: %s", type(exc).__name__)

    @property
    def heartbeat_key(self) -> str:
        return heartbeats.process_key("supervisor", self.owner)

    async def shutdown(self, *, release: bool = True) -> None:
        await self._stop_all(record=release)
        if release:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(store.release, self.owner)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(heartbeats.forget, self.heartbeat_key)

    # -- actions ----------------------------------------------------------------------------

    async def execute(
        self, instance_id: int | None, kind: str, action: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            managed = await self._find(instance_id, kind)
            return await managed.execute(action, params)
        except ActionError:
            raise
        except Exception as exc:  # the database, most likely: say so instead of HTTP 500
            log.exception("execute %s.%s failed", kind, action)
            raise ActionError(
                ErrorKind.unavailable, f"connector pool error: {type(exc).__name__}"
            ) from None

    async def receive_update(self, instance_id: int, kind: str, update: Mapping[str, Any]) -> None:
        """Hand a pushed update to the instance's running connector; ActionError
        ``unavailable`` when it is not running or an event did not reach the broker (the
        platform sends it again; routing is idempotent per update)."""
        managed = await self._find(instance_id, kind)
        if managed.connector is None:
            raise ActionError(ErrorKind.unavailable, f"the {kind} client is not running")
        lost: list[str] = []

        async def emit(event: PlatformEvent) -> None:
            if not await self.forwarder.forward(event):
                lost.append(event.event_id)

        await managed.connector.receive_update(update, emit)
        if lost:
            raise ActionError(ErrorKind.unavailable, "the broker cannot be reached; send again")

    async def restart(self, instance_id: int) -> None:
        managed = self.instances.get(instance_id)
        if managed is None:
            raise await self._not_held(instance_id)
        await managed.restart()

    def snapshot(self) -> list[dict[str, Any]]:
        return [self.instances[key].snapshot() for key in sorted(self.instances)]

    def pools(self) -> dict[str, dict[str, int]]:
        pools: dict[str, dict[str, int]] = {}
        for managed in self.instances.values():
            counts = pools.setdefault(managed.kind, {"running": 0, "connected": 0, "failed": 0})
            counts["running"] += managed.running
            counts["connected"] += managed.status == "connected"
            counts["failed"] += managed.status in ("error", "auth_required")
        return pools

    # -- internals --------------------------------------------------------------------------

    async def _find(self, instance_id: int | None, kind: str) -> ManagedInstance:
        if instance_id is None:
            candidates = [m for m in self.instances.values() if m.kind == kind]
            if len(candidates) != 1:
                raise ActionError(
                    ErrorKind.validation,
                    f"instance_id is required: this pool runs {len(candidates)} {kind} instances",
                )
            return candidates[0]
        managed = self.instances.get(instance_id)
        if managed is None:
            raise await self._not_held(instance_id)
        if managed.kind != kind:
            raise ActionError(
                ErrorKind.validation, f"instance {instance_id} is a {managed.kind}, not a {kind}"
            )
        return managed

    async def _not_held(self, instance_id: int) -> ActionError:
        holder = await asyncio.to_thread(store.holder_of, instance_id)
        if holder is None:
            return ActionError(ErrorKind.validation, f"there is no bot instance {instance_id}")
        if not holder.is_active:
            return ActionError(
                ErrorKind.unavailable, f"instance {instance_id} is not connected (not active)"
            )
        details = {"owner": holder.owner, "pool_url": holder.pool_url}
        return ActionError(
            ErrorKind.not_held,
            f"instance {instance_id} is run by another connector supervisor",
            details={k: v for k, v in details.items() if v},
        )

    async def _start(self, held: store.HeldInstance) -> None:
        try:
            factory: ConnectorFactory | None = self._factories(held.config.kind)
        except UnknownConnectorKind:
            factory = None
        managed = ManagedInstance(
            held,
            factory,
            self.forwarder,
            self._record_status,
            CircuitBreaker(*self._breaker),
            backoff_base=self._backoff[0],
            backoff_max=self._backoff[1],
        )
        if held.instance_id in self._restarts:  # a restart after a config change
            managed.restarts = self._restarts.pop(held.instance_id) + 1
        self.instances[held.instance_id] = managed
        managed.start()

    async def _stop(self, instance_id: int, *, record: bool = True) -> None:
        managed = self.instances.pop(instance_id, None)
        if managed is None:
            return
        await managed.stop()
        still_held = any(c.instance_id == instance_id for c in self._claimed)
        if still_held:
            self._restarts[instance_id] = managed.restarts
        if record:
            # After the writes its connector started (a thread cannot be cancelled), and
            # the lease given back only after it: record_status needs the lease.
            stopped = self._queue_status(managed, "stopped", "", {}, release=not still_held)
            await asyncio.wait({stopped}, timeout=_STATUS_WAIT)

    async def _stop_all(self, *, record: bool) -> None:
        for instance_id in list(self.instances):
            await self._stop(instance_id, record=record)
            self._reconciler.forget(instance_id)
        self._claimed = []

    async def _record_status(
        self, managed: ManagedInstance, status: str, message: str, details: dict[str, Any]
    ) -> None:
        """A connector's report. One that is stopped (or stopping) is not heard: its
        "stopped" is queued already, and a platform callback still running after the stop
        must not overwrite it or its successor's status."""
        if self.instances.get(managed.instance_id) is not managed:
            return
        # Shielded: cancelling the connector leaves its write queued, for _stop to wait on.
        await asyncio.shield(self._queue_status(managed, status, message, details))

    def _queue_status(
        self,
        managed: ManagedInstance,
        status: str,
        message: str,
        details: dict[str, Any],
        *,
        release: bool = False,
    ) -> asyncio.Task[None]:
        """Write after the connection's previous status write has ended, so rows land in
        the order they were reported: a write runs in a thread, and a late one landing
        after "stopped" showed a stopped connection as connected."""
        connection_id = managed.connection_id
        previous = self._status_writes.get(connection_id)
        write = asyncio.create_task(
            self._write_status(previous, managed, status, message, details, release)
        )
        self._status_writes[connection_id] = write

        def forget(done: asyncio.Task[None]) -> None:
            if self._status_writes.get(connection_id) is done:
                del self._status_writes[connection_id]

        write.add_done_callback(forget)
        return write

    async def _write_status(
        self,
        previous: asyncio.Task[None] | None,
        managed: ManagedInstance,
        status: str,
        message: str,
        details: dict[str, Any],
        release: bool,
    ) -> None:
        """Database row and log first (durable), then the bus (best effort); then the
        lease given back when ``release``."""
        if previous is not None:
            await asyncio.wait({previous})  # its outcome is its own (it logs its failure)
        if self.pool_url:
            details = {**details, "pool_url": self.pool_url, "owner": self.owner}
        try:
            stored = await asyncio.to_thread(
                store.record_status, managed.connection_id, self.owner, status, message,
                details, restart_count=managed.restarts,
            )  # fmt: skip
        except Exception:
            log.exception("could not record status of connection %s", managed.connection_id)
            stored = False
        if stored:
            events.publish(
                f"connection.{managed.connection_id}",
                # details carry what the UI must show at once: WhatsApp QR codes, pairing codes
                {**managed.snapshot(), "status": status, "message": message, "details": details},
            )
        if release:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(store.release, self.owner, [managed.connection_id])

    async def _listen(self) -> None:
        """Reconcile as soon as the UI or the API changes a connection; hand a published bot
        configuration to the connector that answers for that bot."""
        while True:
            try:
                async with events.subscribe(CHANGED_TOPIC, BOT_CONFIG_TOPIC) as subscription:
                    async for event in subscription:
                        if event.topic == BOT_CONFIG_TOPIC:
                            self.reload_bot_config(event.payload.get("instance_id"))
                        else:
                            self.poke()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("event bus subscription failed; polling only", exc_info=True)
                await asyncio.sleep(self.reconcile_seconds)

    def reload_bot_config(self, instance_id: object) -> None:
        """Tell the running connector of ``instance_id`` to answer from its bot's newly
        published configuration, in a task: a slow platform must not hold up the bus."""
        managed = self.instances.get(instance_id) if isinstance(instance_id, int) else None
        reload = getattr(managed.connector, "reload_bot_config", None) if managed else None
        if managed is None or reload is None:
            return  # not held here, not running yet (it loads the live version when it
            # connects), or a kind without a bot configuration
        task = asyncio.create_task(self._reload_bot_config(managed, reload))
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def _reload_bot_config(
        self, managed: ManagedInstance, reload: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            await reload()
        except Exception as exc:
            why = redact(f"{type(exc).__name__}: {exc}", managed.held.config.credential)
            log.error("instance %s: could not reload its bot configuration: %s",
                      managed.instance_id, why)  # fmt: skip

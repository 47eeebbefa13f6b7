"""Running the supervisor with its pool API: as a process, or inside the web process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from connectors.pool_api import start_api
from connectors.supervisor import Supervisor
from engine.settings import get_settings

log = logging.getLogger(__name__)


async def serve(supervisor: Supervisor | None = None) -> None:
    """Pool API on ``pool_host:pool_port`` plus the supervisor loop, until cancelled."""
    settings = get_settings()
    supervisor = supervisor or Supervisor.from_settings(settings)
    runner = await start_api(
        supervisor, settings.effective_pool_token, settings.pool_host, settings.pool_port
    )
    log.info(
        "connector supervisor %s: pool API on %s:%s",
        supervisor.owner, settings.pool_host, settings.pool_port,
    )  # fmt: skip
    try:
        await supervisor.run()
    finally:
        await runner.cleanup()


def embedded_enabled() -> bool:
    settings = get_settings()
    if settings.embedded_connectors is not None:
        return settings.embedded_connectors
    return settings.is_embedded_broker


async def run_embedded() -> None:
    """Reflex lifespan task: the supervisor inside the web process (embedded mode only).

    If the pool port is taken (another web worker already runs the pool), this one
    stays out: a supervisor without its API could hold instances nobody can reach.
    """
    if not embedded_enabled():
        return
    try:
        await serve()
    except OSError as exc:
        log.error("connector supervisor not started: pool port unavailable (%s)", exc)


def main() -> int:
    """``python -m connectors`` / ``flowbot connectors``: until SIGINT or SIGTERM."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def _main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serve()

    asyncio.run(_main())
    return 0

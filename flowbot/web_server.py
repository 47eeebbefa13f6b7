"""The web process after the frontend build: the Reflex app's backend, which also serves the
compiled pages, the REST API and the webhooks on one port.

`flowbot run` / `flowbot web` build the frontend in a child process (`reflex export`) and
then exec this module, so the process that stays up never compiled the pages. `reflex run
--env prod` instead keeps its compiling CLI process alive as granian's supervisor and forks
the backend from it: two copies of the app (about 200 MiB each) for one server. With one
backend process (embedded mode always; FLOWBOT_WEB_WORKERS=1) granian runs inside this
process; with more, Reflex's own supervisor preloads the app and forks them, so they share
its pages.
"""

from __future__ import annotations

# Reflex is imported where it is used: the benchmark's server takes tune_gc from here.
import asyncio
import gc
import signal

from engine.settings import get_settings

GC_FREEZE_AFTER_SECONDS = 20.0
"""When start-up is over: the pages evaluated, the embedded worker's first jobs run."""
GC_GEN0_THRESHOLD = 7_000
"""Allocations between young collections (Python's default 700 ran one per two webhook
calls; at 7,000 their total CPU was a quarter of it)."""


def tune_gc() -> None:
    """Leave start-up's objects out of every later collection, and collect the young
    generation a tenth as often. What start-up made (modules, the app, the pages; some
    300,000 objects) lives as long as the process, yet each full collection walked it all
    again: 100-350 ms each, several per thousand webhook calls (issue 15). Only the young
    generations are collected first: a full collection here is such a pause too, felt by
    whoever asked something at that moment (one co-editor's move in the editor bench took
    250 ms); what old garbage remains is frozen with start-up's objects, once."""
    gc.collect(1)
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def tune_gc_after_start(delay: float = GC_FREEZE_AFTER_SECONDS) -> None:
    """:func:`tune_gc` once start-up is over, ``delay`` seconds from now on this loop."""
    asyncio.get_running_loop().call_later(delay, tune_gc)


def _prepare_reflex() -> None:
    """What `reflex run --env prod --single-port` sets before it starts its backend: prod
    mode, pages already compiled (the backend only evaluates the stateful ones), the
    compiled frontend mounted on the backend's port, no per-browser state left from before."""
    from reflex.istate.manager import reset_disk_state_manager
    from reflex_base import constants
    from reflex_base.environment import environment

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)
    environment.REFLEX_MOUNT_FRONTEND_COMPILED_APP.set(True)
    reset_disk_state_manager()


async def _serve_in_process(host: str, port: int) -> None:
    """Granian's embedded server: the event loop and the app live in this process."""
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server.embed import Server
    from reflex.utils import prerequisites
    from reflex_base.config import get_config

    reflex_app = prerequisites.get_app().app
    server = Server(
        target=reflex_app,
        factory=True,  # App.__call__ evaluates the pages and returns the ASGI app
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        log_level=LogLevels(get_config().loglevel.subprocess_level().value),
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.stop)
    tune_gc_after_start()
    await server.serve()


def main() -> int:
    settings = get_settings()
    _prepare_reflex()
    if settings.effective_web_workers == 1:
        asyncio.run(_serve_in_process(settings.host, settings.port))
    else:
        from reflex.utils import exec as reflex_exec
        from reflex_base.config import get_config

        # Reads GRANIAN_WORKERS, which `flowbot web` sets from the setting.
        reflex_exec.run_granian_backend_prod(
            settings.host, settings.port, get_config().loglevel.subprocess_level()
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Shared plumbing of the fake platform servers: lifecycle on a fixed port, outages, call log.

Both fakes are aiohttp applications on 127.0.0.1. The port is picked once (port 0) and kept
across ``stop()`` / ``start()``, so a client configured with ``base_url`` sees a real outage
(connection refused) and then the same server again, as after a platform incident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar

from aiohttp import web

CallT = TypeVar("CallT")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request, as the platform would have received it."""

    field: str
    filename: str | None
    content_type: str
    data: bytes


class CallLog(Generic[CallT]):
    """Every request a fake answered, in order, with a way to wait for one that has not come yet."""

    def __init__(self) -> None:
        self.calls: list[CallT] = []
        self._changed = asyncio.Event()

    def record(self, call: CallT) -> None:
        self.calls.append(call)
        self._changed.set()

    def matching(self, predicate: Callable[[CallT], bool]) -> list[CallT]:
        return [call for call in self.calls if predicate(call)]

    async def wait_for(
        self, predicate: Callable[[CallT], bool], *, count: int = 1, timeout: float = 5.0
    ) -> CallT:
        """Return the ``count``-th matching call, waiting up to ``timeout`` seconds for it."""

        async def _wait() -> CallT:
            while True:
                self._changed.clear()
                found = self.matching(predicate)
                if len(found) >= count:
                    return found[count - 1]
                await self._changed.wait()

        try:
            return await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            seen = [getattr(c, "summary", repr(c)) for c in self.calls]
            raise AssertionError(f"expected call not seen within {timeout}s; got {seen}") from None


class FakeServer:
    """An aiohttp app on 127.0.0.1 that can be stopped and restarted on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.down = False
        self._runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        if not self.port:
            raise RuntimeError("the fake server is not started")
        return f"http://127.0.0.1:{self.port}"

    def build_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> None:
        """Listen (again) on the first start's port; the state (calls, updates) is kept."""
        if self._runner is not None:
            return
        app = self.build_app()
        app.middlewares.append(self._outage_middleware)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.2, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if not self.port:
            self.port = runner.addresses[0][1]
        self._runner = runner

    async def stop(self) -> None:
        """Close the listening socket and every open connection: clients get connection errors."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await self.before_stop()
            await runner.cleanup()

    async def before_stop(self) -> None:
        """Hook for fakes holding long-lived connections (websockets, long polls)."""

    def set_down(self, down: bool = True) -> None:
        """While down, every request has its connection dropped without an answer."""
        self.down = down

    @web.middleware
    async def _outage_middleware(
        self, request: web.Request, handler: Callable[[web.Request], object]
    ) -> web.StreamResponse:
        if self.down:
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable()
        return await handler(request)  # type: ignore[misc]

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def read_multipart(request: web.Request) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """Split a multipart body into its plain fields and its file parts."""
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        name = part.name or ""
        if part.filename is None:  # type: ignore[union-attr]
            fields[name] = await part.text()  # type: ignore[union-attr]
        else:
            files[name] = UploadedFile(
                field=name,
                filename=part.filename,  # type: ignore[union-attr]
                content_type=part.headers.get("Content-Type", "application/octet-stream"),
                data=bytes(await part.read()),  # type: ignore[union-attr]
            )
    return fields, files

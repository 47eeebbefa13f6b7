"""An HTTP client on the API app in process (no server), as webhook callers use it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from engine.api.app import create_api


@asynccontextmanager
async def api_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://flowbot") as http:
        yield http

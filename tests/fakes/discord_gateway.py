"""The gateway half of the fake Discord: a websocket speaking Discord's gateway protocol v10.

HELLO → IDENTIFY (intents recorded) → READY (+ GUILD_CREATE per known guild), HEARTBEAT →
HEARTBEAT_ACK, RESUME replaying missed dispatches, dispatches with sequence numbers, and the
transport compression hikari asks for in the URL (``compress=zlib-stream`` by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import secrets
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

Json = dict[str, Any]

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT = 0, 1, 2, 6, 7
REQUEST_GUILD_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11


@dataclass
class GatewaySession:
    """A gateway session: survives its connection so that RESUME can replay what was missed."""

    session_id: str
    intents: int
    seq: int = 0
    history: list[Json] = field(default_factory=list)


class _Connection:
    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.session: GatewaySession | None = None
        self.payload_compression = False
        self._encode = _transport_encoder(compress)

    async def send(self, payload: Json) -> None:
        data = json.dumps(payload).encode()
        if self._encode is not None:
            await self.ws.send_bytes(self._encode(data))
        elif self.payload_compression and payload["op"] != HELLO:
            await self.ws.send_bytes(zlib.compress(data))
        else:
            await self.ws.send_str(data.decode())


def _transport_encoder(compress: str | None) -> Callable[[bytes], bytes] | None:
    """One compression stream per connection, flushed after each payload, as Discord does."""
    if compress == "zlib-stream":
        zlib_stream = zlib.compressobj()
        return lambda data: zlib_stream.compress(data) + zlib_stream.flush(zlib.Z_SYNC_FLUSH)
    if compress == "zstd-stream":  # what hikari asks for when backports.zstd is installed
        module = "compression.zstd" if sys.version_info >= (3, 14) else "backports.zstd"
        zstd = importlib.import_module(module)
        zstd_stream = zstd.ZstdCompressor()
        return lambda data: zstd_stream.compress(data, zstd.ZstdCompressor.FLUSH_BLOCK)
    return None


class FakeGateway:
    """Gateway state and protocol; mixed into FakeDiscord, which supplies identity and guilds."""

    token: str
    me: Json
    application_id: str
    guilds: dict[str, Json]

    def __init__(self, heartbeat_interval_ms: int = 41_250) -> None:
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.gateway_payloads: list[Json] = []
        self.identifies: list[Json] = []
        self.resumes: list[Json] = []
        self.sessions: dict[str, GatewaySession] = {}
        self._connections: set[_Connection] = set()
        self._ready_changed = asyncio.Event()

    @property
    def gateway_url(self) -> str:
        return self.origin.replace("http://", "ws://") + "/gateway"  # type: ignore[attr-defined]

    @property
    def intents(self) -> int | None:
        """The intents of the latest IDENTIFY."""
        return self.identifies[-1]["intents"] if self.identifies else None

    def _ready_connections(self) -> list[_Connection]:
        return [c for c in self._connections if c.session is not None and not c.ws.closed]

    async def wait_until_ready(self, timeout: float = 5.0) -> GatewaySession:
        """Wait for a connection that has identified (or resumed) and got READY."""

        async def _wait() -> GatewaySession:
            while True:
                self._ready_changed.clear()
                if ready := self._ready_connections():
                    assert ready[0].session is not None
                    return ready[0].session
                await self._ready_changed.wait()

        return await asyncio.wait_for(_wait(), timeout)

    async def dispatch(self, event: str, data: Json, *, timeout: float = 5.0) -> int:
        """Send dispatch ``event`` (e.g. ``MESSAGE_CREATE``) to every ready connection.

        Returns the sequence number it got; waits up to ``timeout`` for a ready connection.
        """
        await self.wait_until_ready(timeout)
        seq = 0
        for connection in self._ready_connections():
            seq = await self._dispatch_to(connection, event, data)
        return seq

    async def _dispatch_to(self, connection: _Connection, event: str, data: Json) -> int:
        session = connection.session
        assert session is not None
        session.seq += 1
        payload = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.history.append(payload)
        await connection.send(payload)
        return session.seq

    async def close_gateway(self, code: int = 4000, message: str = "Unknown error") -> None:
        """Close every gateway connection (codes < 4000 and most 4xxx let clients resume)."""
        for connection in list(self._connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.ws.close(code=code, message=message.encode()), 2)

    async def send_reconnect(self) -> None:
        """Opcode 7: ask clients to reconnect and resume."""
        for connection in self._ready_connections():
            await connection.send({"op": RECONNECT, "d": None})

    async def invalidate_session(self, resumable: bool = False) -> None:
        for connection in self._ready_connections():
            await connection.send({"op": INVALID_SESSION, "d": resumable})

    # -- protocol ---------------------------------------------------------------------------

    async def _gateway_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        try:
            connection = _Connection(ws, request.query.get("compress"))
        except ImportError as error:
            await ws.close(code=4000, message=f"fake gateway cannot compress: {error}".encode())
            return ws
        self._connections.add(connection)
        try:
            await connection.send(
                {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
            )
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._on_payload(connection, json.loads(message.data))
        finally:
            self._connections.discard(connection)
            self._ready_changed.set()
        return ws

    async def _on_payload(self, connection: _Connection, payload: Json) -> None:
        self.gateway_payloads.append(payload)
        op, data = payload.get("op"), payload.get("d")
        if op == HEARTBEAT:
            await connection.send({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            await self._identify(connection, data)
        elif op == RESUME:
            await self._resume(connection, data)
        elif op == REQUEST_GUILD_MEMBERS:
            await self._members_chunk(connection, data)

    async def _identify(self, connection: _Connection, data: Json) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        connection.payload_compression = bool(data.get("compress"))
        session = GatewaySession(secrets.token_hex(16), int(data.get("intents", 0)))
        self.sessions[session.session_id] = session
        connection.session = session
        await self._dispatch_to(connection, "READY", self._ready_payload(session, data))
        for guild in self.guilds.values():
            await self._dispatch_to(connection, "GUILD_CREATE", guild)
        self._ready_changed.set()

    def _ready_payload(self, session: GatewaySession, identify: Json) -> Json:
        return {
            "v": 10,
            "user": {**self.me, "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": guild_id, "unavailable": True} for guild_id in self.guilds],
            "session_id": session.session_id,
            "resume_gateway_url": self.gateway_url,
            "shard": identify.get("shard", [0, 1]),
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "_trace": ["fake-discord-gateway"],
        }

    async def _resume(self, connection: _Connection, data: Json) -> None:
        self.resumes.append(data)
        session = self.sessions.get(data.get("session_id", ""))
        if session is None or data.get("token") != self.token:
            await connection.send({"op": INVALID_SESSION, "d": False})
            return
        connection.session = session
        for missed in session.history:
            if missed["s"] > int(data.get("seq") or 0):
                await connection.send(missed)
        await self._dispatch_to(connection, "RESUMED", {"_trace": ["fake-discord-gateway"]})
        self._ready_changed.set()

    async def _members_chunk(self, connection: _Connection, data: Json) -> None:
        guild = self.guilds.get(str(data.get("guild_id")), {})
        chunk = {
            "guild_id": str(data.get("guild_id")),
            "members": guild.get("members", []),
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._dispatch_to(connection, "GUILD_MEMBERS_CHUNK", chunk)

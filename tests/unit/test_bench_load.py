"""The webhook benches' HTTP client (bench/_load.py) reads every way an HTTP/1.1 answer can
end, and keeps one connection alive across requests, so a round's checks see whole bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from bench._load import Answer, Connection

ANSWERS = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    "closing": b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye",
    "to-eof": b"HTTP/1.1 202 Accepted\r\n\r\nuntil the end",
}


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[int]]]:
    """Answers the JSON body's "answer" from ANSWERS; records one entry per connection."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while not reader.at_eof():
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            wanted = json.loads(await reader.readexactly(length))["answer"]
            writer.write(ANSWERS[wanted])
            await writer.drain()
            if wanted in ("closing", "to-eof"):
                break
        writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/bench", connections
    listening.close()


async def test_every_kind_of_answer_is_read_whole(server: tuple[str, list[int]]) -> None:
    url, connections = server
    connection = Connection(url)
    answers = [await connection.post({"answer": kind}) for kind in ANSWERS]
    answers.append(await connection.post({"answer": "length"}))
    connection.close()
    assert answers == [
        Answer(200, b"ok"),
        Answer(200, b"abcde"),
        Answer(201, b"bye"),
        Answer(202, b"until the end"),
        Answer(200, b"ok"),
    ]
    assert len(connections) == 3  # kept alive, then a new one after each closing answer

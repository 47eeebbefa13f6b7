"""The running server's UI websocket, opened raw: refused from a foreign Origin.

Browsers send the page's Origin with every websocket handshake and attach the site's
cookies; a page on another site must not get a socket that speaks with a visitor's session.
"""

from __future__ import annotations

import base64
import os
import socket
from urllib.parse import urlsplit


def _handshake(url: str, origin: str) -> str:
    """The server's status line for a websocket upgrade of the UI's event socket."""
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /_event/?EIO=4&transport=websocket&token=raw-origin-test HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request.encode())
        return sock.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_only_the_public_origin_gets_a_websocket(app_url: str) -> None:
    assert " 101 " in _handshake(app_url, app_url)
    assert " 403 " in _handshake(app_url, "https://evil.example")

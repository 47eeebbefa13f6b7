"""The utility nodes' runners: variables, HTTP (against a local server), queries, counters."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlmodel import Session

from engine.models import FlowExecution, ReputationScore, Warning
from engine.nodes import REGISTRY, NodeCategory, NodePlatform, utility
from tests.unit.test_condition_nodes import FakeContext, event, make_world, run


def test_utility_nodes_declared() -> None:
    nodes = {t.id: t for t in REGISTRY if t.platform is NodePlatform.utility}
    assert set(nodes) == {
        "set_variable",
        "http_request",
        "log",
        "db_query",
        "template",
        "json_extract",
        "counter",
    }
    delay = REGISTRY.get("delay")
    assert delay.platform is NodePlatform.flow and delay.run is None
    for node in [*nodes.values(), delay]:
        assert node.category is NodeCategory.action
        for name, info in node.params.model_fields.items():
            assert info.description and info.examples, f"{node.id}.{name}"


def test_delay_needs_exactly_one_of_seconds_or_until() -> None:
    params = REGISTRY.get("delay").params
    assert params(seconds=5).seconds == 5
    with pytest.raises(ValueError):
        params()
    with pytest.raises(ValueError):
        params(seconds=5, until="2026-01-01T00:00:00Z")
    with pytest.raises(ValueError):
        params(seconds=10**9)


async def test_set_variable_template_and_log(caplog: pytest.LogCaptureFixture) -> None:
    ctx = FakeContext(event())
    result = await run("set_variable", ctx, name="greeting", value={"text": "hi"})
    assert ctx.variables == {"greeting": {"text": "hi"}} and result.output["name"] == "greeting"
    with pytest.raises(ValueError):
        REGISTRY.get("set_variable").params(name="not valid")
    assert (await run("template", ctx, text="Hello Alice")).output == {"text": "Hello Alice"}
    with caplog.at_level("WARNING", logger="flowbot.flows"):
        out = await run("log", ctx, level="warning", message="careful")
    assert out.output == {"level": "warning", "message": "careful"}
    assert "careful" in caplog.text


@pytest.mark.parametrize(
    ("value", "path", "expected", "found"),
    [
        ('{"items": [{"name": "a"}, {"name": "b"}]}', "/items/1/name", "b", True),
        ({"items": [{"name": "a"}]}, "items[0].name", "a", True),
        ({"items": [{"name": "a"}]}, "items.0.name", "a", True),
        ({"a/b": {"~c": 1}}, "/a~1b/~0c", 1, True),
        ({"items": []}, "items.3", "none", False),
        ([1, 2, 3], "-1", 3, True),
        ({"x": 1}, "", {"x": 1}, True),
    ],
)
async def test_json_extract(value: Any, path: str, expected: Any, found: bool) -> None:
    result = await run("json_extract", FakeContext(event()), value=value, path=path, default="none")
    assert result.output == {"value": expected, "found": found}


async def test_json_extract_rejects_bad_json() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        await run("json_extract", FakeContext(event()), value="{nope", path="a")


# --- counter ---


async def test_counter_per_user_chat_and_flow(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    alice = FakeContext(event(), flow_id=world.flow_id)
    bob = FakeContext(event(user={"id": "43"}), flow_id=world.flow_id)
    assert (await run("counter", alice, name="msgs")).output["value"] == 1
    out = (await run("counter", alice, name="msgs", amount=5)).output
    assert out == {"name": "msgs", "scope": "user:telegram:42", "value": 6, "previous": 1}
    assert (await run("counter", bob, name="msgs")).output["value"] == 1
    assert (await run("counter", alice, name="msgs", operation="decrement")).output["value"] == 5
    assert (await run("counter", alice, name="msgs", operation="get")).output["value"] == 5
    assert (await run("counter", alice, name="msgs", operation="reset")).output["value"] == 0
    assert (await run("counter", alice, name="c", per="chat")).output["value"] == 1
    assert (await run("counter", bob, name="c", per="chat")).output["value"] == 2
    assert (await run("counter", bob, name="c", per="flow")).output["scope"] == "flow"


async def test_counter_concurrent_increments_are_not_lost(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    ctx = FakeContext(event(), flow_id=world.flow_id)
    await asyncio.gather(*(run("counter", ctx, name="n", per="flow") for _ in range(20)))
    assert (await run("counter", ctx, name="n", per="flow", operation="get")).output["value"] == 20


async def test_counter_per_user_needs_a_user(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    ctx = FakeContext(event(user=None), flow_id=world.flow_id)
    with pytest.raises(ValueError, match="no user"):
        await run("counter", ctx, name="n")


# --- db_query ---


async def test_db_query_runs_allow_listed_queries(sqlite_session: Session) -> None:
    world = make_world(sqlite_session)
    sqlite_session.add_all(
        [
            Warning(
                community_id=world.community_id, platform_account_id=world.account_id, reason="x"
            ),
            ReputationScore(
                community_id=world.community_id, platform_account_id=world.account_id, score=4
            ),
            FlowExecution(flow_id=world.flow_id, status="succeeded"),
        ]
    )
    sqlite_session.commit()
    ctx = FakeContext(event())
    count = await run(
        "db_query", ctx, query="member_count", params={"community_id": world.community_id}
    )
    assert count.output["rows"] == [{"count": 1}]
    warnings = await run(
        "db_query",
        ctx,
        query="warnings_of_user",
        params={"community_id": world.community_id, "platform": "telegram", "user_id": "42"},
    )
    assert warnings.output["row_count"] == 1 and warnings.output["rows"][0]["reason"] == "x"
    assert isinstance(warnings.output["rows"][0]["created_at"], str)  # JSON-ready
    top = await run(
        "db_query",
        ctx,
        query="top_reputation",
        params={"community_id": world.community_id, "limit": 1000},
    )
    assert top.output["rows"][0]["score"] == 4
    runs = await run("db_query", ctx, query="recent_executions", params={"flow_id": world.flow_id})
    assert runs.output["rows"][0]["status"] == "succeeded"


def test_db_query_refuses_unknown_queries_and_params() -> None:
    params = REGISTRY.get("db_query").params
    with pytest.raises(ValueError, match="unknown query 'drop_all'; allowed: member_count"):
        params(query="drop_all")
    with pytest.raises(ValueError, match="missing \\['community_id'\\]"):
        params(query="member_count")
    with pytest.raises(ValueError, match="unknown \\['sql'\\]"):
        params(query="member_count", params={"community_id": 1, "sql": "x"})


async def test_db_query_binds_values_instead_of_pasting_them(sqlite_session: Session) -> None:
    make_world(sqlite_session)
    hostile = "1 OR 1=1; DROP TABLE community"
    result = await run(
        "db_query", FakeContext(event()), query="member_count", params={"community_id": hostile}
    )
    assert result.output["rows"] == [{"count": 0}]


# --- http_request ---


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json", **headers: str):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
            self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/json"):
            echo = {"path": self.path, "host": self.headers["Host"], "x": self.headers["X-Test"]}
            self._send(200, json.dumps(echo).encode())
        elif self.path == "/big":
            self._send(200, b"x" * 300_000, "text/plain")
        elif self.path == "/slow":
            threading.Event().wait(3)
            self._send(200, b"late", "text/plain")
        elif self.path == "/redirect":
            self._send(302, b"", Location="/json?from=redirect")
        elif self.path == "/to-metadata":
            self._send(302, b"", Location="http://169.254.169.254/latest")
        else:
            self._send(404, b"{}")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._send(201, json.dumps({"got": json.loads(body)}).encode())


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def allow_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(utility, "http_allowlist", lambda: ["127.0.0.1"])


@pytest.mark.usefixtures("allow_local")
async def test_http_get_json_with_query_and_headers(server: str) -> None:
    result = await run(
        "http_request",
        FakeContext(event()),
        url=f"{server}/json",
        query={"q": "flow bot"},
        headers={"X-Test": "yes"},
    )
    out = result.output
    assert out["status"] == 200 and out["ok"]
    assert out["json"] == {"path": "/json?q=flow+bot", "host": server[7:], "x": "yes"}


@pytest.mark.usefixtures("allow_local")
async def test_http_post_json_and_redirects(server: str) -> None:
    posted = await run(
        "http_request",
        FakeContext(event()),
        method="POST",
        url=f"{server}/echo",
        json_body={"a": 1},
    )
    assert posted.output["status"] == 201 and posted.output["json"] == {"got": {"a": 1}}
    followed = await run("http_request", FakeContext(event()), url=f"{server}/redirect")
    assert followed.output["json"]["path"] == "/json?from=redirect"
    assert followed.output["url"].endswith("/json?from=redirect")
    kept = await run(
        "http_request", FakeContext(event()), url=f"{server}/redirect", follow_redirects=False
    )
    assert kept.output["status"] == 302


@pytest.mark.usefixtures("allow_local")
async def test_http_redirect_to_private_address_is_refused(server: str) -> None:
    with pytest.raises(utility.RequestRefused, match="169.254.169.254"):
        await run("http_request", FakeContext(event()), url=f"{server}/to-metadata")


@pytest.mark.usefixtures("allow_local")
async def test_http_size_cap(server: str) -> None:
    with pytest.raises(ValueError, match="larger than 100000 bytes"):
        await run("http_request", FakeContext(event()), url=f"{server}/big", max_bytes=100_000)
    ok = await run("http_request", FakeContext(event()), url=f"{server}/big", max_bytes=300_000)
    assert len(ok.output["text"]) == 300_000


@pytest.mark.usefixtures("allow_local")
async def test_http_timeout(server: str) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises((TimeoutError, utility.httpx.TimeoutException)):
        await run("http_request", FakeContext(event()), url=f"{server}/slow", timeout_seconds=0.5)
    assert loop.time() - started < 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost/",
        "http://0.0.0.0/",
        "http://192.168.1.1/",
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://100.100.100.200/",  # cloud metadata in the shared address space
    ],
)
async def test_http_refuses_private_addresses_without_allow_list(url: str) -> None:
    with pytest.raises(utility.RequestRefused, match="private or reserved"):
        await run("http_request", FakeContext(event()), url=url)


REFUSED_ADDRESSES = {
    "127.0.0.1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local (cloud metadata)",
    "100.64.0.1": "shared address space (CGNAT)",
    "100.100.100.200": "CGNAT cloud metadata",
    "0.0.0.0": "unspecified",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast (SSDP)",
    "240.0.0.1": "reserved",
    "255.255.255.255": "broadcast",
    "198.18.0.1": "benchmarking",
    "192.0.2.1": "documentation",
    "::": "IPv6 unspecified",
    "::1": "IPv6 loopback",
    "fe80::1": "IPv6 link-local",
    "fec0::1": "IPv6 site-local",
    "fc00::1": "IPv6 unique local",
    "ff02::1": "IPv6 multicast",
    "2001:db8::1": "IPv6 documentation",
    "::ffff:127.0.0.1": "IPv4-mapped loopback",
    "::ffff:169.254.169.254": "IPv4-mapped metadata",
    "::127.0.0.1": "IPv4-compatible loopback",
    "2002:7f00:1::": "6to4 of 127.0.0.1",
    "2002:a9fe:a9fe::1": "6to4 of 169.254.169.254",
    "2002:6464:64c8::": "6to4 of 100.100.100.200",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "Teredo, client 192.0.2.45",
    "2001:0:7f00:1::": "Teredo, server 127.0.0.1",
    "64:ff9b::7f00:1": "NAT64 of 127.0.0.1",
    "64:ff9b::a9fe:a9fe": "NAT64 of 169.254.169.254",
    "64:ff9b:1::a00:1": "local-use NAT64 of 10.0.0.1",
}
PUBLIC_ADDRESSES = {
    "8.8.8.8": "public IPv4",
    "2606:4700:4700::1111": "public IPv6",
    "::ffff:8.8.8.8": "IPv4-mapped public",
    "2002:808:808::": "6to4 of 8.8.8.8",
    "64:ff9b::808:808": "NAT64 of 8.8.8.8 (IPv6-only hosts with DNS64)",
}


@pytest.mark.parametrize(("address", "why"), REFUSED_ADDRESSES.items(), ids=list(REFUSED_ADDRESSES))
def test_private_address_check_refuses(address: str, why: str) -> None:
    assert not utility.is_public_address(utility.ipaddress.ip_address(address)), why


@pytest.mark.parametrize(("address", "why"), PUBLIC_ADDRESSES.items(), ids=list(PUBLIC_ADDRESSES))
def test_private_address_check_allows_public(address: str, why: str) -> None:
    assert utility.is_public_address(utility.ipaddress.ip_address(address)), why


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/"])
async def test_http_refuses_other_schemes(url: str) -> None:
    with pytest.raises(utility.RequestRefused, match="only http and https"):
        await run("http_request", FakeContext(event()), url=url)


def test_http_params_are_capped() -> None:
    params = REGISTRY.get("http_request").params
    with pytest.raises(ValueError):
        params(url="https://example.com", timeout_seconds=600)
    with pytest.raises(ValueError):
        params(url="https://example.com", max_bytes=10**9)
    with pytest.raises(ValueError, match="not both"):
        params(url="https://example.com", json_body={}, body="x")


def test_allow_list_accepts_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    import ipaddress

    monkeypatch.setattr(utility, "http_allowlist", lambda: ["10.0.0.0/8", "intranet.local"])
    assert utility._allowed("x", ipaddress.ip_address("10.1.2.3"))
    assert utility._allowed("INTRANET.local", ipaddress.ip_address("192.168.0.5"))
    assert not utility._allowed("x", ipaddress.ip_address("192.168.0.5"))
    monkeypatch.undo()
    assert utility.http_allowlist() == []


@pytest.mark.postgres
async def test_counter_atomic_on_sqlite_and_postgresql(session: Session) -> None:
    """Concurrent increments from many worker threads lose nothing on either database."""
    world = make_world(session)
    ctx = FakeContext(event(), flow_id=world.flow_id)
    await asyncio.gather(*(run("counter", ctx, name="n", per="chat") for _ in range(30)))
    assert (await run("counter", ctx, name="n", per="chat", operation="get")).output["value"] == 30

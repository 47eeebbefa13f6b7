"""The HTTP node's private-address guard at its edges: every special-purpose range Python's
``ipaddress`` knows, and DNS answers that mix or switch addresses (rebinding), with real
local servers recording which address a request really reached."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from engine.nodes import utility
from tests.unit.test_condition_nodes import FakeContext, event, run

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def special_purpose_networks() -> dict[str, Network]:
    """Every network ``ipaddress`` classifies as not global (private, reserved, multicast,
    link-local, loopback, site-local, shared 100.64.0.0/10, unspecified), read from the
    module itself so a Python that learns a new range tests it too."""
    found: dict[str, Network] = {}
    for constants in (ipaddress._IPv4Constants, ipaddress._IPv6Constants):  # type: ignore[attr-defined]
        for name, value in vars(constants).items():
            if name.startswith("__") or name.endswith("_exceptions"):
                continue
            for item in value if isinstance(value, list) else [value]:
                network = ipaddress.ip_network(item)
                found[str(network)] = network
    return found


SPECIAL = special_purpose_networks()
# Inside ::ffff:0:0/96 the IPv4 address carried decides (::ffff:8.8.8.8 is 8.8.8.8): only its
# ends (0.0.0.0 and 255.255.255.255) are refused for sure; the forms are tested below.
MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def samples(network: Network) -> list[Address]:
    """First, middle and last address of ``network``."""
    picked = [network[0], network[-1]]
    if network != MAPPED:
        picked.append(network[network.num_addresses // 2])
    return picked


def test_the_special_purpose_list_covers_the_known_ranges() -> None:
    for expected in ["100.64.0.0/10", "224.0.0.0/4", "169.254.0.0/16", "ff00::/8", "fec0::/10"]:
        assert expected in SPECIAL


@pytest.mark.parametrize("network", SPECIAL.values(), ids=list(SPECIAL))
def test_every_special_purpose_range_is_refused(network: Network) -> None:
    for address in samples(network):
        assert not utility.is_public_address(address), f"{address} in {network}"


EMBEDDED = {
    # form: (address carrying 100.100.100.200 (refused), same form carrying 8.8.8.8 (allowed))
    "IPv4-mapped": ("::ffff:100.100.100.200", "::ffff:8.8.8.8"),
    "IPv4-compatible": ("::100.100.100.200", "::8.8.8.8"),
    "6to4": ("2002:6464:64c8::1", "2002:808:808::1"),
    "NAT64 well-known": ("64:ff9b::6464:64c8", "64:ff9b::808:808"),
    "NAT64 local-use": ("64:ff9b:1::6464:64c8", "64:ff9b:1::808:808"),
    # Teredo: server in bits 32-63, client inverted in the last 32 (~8.8.8.8 = f7f7:f7f7).
    "Teredo client": ("2001:0:808:808::9b9b:9b37", "2001:0:808:808::f7f7:f7f7"),
    "Teredo server": ("2001:0:6464:64c8::f7f7:f7f7", "2001:0:808:808::f7f7:f7f7"),
}


@pytest.mark.parametrize(("private", "public"), EMBEDDED.values(), ids=list(EMBEDDED))
def test_embedded_ipv4_decides(private: str, public: str) -> None:
    assert not utility.is_public_address(ipaddress.ip_address(private))
    assert utility.is_public_address(ipaddress.ip_address(public))


def test_multicast_and_shared_address_space_are_refused_although_not_private() -> None:
    for text in ["100.100.100.200", "100.64.0.1", "224.0.0.251", "ff0e::1"]:
        address = ipaddress.ip_address(text)
        if isinstance(address, ipaddress.IPv4Address) and address.is_multicast:
            assert not address.is_private  # what a check reduced to is_private lets through
        assert not utility.is_public_address(address), text


# -- DNS stubbed: mixed and rebinding answers against two real local servers ---------------


class Recorder(BaseHTTPRequestHandler):
    """Answers with the address it listens on and records each request it got."""

    hits: list[tuple[str, str]] = []
    bodies: list[tuple[str, bytes]] = []  # method and body of each request

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        here = self.server.server_address[0]
        self.hits.append((str(here), self.headers["Host"]))
        length = int(self.headers.get("Content-Length") or 0)
        self.bodies.append((self.command, self.rfile.read(length)))
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", unquote(self.path.removeprefix("/redirect?to=")))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"served_by": here}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def serving(host: str, port: int) -> Iterator[int]:
    httpd = ThreadingHTTPServer((host, port), Recorder)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def two_servers() -> Iterator[int]:
    """The same port on 127.0.0.1 (allow-listed: "the public one") and 127.0.0.2 (not)."""
    Recorder.hits, Recorder.bodies = [], []
    with serving("127.0.0.1", 0) as port, serving("127.0.0.2", port):
        yield port


class StubDNS:
    """Each lookup of a name gets the next answer in its list (the last one repeats)."""

    def __init__(self, real: Any, answers: dict[str, list[list[str]]]) -> None:
        self.real, self.answers, self.lookups = real, answers, 0

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return self.real(host, port, *args, **kwargs)
        queue = self.answers[name]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        self.lookups += 1
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
             (a, int(port or 80)))
            for a in addresses
        ]  # fmt: skip


def stub_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]) -> StubDNS:
    stub = StubDNS(socket.getaddrinfo, answers)
    monkeypatch.setattr(socket, "getaddrinfo", stub)
    monkeypatch.setattr(utility, "http_allowlist", lambda: ["127.0.0.1/32"])
    return stub


async def test_rebinding_answer_does_not_move_the_request(
    two_servers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is checked once and the request goes to that address: a second lookup
    (by the HTTP client) answering 127.0.0.2 is never made or never used."""
    stub = stub_dns(monkeypatch, {"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]})
    result = await run(
        "http_request", FakeContext(event()), url=f"http://rebind.test:{two_servers}/"
    )
    assert result.output["json"] == {"served_by": "127.0.0.1"}
    assert Recorder.hits == [("127.0.0.1", f"rebind.test:{two_servers}")]
    assert stub.lookups == 1


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1", "127.0.0.2"], ["127.0.0.2", "127.0.0.1"], ["127.0.0.1", "::ffff:127.0.0.2"]],
    ids=["allowed-first", "refused-first", "refused-mapped"],
)
async def test_mixed_answer_is_refused_before_any_request(
    two_servers: int, monkeypatch: pytest.MonkeyPatch, answer: list[str]
) -> None:
    stub_dns(monkeypatch, {"mixed.test": [answer]})
    refused = r"mixed.test resolves to (127\.0\.0\.2|::ffff:7f00:2), a private"
    with pytest.raises(utility.RequestRefused, match=refused):
        await run("http_request", FakeContext(event()), url=f"http://mixed.test:{two_servers}/")
    assert Recorder.hits == []


async def test_redirect_to_a_rebinding_name_is_checked_again(
    two_servers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every hop is resolved and checked: the first name is fine, the second is not."""
    stub_dns(monkeypatch, {"outer.test": [["127.0.0.1"]], "inner.test": [["127.0.0.2"]]})
    url = f"http://outer.test:{two_servers}/redirect?to=http://inner.test:{two_servers}/"
    with pytest.raises(utility.RequestRefused, match=r"inner.test resolves to 127\.0\.0\.2"):
        await run("http_request", FakeContext(event()), url=url)
    assert [served_by for served_by, _ in Recorder.hits] == ["127.0.0.1"]


@pytest.mark.parametrize("address", ["3fff::", "3fff:0fff:ffff:ffff::1", "3fff:800::1"])
def test_the_ipv6_documentation_prefix_is_refused_on_every_python(address: str) -> None:
    """RFC 9637's 3fff::/20 is global to Python 3.11's tables; it is refused all the same."""
    assert not utility.is_public_address(ipaddress.ip_address(address))


def test_a_global_ipv6_address_next_to_it_is_allowed() -> None:
    assert utility.is_public_address(ipaddress.ip_address("2606:4700:4700::1111"))


# -- the allow-list, resolution and refusals at their edges ----------------------------------


def test_the_allow_list_is_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBOT_HTTP_ALLOWLIST", '["10.0.0.0/8", "intranet.local"]')
    utility.get_settings.cache_clear()
    try:
        assert utility.http_allowlist() == ["10.0.0.0/8", "intranet.local"]
    finally:
        monkeypatch.delenv("FLOWBOT_HTTP_ALLOWLIST")
        utility.get_settings.cache_clear()


def allow(monkeypatch: pytest.MonkeyPatch, *entries: str) -> None:
    monkeypatch.setattr(utility, "http_allowlist", lambda: list(entries))


def test_a_network_entry_with_host_bits_covers_its_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "10.1.2.3/8" is read as 10.0.0.0/8, as people write it, not refused as malformed."""
    allow(monkeypatch, "10.1.2.3/8")
    assert utility._allowed("x.test", ipaddress.ip_address("10.200.0.1"))
    assert not utility._allowed("x.test", ipaddress.ip_address("11.0.0.1"))


def test_a_malformed_entry_is_skipped_not_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    allow(monkeypatch, "not a network/99", "10.0.0.0/8", "intranet.local")
    assert utility._allowed("x.test", ipaddress.ip_address("10.0.0.1"))
    assert utility._allowed("INTRANET.Local", ipaddress.ip_address("192.168.0.1"))
    assert not utility._allowed("x.test", ipaddress.ip_address("192.168.0.1"))


@pytest.mark.parametrize("address", ["::1:808:808", "::8000:0:808:808", "::1:0:0:808:808"])
def test_bits_above_the_ipv4_part_make_no_ipv4_compatible_address(address: str) -> None:
    """Only ::a.b.c.d (the upper 96 bits zero) carries an IPv4 address; ::1:808:808 is in
    the reserved ::/8 and must not be judged as 8.8.8.8."""
    assert utility.embedded_ipv4(ipaddress.IPv6Address(address)) == []
    assert not utility.is_public_address(ipaddress.ip_address(address))


async def test_an_https_url_is_resolved_like_an_http_one(monkeypatch: pytest.MonkeyPatch) -> None:
    stub_dns(monkeypatch, {"public.test": [["8.8.4.4", "8.8.8.8"]]})
    for scheme in ["https", "http"]:
        assert await utility.resolve_public(utility.httpx.URL(f"{scheme}://public.test/")) == (
            "8.8.4.4"
        )


async def test_a_scoped_answer_is_sent_to_the_bare_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A link-local answer carries its interface (fe80::1%lo); allow-listed, the request goes
    to the address itself, which is also what the allow-list is matched against."""
    stub_dns(monkeypatch, {"router.test": [["fe80::1%lo"]]})
    allow(monkeypatch, "fe80::1/128")
    url = utility.httpx.URL("http://router.test/")
    assert await utility.resolve_public(url) == "fe80::1"


async def test_a_name_that_does_not_resolve_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_such_name(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(utility.RequestRefused) as refused:
        await utility.resolve_public(utility.httpx.URL("https://nowhere.test/"))
    assert str(refused.value) == "cannot resolve nowhere.test: [Errno -2] Name or service not known"


async def test_the_refusal_says_how_to_allow_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    stub_dns(monkeypatch, {"inside.test": [["10.1.2.3"]]})
    with pytest.raises(utility.RequestRefused) as refused:
        await utility.resolve_public(utility.httpx.URL("http://inside.test:8080/"))
    assert str(refused.value) == (
        "inside.test resolves to 10.1.2.3, a private or reserved address; "
        "add it to the http_allowlist setting to allow it"
    )


async def test_the_host_header_is_the_urls_whatever_the_flow_sends(
    two_servers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub_dns(monkeypatch, {"rebind.test": [["127.0.0.1"]]})
    for name in ["host", "HOST", "Host"]:
        Recorder.hits = []
        await run(
            "http_request",
            FakeContext(event()),
            url=f"http://rebind.test:{two_servers}/",
            headers={name: "internal.test", "X-Other": "kept"},
        )
        assert Recorder.hits == [("127.0.0.1", f"rebind.test:{two_servers}")], name


async def test_a_raw_body_is_sent_with_its_method(
    two_servers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub_dns(monkeypatch, {"rebind.test": [["127.0.0.1"]]})
    url = f"http://rebind.test:{two_servers}/"
    await run("http_request", FakeContext(event()), method="POST", url=url, body="a=1&b=2")
    assert Recorder.bodies == [("POST", b"a=1&b=2")]


@pytest.mark.parametrize(
    ("given", "sent"),
    [({"body": "a=1"}, b"a=1"), ({"json_body": {"a": 1}}, b'{"a":1}')],
    ids=["raw", "json"],
)
async def test_a_body_is_not_sent_again_when_a_redirect_turns_post_into_get(
    two_servers: int, monkeypatch: pytest.MonkeyPatch, given: dict[str, Any], sent: bytes
) -> None:
    stub_dns(monkeypatch, {"rebind.test": [["127.0.0.1"]]})
    url = f"http://rebind.test:{two_servers}/redirect?to=/done"
    result = await run("http_request", FakeContext(event()), method="POST", url=url, **given)
    assert result.output["url"].endswith("/done")
    assert Recorder.bodies == [("POST", sent), ("GET", b"")]


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, ssl.SSLContext, list[str | None]]]:
    """An HTTPS server on 127.0.0.1 with a certificate for tls.test only; it records the
    server name each client asked for (SNI)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=tls.test",
         "-addext", "subjectAltName=DNS:tls.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield int(httpd.server_address[1]), ssl.create_default_context(cafile=str(cert)), names
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_tls_asks_for_and_checks_the_urls_name_at_the_pinned_address(
    tls_server: tuple[int, ssl.SSLContext, list[str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, trust, names = tls_server
    stub_dns(monkeypatch, {"tls.test": [["127.0.0.1"]]})
    params = utility.HttpRequestParams(url=f"https://tls.test:{port}/")
    async with utility.httpx.AsyncClient(verify=trust, trust_env=False) as client:
        url = utility.httpx.URL(params.url)
        response = await utility.send_pinned(client, params, "GET", url)
        await response.aread()
        await response.aclose()
    assert response.json() == {"served_by": "127.0.0.1"}
    assert names == ["tls.test"]

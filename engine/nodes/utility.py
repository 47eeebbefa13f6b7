"""Utility nodes: variables, HTTP, logging, read-only queries, templates, JSON and counters.

Also home of the small storage helpers other node modules share: the per user, chat or
flow scope of a value, and an atomic read-modify-write of a ``UserFlowContext`` row that
holds on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import sqlalchemy as sa
from pydantic import Field, field_validator, model_validator
from pydantic_core import to_jsonable_python
from sqlmodel import Session

from engine.db import affected_rows, get_engine, insert_ignore, session_scope, table_of
from engine.models import UserFlowContext, utcnow
from engine.nodes.base import (
    NodeCategory,
    NodeParams,
    NodePlatform,
    NodeResult,
    NodeType,
    RunContext,
)
from engine.nodes.registry import REGISTRY, runner_declarer
from engine.settings import get_settings

log = logging.getLogger("flowbot.flows")

Per = Literal["user", "chat", "flow"]
PER_DEFAULT: Per = "user"
PER_FIELD = Field(
    default=PER_DEFAULT,
    description="Keep one value per user, per chat, or one for the whole flow",
    examples=["user", "chat", "flow"],
)


# --- shared storage helpers -------------------------------------------------------------


def as_utc(moment: datetime) -> datetime:
    """Aware UTC, whether the database handed back a naive (UTC) or an aware time."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stored_time(moment: datetime) -> datetime:
    """``moment`` in UTC, naive or aware as ``utcnow()`` (and so the columns) expect."""
    utc = as_utc(moment)
    return utc if utcnow().tzinfo else utc.replace(tzinfo=None)


def valid_timezone(name: str) -> str:
    """Validator of IANA time zone names (``ZoneInfo`` raises a KeyError pydantic ignores)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


def scope_for(ctx: RunContext, per: Per) -> str:
    """The ``UserFlowContext.scope`` of the trigger's user or chat, e.g. ``user:telegram:42``."""
    if per == "flow":
        return "flow"
    subject = ctx.trigger.get(per) or {}
    if not subject.get("id"):
        raise ValueError(f"the trigger has no {per}; keep the value per flow instead")
    return f"{per}:{ctx.trigger.get('platform') or 'flowbot'}:{subject['id']}"


def require_flow_id(ctx: RunContext) -> int:
    """Persisted values belong to a saved flow; an unsaved test run has none."""
    if ctx.flow_id is None:
        raise ValueError("this node keeps state per flow: save the flow before running it")
    return ctx.flow_id


Change = Callable[[Any], tuple[Any, datetime | None]]


def update_flow_value(flow_id: int, scope: str, key: str, change: Change) -> tuple[Any, Any]:
    """Atomically replace one stored value by ``change(old)`` → (new, expires_at).

    The row is created if missing, then touched with an UPDATE before it is read: that
    takes the row lock on PostgreSQL and the write lock on SQLite, so concurrent
    executions queue up instead of losing each other's updates. Expired values read as None.
    """
    table = table_of(UserFlowContext)
    where = sa.and_(table.c.flow_id == flow_id, table.c.scope == scope, table.c.key == key)
    with session_scope() as session:
        now = utcnow()
        row = {"flow_id": flow_id, "scope": scope, "key": key, "updated_at": now}
        insert_ignore(session, table, row, ["flow_id", "scope", "key"])
        session.execute(sa.update(table).where(where).values(updated_at=now))
        old, expires_at = session.execute(
            sa.select(table.c.value, table.c.expires_at).where(where)
        ).one()
        if expires_at is not None and as_utc(expires_at) <= as_utc(now):
            old = None
        new, new_expiry = change(old)
        session.execute(sa.update(table).where(where).values(value=new, expires_at=new_expiry))
    return old, new


utility = runner_declarer(NodeCategory.action, NodePlatform.utility)


# --- set_variable -------------------------------------------------------------------------


class SetVariableParams(NodeParams):
    name: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=64,
        description="Variable name; later nodes read it as {{context.<name>}}",
        examples=["greeting"],
    )
    value: Any = Field(
        default=None,
        description="Any JSON value; expressions are already rendered",
        examples=["Hello {{trigger.user.first_name}}", 3, {"a": 1}],
    )


@utility(
    "set_variable", "Set variable", "Store a value in the execution's variables.", SetVariableParams
)
async def set_variable(ctx: RunContext, p: SetVariableParams) -> NodeResult:
    ctx.variables[p.name] = p.value
    return NodeResult(output={"name": p.name, "value": p.value})


# --- http_request -------------------------------------------------------------------------

MAX_HTTP_TIMEOUT = 60.0
MAX_HTTP_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
REDIRECT_STATUSES = {301, 302, 303, 307, 308}


class RequestRefused(ValueError):
    """The URL is not one Flowbot may call (scheme, private address, too many redirects)."""


def http_allowlist() -> list[str]:
    """Hosts, addresses or networks (CIDR) exempt from the private-address rule: the
    ``http_allowlist`` setting (FLOWBOT_HTTP_ALLOWLIST)."""
    return list(get_settings().http_allowlist)


def _allowed(host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    for entry in http_allowlist():
        if entry.lower() == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


# NAT64 prefixes (RFC 6052, RFC 8215): the last 32 bits are the IPv4 address reached.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: IPv4-mapped and -compatible, 6to4,
    Teredo (server and client) and NAT64. Judged by themselves, ``2002:7f00:1::`` (6to4 of
    127.0.0.1) would count as global."""
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped:
        return [address.ipv4_mapped]
    if int(address) >> 32 == 0:  # IPv4-compatible ::a.b.c.d (also :: and ::1)
        return [low32]
    if address.sixtofour:
        return [address.sixtofour]
    if address.teredo:
        return list(address.teredo)
    if any(address in network for network in _NAT64):
        return [low32]
    return []


# Special-purpose ranges newer than some Python's tables (RFC 9637's documentation prefix
# is global to Python 3.11's ipaddress).
NOT_GLOBAL_IPV6 = (ipaddress.IPv6Network("3fff::/20"),)


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether Flowbot may connect to ``address`` without an allow-list entry: globally
    routable, not multicast, reserved or site-local; embedded IPv4 addresses decide for
    the IPv6 forms that carry one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded:
            return all(is_public_address(inner) for inner in embedded)
        if address.is_site_local or any(address in net for net in NOT_GLOBAL_IPV6):
            return False
    # is_global already excludes private, loopback, link-local, unspecified and 100.64.0.0/10
    # (shared address space, where 100.100.100.200 is a cloud metadata service).
    return address.is_global and not (address.is_multicast or address.is_reserved)


async def resolve_public(url: httpx.URL) -> str:
    """The address to connect to; refuses private, loopback, link-local and reserved ones.

    Every address the name resolves to must pass (no mixed answers), and the request is
    then sent to that very address, so a second DNS answer cannot switch it (rebinding).
    """
    if url.scheme not in ("http", "https") or not url.host:
        raise RequestRefused(f"only http and https URLs may be requested, not {url}")
    try:  # no port: only the addresses are used, and the port does not change them
        infos = await asyncio.get_running_loop().getaddrinfo(
            url.host, None, type=socket.SOCK_STREAM
        )
    except socket.gaierror as exc:
        raise RequestRefused(f"cannot resolve {url.host}: {exc}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        if not is_public_address(address) and not _allowed(url.host, address):
            raise RequestRefused(
                f"{url.host} resolves to {address}, a private or reserved address; "
                "add it to the http_allowlist setting to allow it"
            )
    return str(addresses[0])


class HttpRequestParams(NodeParams):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = Field(
        default="GET", description="HTTP method", examples=["GET", "POST"]
    )
    url: str = Field(description="http or https URL", examples=["https://api.example.com/items"])
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers",
        examples=[{"Authorization": "Bearer {{context.token}}"}],
    )
    query: dict[str, str] = Field(
        default_factory=dict, description="Query string parameters", examples=[{"q": "flowbot"}]
    )
    json_body: Any = Field(
        default=None, description="JSON body (sent as application/json)", examples=[{"id": 1}]
    )
    body: str | None = Field(
        default=None, description="Raw text body, instead of a JSON body", examples=["a=1&b=2"]
    )
    timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=MAX_HTTP_TIMEOUT,
        description=f"Whole-request time limit, at most {MAX_HTTP_TIMEOUT:g} s",
        examples=[10],
    )
    max_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        le=MAX_HTTP_BYTES,
        description=f"Largest response body accepted, at most {MAX_HTTP_BYTES} bytes",
        examples=[1048576],
    )
    follow_redirects: bool = Field(
        default=True,
        description=f"Follow up to {MAX_REDIRECTS} redirects, each checked like the first URL",
        examples=[True],
    )

    @model_validator(mode="after")
    def _one_body(self) -> HttpRequestParams:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either json_body or body, not both")
        return self


async def send_pinned(
    client: httpx.AsyncClient, p: HttpRequestParams, method: str, url: httpx.URL
) -> httpx.Response:
    """Send to the checked address while keeping the Host header and TLS name of the URL
    (a Host header among the flow's own would be sent as well, and be the one read)."""
    address = await resolve_public(url)
    headers = {name: value for name, value in p.headers.items() if name.lower() != "host"}
    headers["Host"] = url.netloc.decode("ascii")
    request = client.build_request(
        method,
        url.copy_with(host=address),
        headers=headers,
        json=p.json_body if method == p.method else None,
        content=p.body if method == p.method else None,
        extensions={"sni_hostname": url.host},
    )
    return await client.send(request, stream=True)


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """Read the body, stopping as soon as it passes the limit."""
    chunks, size = [], 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > limit:
            raise ValueError(f"response body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@utility(
    "http_request",
    "HTTP request",
    "Call an HTTP API; private addresses are refused unless allow-listed.",
    HttpRequestParams,
    external=True,
)
async def http_request(ctx: RunContext, p: HttpRequestParams) -> NodeResult:
    url, method = httpx.URL(p.url).copy_merge_params(p.query), p.method
    async with (
        asyncio.timeout(p.timeout_seconds),
        httpx.AsyncClient(timeout=p.timeout_seconds, trust_env=False) as client,
    ):
        for _ in range(MAX_REDIRECTS + 1):
            response = await send_pinned(client, p, method, url)
            try:
                location = response.headers.get("location")
                if p.follow_redirects and response.status_code in REDIRECT_STATUSES and location:
                    url = url.join(location)
                    if (
                        response.status_code == 303
                        or method == "POST"
                        and response.status_code < 303
                    ):
                        method = "GET"
                    continue
                content = await _read_capped(response, p.max_bytes)
            finally:
                await response.aclose()
            break
        else:
            raise RequestRefused(f"more than {MAX_REDIRECTS} redirects")
    text = content.decode(response.encoding or "utf-8", errors="replace")
    try:
        parsed = json.loads(text) if "json" in response.headers.get("content-type", "") else None
    except ValueError:
        parsed = None
    return NodeResult(
        output={
            "status": response.status_code,
            "ok": response.is_success,
            "url": str(url),
            "headers": dict(response.headers),
            "text": text,
            "json": parsed,
        }
    )


# --- delay (run by the executor) --------------------------------------------------------

MAX_DELAY_SECONDS = 30 * 24 * 3600


class DelayParams(NodeParams):
    seconds: float | None = Field(
        default=None,
        ge=0,
        le=MAX_DELAY_SECONDS,
        description="Wait this long (at most 30 days)",
        examples=[60, 3600],
    )
    until: datetime | None = Field(
        default=None,
        description="Or wait until this moment (ISO 8601; naive means UTC)",
        examples=["2026-12-24T18:00:00+01:00"],
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> DelayParams:
        if (self.seconds is None) == (self.until is None):
            raise ValueError("give exactly one of seconds or until")
        return self


REGISTRY.add(
    NodeType(
        id="delay",
        label="Delay",
        description="Pause the execution; it resumes afterwards, even across restarts.",
        category=NodeCategory.action,
        platform=NodePlatform.flow,  # durable: the executor parks the execution itself
        params=DelayParams,
    )
)


# --- log -----------------------------------------------------------------------------------


class LogParams(NodeParams):
    level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level", examples=["info", "warning"]
    )
    message: str = Field(description="What to log", examples=["user {{trigger.user.id}} joined"])


@utility("log", "Log", "Write a line to Flowbot's log and the step output.", LogParams)
async def log_message(ctx: RunContext, p: LogParams) -> NodeResult:
    level = logging.getLevelNamesMapping()[p.level.upper()]
    log.log(level, "flow %s execution %s: %s", ctx.flow_id, ctx.execution_id, p.message)
    return NodeResult(output={"level": p.level, "message": p.message})


# --- db_query --------------------------------------------------------------------------------

MAX_QUERY_ROWS = 100


@dataclass(frozen=True)
class NamedQuery:
    """A query flows may run: fixed SQL, values only through bind parameters. Reads run in
    a session that is never committed; only a query marked ``writes`` is committed, and its
    ``patterns`` say what each of its values must look like (checked as text)."""

    sql: str
    required: tuple[str, ...]
    optional: Mapping[str, Any] = field(default_factory=lambda: {"limit": 10})
    writes: bool = False
    patterns: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # (regex, in words)


QUERIES: dict[str, NamedQuery] = {
    "member_count": NamedQuery(
        "SELECT COUNT(*) AS count FROM community_member"
        " WHERE community_id = :community_id AND left_at IS NULL",
        ("community_id",),
        {},
    ),
    "warnings_of_user": NamedQuery(
        "SELECT w.id, w.reason, w.issued_by, w.created_at, w.expires_at FROM warning w"
        " JOIN platform_account a ON a.id = w.platform_account_id"
        " WHERE w.community_id = :community_id AND a.platform = :platform"
        " AND a.platform_user_id = :user_id AND w.revoked_at IS NULL"
        " ORDER BY w.created_at DESC LIMIT :limit",
        ("community_id", "platform", "user_id"),
    ),
    "top_reputation": NamedQuery(
        "SELECT a.platform, a.platform_user_id, a.username, a.display_name, r.score"
        " FROM reputation_score r JOIN platform_account a ON a.id = r.platform_account_id"
        " WHERE r.community_id = :community_id ORDER BY r.score DESC LIMIT :limit",
        ("community_id",),
    ),
    "recent_executions": NamedQuery(
        "SELECT id, status, trigger_type, started_at, finished_at, error FROM flow_execution"
        " WHERE flow_id = :flow_id ORDER BY started_at DESC LIMIT :limit",
        ("flow_id",),
    ),
    # The member's language for the bot's own answers (bot configuration); '' clears it.
    "set_member_language": NamedQuery(
        "UPDATE platform_account SET language_override = NULLIF(:language, '')"
        " WHERE platform = :platform AND platform_user_id = :user_id",
        ("platform", "user_id", "language"),
        {},
        writes=True,
        patterns={
            "platform": (r"telegram|discord|whatsapp", "telegram, discord or whatsapp"),
            "user_id": (r"\S{1,64}", "a platform user id"),
            "language": (
                r"([a-z]{2,3}(-[A-Za-z0-9]{2,8})?)?",
                "a language code like en or de-AT, or empty to clear it",
            ),
        },
    ),
}


class DbQueryParams(NodeParams):
    query: str = Field(
        description="Name of an allow-listed query: " + ", ".join(QUERIES),
        examples=list(QUERIES),
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Values of the query's parameters (bound, never pasted into SQL)",
        examples=[{"community_id": 1, "limit": 5}],
    )

    @field_validator("query")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in QUERIES:
            raise ValueError(f"unknown query {name!r}; allowed: {', '.join(QUERIES)}")
        return name

    @model_validator(mode="after")
    def _params_match(self) -> DbQueryParams:
        named = QUERIES[self.query]
        missing = set(named.required) - set(self.params)
        unknown = set(self.params) - set(named.required) - set(named.optional)
        if missing or unknown:
            raise ValueError(
                f"query {self.query} takes {', '.join(named.required)}"
                f" (optional: {', '.join(named.optional) or 'none'});"
                f" missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        for name, (pattern, wanted) in named.patterns.items():
            value = self.params.get(name)
            if not isinstance(value, str | int) or not re.fullmatch(pattern, str(value)):
                raise ValueError(f"query {self.query}: {name} must be {wanted}, not {value!r}")
            self.params[name] = str(value)
        return self


def _run_query(named: NamedQuery, values: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The rows and their count (a write: no rows, the rows it changed). A read runs in a
    session that is never committed: rolled back on close."""
    with Session(get_engine()) as session:
        result = session.execute(sa.text(named.sql), values)
        if named.writes:
            session.commit()
            return [], affected_rows(result)
        rows = [dict(row) for row in result.mappings().all()]
    return rows, len(rows)


@utility(
    "db_query",
    "Database query",
    "Run one of Flowbot's allow-listed, parameterised queries (read-only but for "
    "set_member_language).",
    DbQueryParams,
)
async def db_query(ctx: RunContext, p: DbQueryParams) -> NodeResult:
    named = QUERIES[p.query]
    values = {**named.optional, **p.params}
    if "limit" in values:
        values["limit"] = max(1, min(int(values["limit"]), MAX_QUERY_ROWS))
    rows, count = await asyncio.to_thread(_run_query, named, values)
    output = {"query": p.query, "rows": to_jsonable_python(rows), "row_count": count}
    return NodeResult(output=output)


# --- template --------------------------------------------------------------------------------


class TemplateParams(NodeParams):
    text: str = Field(
        description="Text with {{ }} expressions; rendered before the node runs",
        examples=["Welcome {{trigger.user.first_name}}! You are member #{{node.count.value}}."],
    )


@utility("template", "Template", "Render a text once for several later nodes.", TemplateParams)
async def template(ctx: RunContext, p: TemplateParams) -> NodeResult:
    return NodeResult(output={"text": p.text})


# --- json_extract --------------------------------------------------------------------------

MISSING = object()


def _path_tokens(path: str) -> list[str]:
    """JSON Pointer (``/a/0/b``) or dotted path (``a.0.b``, ``a[0].b``) into its steps."""
    if path.startswith("/"):
        return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]
    dotted = path.replace("[", ".").replace("]", "")
    return [t for t in dotted.split(".") if t]


def extract(value: Any, path: str) -> Any:
    """The value at ``path``, or ``MISSING``."""
    for token in _path_tokens(path):
        if isinstance(value, Mapping) and token in value:
            value = value[token]
        elif (
            isinstance(value, list)
            and token.lstrip("-").isdigit()
            and -len(value) <= int(token) < len(value)
        ):
            value = value[int(token)]
        else:
            return MISSING
    return value


class JsonExtractParams(NodeParams):
    value: Any = Field(
        description="A JSON value, or a string holding JSON",
        examples=['{"user": {"name": "Ada"}}', "{{node.http.json}}"],
    )
    path: str = Field(
        default="",
        description="JSON Pointer (/items/0/name) or dotted path (items[0].name); empty = whole",
        examples=["/items/0/name", "user.name"],
    )
    default: Any = Field(
        default=None, description="Result when the path does not exist", examples=["unknown"]
    )


@utility(
    "json_extract", "Extract from JSON", "Pick one value out of a JSON document.", JsonExtractParams
)
async def json_extract(ctx: RunContext, p: JsonExtractParams) -> NodeResult:
    document = p.value
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise ValueError(f"value is not valid JSON: {exc}") from None
    found = extract(document, p.path)
    missing = found is MISSING
    return NodeResult(output={"value": p.default if missing else found, "found": not missing})


# --- counter ---------------------------------------------------------------------------------


class CounterParams(NodeParams):
    name: str = Field(
        min_length=1, max_length=64, description="Counter name", examples=["messages", "strikes"]
    )
    per: Per = PER_FIELD
    operation: Literal["increment", "decrement", "reset", "get"] = Field(
        default="increment", description="What to do with the counter", examples=["increment"]
    )
    amount: int = Field(default=1, description="Step of increment and decrement", examples=[1])


@utility(
    "counter",
    "Counter",
    "A number kept per user, chat or flow between executions.",
    CounterParams,
)
async def counter(ctx: RunContext, p: CounterParams) -> NodeResult:
    def change(old: Any) -> tuple[Any, None]:
        current = old if isinstance(old, int) else 0
        step = {"increment": p.amount, "decrement": -p.amount, "get": 0}
        return (0 if p.operation == "reset" else current + step[p.operation]), None

    scope = scope_for(ctx, p.per)
    old, new = await asyncio.to_thread(
        update_flow_value, require_flow_id(ctx), scope, f"counter:{p.name}", change
    )
    previous = old if isinstance(old, int) else 0
    return NodeResult(output={"name": p.name, "scope": scope, "value": new, "previous": previous})

"""Every route of the app × every kind of caller, against the role the route declares.

Routes are read from ``create_api()`` itself, so a new route is covered the moment it
exists: each resource's test module declares ``EXPECTED_ROLES`` (METHOD, path template) →
the least role that may call it, and a route nobody declared fails here, as does a
declaration whose route is gone. For each route: no token → 401, a caller below the role
→ 403, a caller at or above it → anything but 401/403 (404 and 422 are fine: the request
is a probe with ids of PROBE_ID and a ``{}`` body). Routes outside /api/v1 are declared below.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from engine.api.app import create_api
from engine.api.v1.errors import PREFIX
from engine.db import session_scope
from engine.models import AdminUser, ApiToken, Role
from tests.api.conftest import Tokens

PUBLIC = "public"  # the Authorization header plays no part: every caller gets one answer

# Outside /api/v1: public by design (docs, health, sign-in forms, webhook ingress
# authenticated by its own token and signature), or the first API-token routes.
OUTSIDE_V1: dict[tuple[str, str], str] = {
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/api/health"): PUBLIC,
    ("POST", "/auth/login"): PUBLIC,
    ("POST", "/auth/setup"): PUBLIC,
    ("POST", "/auth/logout"): PUBLIC,
    ("POST", "/api/webhooks/{token}"): PUBLIC,
    ("POST", "/api/telegram/{instance_id}/webhook"): PUBLIC,
    ("POST", "/api/flows/{flow_id}/run"): "editor",
    ("GET", "/api/executions/{execution_id}"): "viewer",
}

RANK = {"viewer": 0, "editor": 1, "admin": 2}
CALLERS = {"read_only": "viewer", "viewer": "viewer", "editor": "editor", "admin": "admin"}
HERE = Path(__file__).parent
BODY_METHODS = {"POST", "PUT", "PATCH"}
Route = tuple[str, str]


def app_routes(api: FastAPI) -> set[Route]:
    """(METHOD, path template) of every route, included routers flattened; HEAD is GET's."""
    found: set[Route] = set()
    for context in iter_route_contexts(api.routes):
        if context.path is None:
            continue
        for method in context.methods or ():
            if method != "HEAD":
                found.add((method, context.path))
    return found


def declared_roles() -> dict[Route, str]:
    """OUTSIDE_V1 plus every tests/api/test_*.py module's ``EXPECTED_ROLES``."""
    declared = dict(OUTSIDE_V1)
    for path in sorted(HERE.glob("test_*.py")):
        module = importlib.import_module(f"tests.api.{path.stem}")
        for route, role in getattr(module, "EXPECTED_ROLES", {}).items():
            assert role in RANK or role == PUBLIC, f"{path.name}: {route} declares {role!r}"
            assert declared.get(route, role) == role, f"{route} is declared twice, differently"
            declared[route] = role
    return declared


ROUTES = sorted(app_routes(create_api()))


def test_every_route_is_declared_and_every_declaration_is_a_route() -> None:
    declared = declared_roles()
    undeclared = sorted(set(ROUTES) - declared.keys())
    stale = sorted(declared.keys() - set(ROUTES))
    assert not undeclared, (
        "Routes without an expectation: add them to EXPECTED_ROLES in their resource's "
        f"tests/api/test_<resource>.py: {undeclared}"
    )
    assert not stale, f"EXPECTED_ROLES names routes the app no longer has: {stale}"


def test_v1_routes_are_all_declared_by_resource_modules() -> None:
    """OUTSIDE_V1 is for the routes outside /api/v1 only."""
    assert not [route for route in OUTSIDE_V1 if route[1].startswith(PREFIX + "/")]


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """Who may call what does not depend on the database: SQLite keeps the matrix quick."""
    return sqlite_url


# Path parameters are filled with this id: a bystander's account and token carry it, so
# probing ``/people/{id}`` or ``/tokens/{id}`` never revokes or demotes the caller itself.
PROBE_ID = 100


@pytest.fixture
def callers(tokens: Tokens) -> dict[str, dict[str, str]]:
    with session_scope() as session:
        session.add(
            AdminUser(id=PROBE_ID, username="bystander", role=Role.editor, password_hash="")
        )
        session.flush()
        session.add(
            ApiToken(
                id=PROBE_ID,
                admin_id=PROBE_ID,
                name="bystander",
                token_hash=hashlib.sha256(b"fbt_bystander").hexdigest(),
                prefix="fbt_bystan",
                role=Role.editor,
            )
        )
    return {
        "nobody": {},
        "read_only": tokens.read_only,
        "viewer": tokens.viewer,
        "editor": tokens.editor,
        "admin": tokens.admin,
    }


async def status_of(api: FastAPI, method: str, path: str, headers: dict[str, str]) -> int:
    """The status the app starts its answer with. Driven as raw ASGI, because an event
    stream never ends: once the status is out, the client leaves."""
    body = b"{}" if method in BODY_METHODS else b""
    raw_headers = [(b"host", b"flowbot"), (b"content-type", b"application/json")]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("flowbot", 80),
    }
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.wait({started}, timeout=30)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message["status"])

    task = asyncio.create_task(api(scope, receive, send))
    await asyncio.wait({task, started}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    try:
        await asyncio.wait_for(task, 10)
    except TimeoutError:
        pass  # a stream that ignored the disconnect: its status is all we came for
    except Exception:  # a crash after (or instead of) the 500 it sent
        if not started.done():
            return 500
    assert started.done(), f"{method} {path} never answered"
    return started.result()


def expected(role: str, caller: str) -> str:
    if caller == "nobody":
        return "401"
    if RANK[CALLERS[caller]] < RANK[role]:
        return "403"
    return "allowed"


def verdict(status: int) -> str:
    return str(status) if status in (401, 403) else "allowed"


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_each_caller_gets_what_the_route_declares(
    route: Route, callers: dict[str, dict[str, str]]
) -> None:
    method, template = route
    role = declared_roles().get(route)
    if role is None:
        pytest.fail(f"{method} {template} has no declared role (see EXPECTED_ROLES)")
    path = template
    for name in _params(template):
        path = path.replace("{" + name + "}", str(PROBE_ID))
    api = create_api()
    answers = {name: await status_of(api, method, path, h) for name, h in callers.items()}
    if role == PUBLIC:
        assert len(set(answers.values())) == 1, f"a public route answers by token: {answers}"
        return
    wanted = {name: expected(role, name) for name in callers}
    got = {name: verdict(status) for name, status in answers.items()}
    assert got == wanted, json.dumps({"role": role, "statuses": answers})


def _params(template: str) -> list[str]:
    """Path parameter names, converters (``{path:path}``) included whole."""
    names: list[str] = []
    rest = template
    while "{" in rest:
        start, end = rest.index("{"), rest.index("}")
        names.append(rest[start + 1 : end])
        rest = rest[end + 1 :]
    return names

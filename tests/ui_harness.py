"""Reflex page states driven without a browser, against a real migrated SQLite database.

A :class:`Tab` is one browser tab: a fresh root state whose websocket handshake carried a
signed-in user's session cookie (and the page's route parameters). :meth:`Tab.run` calls
an event handler the way Reflex does: the app's session guard first, then the handler on
the state the event targets; a generator's yielded events and a returned event (or list)
are collected and handed back, so a test can assert what the page would do next
(redirect, chained handler) as well as the state vars it now shows and the rows stored.
"""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from reflex.state import BaseState, State
from reflex_base import constants
from reflex_base.event import Event, EventHandler, EventSpec

import flowbot_ui.flowbot_ui as app_module
from engine import db
from engine.db import session_scope
from engine.migrations import upgrade
from engine.models import AdminUser, FlowDefinition, Role
from engine.services import auth, sessions
from engine.settings import get_settings
from flowbot_ui.state.room import FlowRoom, room_token
from flowbot_ui.state.session_guard import SessionGuard

S = TypeVar("S", bound=BaseState)
PASSWORD = "correct horse battery"
SECRET_KEY = "ui-harness-secret"


@dataclass(frozen=True)
class People:
    """One account per role, each with a live session (the cookie a browser would send)."""

    admin_id: int
    editor_id: int
    viewer_id: int
    cookies: dict[str, str]  # role name -> session cookie value


class Refused(Exception):
    """The session guard dropped the event before the handler ran."""


class Tab:
    """One browser tab, signed in with ``cookie`` ("" for nobody), on ``path``."""

    def __init__(self, cookie: str, path: str = "/", **params: str) -> None:
        self.path = path
        headers = {"cookie": f"{sessions.COOKIE_NAME}={cookie}"} if cookie else {}
        self.root = State(_reflex_internal_init=True)
        self.root.router_data = self.root._update_router_vars(
            {
                constants.RouteVar.HEADERS: headers,
                constants.RouteVar.PATH: path,
                constants.RouteVar.ORIGIN: path,
                constants.RouteVar.QUERY: dict(params),
                constants.RouteVar.CLIENT_TOKEN: "test-tab",
                constants.RouteVar.SESSION_ID: "test-sid",
                constants.RouteVar.CLIENT_IP: "127.0.0.1",
            },
            {},
        )

    async def state(self, cls: type[S]) -> S:
        found = await self.root.get_state(cls)
        assert isinstance(found, cls)
        return found

    async def run(self, cls: type[BaseState], handler: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Call ``cls.handler`` as Reflex would; the events it returned or yielded."""
        fn = cls.event_handlers[handler].fn
        names = list(inspect.signature(fn).parameters)[1:]
        payload = {**dict(zip(names, args, strict=False)), **kwargs}
        event = Event(name=f"{cls.get_full_name()}.{handler}", payload=payload, router_data={})
        if await SessionGuard().preprocess(app_module.app, self.root, event) is not None:
            raise Refused(handler)
        return await consume(fn(await self.state(cls), **payload))


async def consume(result: Any) -> list[Any]:
    """Run a handler's result to its end; the events it produced, without Nones."""
    if inspect.iscoroutine(result):
        result = await result
    if inspect.isasyncgen(result):
        events = [item async for item in result]
    elif inspect.isgenerator(result) or isinstance(result, list | tuple):
        events = list(result)
    else:
        events = [result]
    return [e for e in events if e is not None]


def names(events: list[Any]) -> list[str]:
    """What each event does, readable: a handler's name, or the client-side call's."""
    out = []
    for event in events:
        if isinstance(event, EventSpec | EventHandler):
            handler = event.handler if isinstance(event, EventSpec) else event
            out.append(handler.fn.__qualname__.rsplit(".", 1)[-1])
        else:
            out.append(type(event).__name__)
    return out


def redirect_target(events: list[Any]) -> str | None:
    """Where an ``rx.redirect`` among the events sends the browser (None when none does)."""
    for event in events:
        if isinstance(event, EventSpec) and event.handler.fn.__qualname__ == "_redirect":
            args = {str(key._js_expr): value for key, value in event.args}
            return str(args["path"]._var_value)
    return None


def use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Flowbot's database and secret key (sessions are keyed: the template's must stay valid)."""
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FLOWBOT_SECRET_KEY", SECRET_KEY)
    get_settings.cache_clear()
    if db.get_engine.cache_info().currsize:
        db.get_engine().dispose()
    db.get_engine.cache_clear()


def seed_people() -> People:
    with session_scope() as session:
        admin = auth.create_user(session, "ada", PASSWORD, Role.admin, actor=None)
        editor = auth.create_user(session, "eddie", PASSWORD, Role.editor, actor=admin)
        viewer = auth.create_user(session, "vera", PASSWORD, Role.viewer, actor=admin)
        cookies = {u.username: sessions.issue(session, u) for u in (admin, editor, viewer)}
        return People(
            admin_id=admin.id or 0,
            editor_id=editor.id or 0,
            viewer_id=viewer.id or 0,
            cookies={
                "admin": cookies["ada"],
                "editor": cookies["eddie"],
                "viewer": cookies["vera"],
            },
        )


def copy_database(source: Path, target: Path) -> None:
    """SQLite's backup API: reads through the source's write-ahead log."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def people_template(directory: Path) -> tuple[Path, People]:
    """A migrated database holding the three people (argon2 makes seeding slow: once)."""
    path = directory / "ui.db"
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_database(monkeypatch, f"sqlite:///{path}")
        upgrade()
        people = seed_people()
        db.get_engine().dispose()
        db.get_engine.cache_clear()
    return path, people


def signed_in_database(
    template: tuple[Path, People], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[People]:
    """A copy of the template installed as Flowbot's database for one test."""
    source, people = template
    copy = tmp_path / "ui.db"
    copy_database(source, copy)
    use_database(monkeypatch, f"sqlite:///{copy}")
    yield people
    db.get_engine().dispose()


def user(user_id: int) -> AdminUser:
    with session_scope() as session:
        found = session.get(AdminUser, user_id)
        assert found is not None
        session.expunge(found)
        return found


async def joined_room(cookie: str, flow_id: int) -> tuple[Tab, FlowRoom]:
    """A tab on the flow's editor and its room as after joining (loaded, linked); linking
    itself needs the app's state manager, which these tests do without."""
    tab = Tab(cookie, f"/flows/{flow_id}", flow_ref=str(flow_id))
    room = await tab.state(FlowRoom)
    with session_scope() as session:
        flow = session.get(FlowDefinition, flow_id)
        assert flow is not None
        room._load(session, flow)
    room._linked_to = room_token(flow_id)
    return tab, room

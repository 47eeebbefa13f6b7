"""Every Reflex event handler of the app, called as an attacker would call it.

The handlers are enumerated from the app's state classes, so a handler added tomorrow is
in this table without anyone remembering to add it. Each is called the way Reflex calls
it (the app's middleware first, then the handler with the state the event targets):

- logged out, and with a session that was signed out (the cookie copied before logout):
  refused before the handler runs, except the two guards, which only redirect;
- as a viewer and as an editor, with everything else the client controls forged (the
  page's route parameters point at private rows, ``setvar`` tries identity names):
  a viewer changes nothing in the database, an editor nothing an admin owns, and neither
  sees the admin's private data (people, others' API tokens) in any state var.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import shutil
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from reflex.state import BaseState, State
from reflex_base import constants
from reflex_base.event import Event
from sqlmodel import Session, SQLModel

import flowbot_ui.flowbot_ui as app_module
from engine import actors
from engine.db import get_engine, session_scope
from engine.models import (
    AdminUser,
    Chat,
    Community,
    CommunityMember,
    FlowDefinition,
    FlowExecution,
    FlowExecutionStep,
    Platform,
    PlatformAccount,
    Role,
    StepStatus,
    UserIdentity,
)
from engine.services import (
    auth,
    connections,
    flows,
    health_settings,
    reputation,
    sessions,
    webhooks,
)
from engine.services.health_settings import Channel
from flowbot_ui.pages.settings import SettingsState
from flowbot_ui.state.accounts import AccountsState
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.communities import CommunityState
from flowbot_ui.state.health_notices import HealthNoticeState
from flowbot_ui.state.members import MemberState
from flowbot_ui.state.room import FlowRoom, room_token
from flowbot_ui.state.session_guard import PUBLIC_HANDLERS, SessionGuard

SECRET_MARKS = ("PRIVATE-ADMIN-TOKEN",)  # what only the admin may see
PASSWORD = "correct horse battery"
NODE = "send1"


@dataclass
class World:
    flow_id: int
    execution_id: int
    webhook_id: int
    connection_id: int
    admin_token_id: int
    admin_id: int
    cookies: dict[str, str]
    member_id: int = 0
    community_id: int = 0
    chat_id: int = 0


def _seed() -> World:
    with session_scope() as session:
        admin = auth.create_user(session, "root", PASSWORD, Role.admin, actor=None)
        viewer = auth.create_user(session, "victor", PASSWORD, Role.viewer, actor=admin)
        editor = auth.create_user(session, "eddie", PASSWORD, Role.editor, actor=admin)
        graph = {
            "nodes": [
                {"id": "trigger1", "type": "manual", "params": {}},
                {"id": NODE, "type": "tg_send_message", "params": {"text": "PRIVATE-PARAM"}},
            ],
            "edges": [{"source": "trigger1", "sourceHandle": "next", "target": NODE}],
        }
        flow = flows.create_flow(session, admin, "PRIVATE-FLOW", graph=graph)
        execution = FlowExecution(flow_id=flow.id or 0, trigger_data={"text": "PRIVATE-EXEC"})
        session.add(execution)
        session.flush()
        session.add(
            FlowExecutionStep(
                execution_id=execution.id or 0,
                seq=1,
                step_key=NODE,
                node_id=NODE,
                node_type="tg_send_message",
                status=StepStatus.succeeded,
            )
        )
        hook = webhooks.create_webhook(session, admin, "PRIVATE-HOOK", flow.id)
        connection = connections.add_connection(
            session, admin, "telegram_bot", "PRIVATE-CONN", credential="123456:" + "A" * 35
        )
        token = auth.create_api_token(session, admin, "PRIVATE-ADMIN-TOKEN", Role.admin)
        secret_hook = Channel("webhook", url="https://hooks.example.com/PRIVATE-ADMIN-TOKEN")
        health_settings.set_channel(session, admin, secret_hook)  # admins' only
        _seed_people(session)
        community = Community(name="Makers")
        account = PlatformAccount(platform_user_id="4242", display_name="Ada")
        session.add_all([community, account])
        session.flush()
        member = CommunityMember(
            community_id=community.id or 0, platform_account_id=account.id or 0
        )
        chat = Chat(platform="telegram", platform_chat_id="-100777", title="Free group")
        session.add_all([member, chat])
        signed_out = sessions.issue(session, admin)
        session.flush()
        cookies = {
            "viewer": sessions.issue(session, viewer),
            "editor": sessions.issue(session, editor),
            "signed_out": signed_out,
            "logged_out": "",
        }
        sessions.revoke(session, signed_out)
        return World(
            flow_id=flow.id or 0,
            execution_id=execution.id or 0,
            webhook_id=hook.id or 0,
            connection_id=connection.id or 0,
            admin_token_id=token.record.id or 0,
            admin_id=admin.id or 0,
            cookies=cookies,
            member_id=member.id or 0,
            community_id=community.id or 0,
            chat_id=chat.id or 0,
        )


def _seed_people(session: Session) -> None:
    """Accounts a forged id reaches (ids 1 and 2, as the flow's): one person holding the
    first, the second a likely match of it, both with reputation in a community."""
    community = Community(name="Chess")
    person = UserIdentity(display_name="Sam")
    session.add_all([community, person])
    session.flush()
    for platform, uid, identity_id in (("telegram", "1", person.id), ("discord", "2", None)):
        account = PlatformAccount(
            platform=Platform(platform), platform_user_id=uid, username="sam",
            identity_id=identity_id,
        )  # fmt: skip
        session.add(account)
        session.flush()
        reputation.adjust(session, "seed", community.id or 0, account.id or 0, 3, "seed")


def _state_classes() -> Iterator[type[BaseState]]:
    def walk(cls: type[BaseState]) -> Iterator[type[BaseState]]:
        for sub in cls.get_substates():
            yield sub
            yield from walk(sub)

    for cls in walk(State):
        if cls.__module__.startswith("flowbot_ui"):
            yield cls


def _handlers() -> list[tuple[type[BaseState], str]]:
    return [
        (cls, name)
        for cls in _state_classes()
        for name in sorted(cls.event_handlers)
        if name != "setvar"  # it only calls set_<name> handlers, which are in this table
    ]


HANDLERS = _handlers()


def test_the_table_holds_every_page_and_the_room() -> None:
    names = {cls.__name__ for cls, _ in HANDLERS}
    assert {
        "FlowRoom",
        "EditorState",
        "DebugState",
        "SettingsState",
        "FlowsState",
        "DashboardState",
        "CommunityAnalyticsState",
        "FlowAnalyticsState",
    } <= names
    assert len(HANDLERS) > 80
    assert any(isinstance(m, SessionGuard) for m in app_module.app._middlewares)


def _argument(name: str, annotation: Any, world: World) -> Any:
    """A value an attacker would send: ids of private rows, forms aimed at admin rights."""
    kind = annotation if isinstance(annotation, type) else typing.get_origin(annotation)
    if kind is bool:
        return True
    if kind is int:
        for hint, value in (
            ("execution", world.execution_id),
            ("webhook", world.webhook_id),
            ("connection", world.connection_id),
            ("token", world.admin_token_id),
            ("user", world.admin_id),
            ("chat", world.chat_id),
            ("community", world.community_id),
        ):
            if hint in name:
                return value
        return world.flow_id
    if kind is dict:
        return {
            "username": "mallory",
            "password": "mallory's password",
            "confirm": "mallory's password",
            "current": "a guessed password",
            "new": "another long password",
            "role": "admin",
            "name": "mallory",
            "kind": "telegram_bot",
            "token": "123456:" + "B" * 35,
            "flow": str(world.flow_id),
            "flow_id": str(world.flow_id),
            "phone": "+15551234567",
            "code": "12345",
            "type": "http_request",
            "x": 10,
            "y": 10,
            "source": "trigger1",
            "target": NODE,
            "nodes": [NODE],
            "edges": [],
        }
    if kind is list:
        return [{"id": NODE, "x": 5, "y": 5, "type": "http_request", "params": {}}]
    if "role" in name:
        return "admin"
    if "node" in name:
        return NODE
    if "text" in name:
        return json.dumps({"nodes": [{"id": "x", "type": "manual", "params": {}}]})
    return str(world.flow_id)


def _payload(cls: type[BaseState], name: str, world: World) -> dict[str, Any]:
    fn = cls.event_handlers[name].fn
    hints = typing.get_type_hints(fn)
    params = list(inspect.signature(fn).parameters.values())[1:]
    return {p.name: _argument(p.name, hints.get(p.name, str), world) for p in params}


def _fingerprint(*tables: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the named tables (all tables but sessions when none are named). The
    models' own metadata names them: reflecting the database for each call was most of this
    file's run time."""
    metadata = SQLModel.metadata
    chosen = tables or tuple(t for t in metadata.tables if t != "user_session")
    with get_engine().connect() as conn:
        return {
            t: sorted(map(tuple, conn.execute(sa.select(metadata.tables[t])).all()), key=repr)
            for t in chosen
        }


def _router_data(cookie: str, world: World) -> dict[str, Any]:
    """What the client controls (route and its parameters) aimed at private rows."""
    headers = {"cookie": f"flowbot_session={cookie}"} if cookie else {}
    return {
        constants.RouteVar.HEADERS: headers,
        constants.RouteVar.PATH: f"/flows/{world.flow_id}",
        constants.RouteVar.QUERY: {
            "flow_ref": str(world.flow_id),
            "execution_ref": str(world.execution_id),
            "member_ref": str(world.member_id),
            "community_ref": str(world.community_id),
            "flow": str(world.flow_id),
        },
        constants.RouteVar.CLIENT_TOKEN: "attacker-token",
        constants.RouteVar.SESSION_ID: "attacker-sid",
        constants.RouteVar.CLIENT_IP: "198.51.100.66",
    }


async def _root(cookie: str, world: World) -> State:
    root = State(_reflex_internal_init=True)
    root.router_data = root._update_router_vars(_router_data(cookie, world), {})
    return root


async def _forge(root: State, world: World, *, joined: bool) -> None:
    """Set what a client can: identity names through setvar (refused); the room as joined."""
    auth_state = await root.get_state(AuthState)
    for name, value in (("user_id", 1), ("role", "admin"), ("_role", "admin"), ("is_admin", True)):
        with pytest.raises((AttributeError, ValueError, TypeError)):
            auth_state.setvar(name, value)
    if not joined:
        return
    room = await root.get_state(FlowRoom)
    with session_scope() as session:
        flow = session.get(FlowDefinition, world.flow_id)
        assert flow is not None
        room._load(session, flow)
    room._linked_to = room_token(world.flow_id)  # as if it had joined the flow's room


async def _consume(result: Any) -> list[Any]:
    """Run a handler's result to the end, as Reflex would; the events it returns."""
    if inspect.iscoroutine(result):
        result = await result
    if inspect.isasyncgen(result):
        return [item async for item in result]
    if inspect.isgenerator(result):
        return list(result)
    return [result]


async def _call(
    cls: type[BaseState], name: str, cookie: str, world: World, *, joined: bool = True
) -> tuple[bool, State]:
    """Call like Reflex: middleware first; True when the handler ran."""
    root = await _root(cookie, world)
    await _forge(root, world, joined=joined)
    event = Event(
        name=f"{cls.get_full_name()}.{name}", payload=_payload(cls, name, world), router_data={}
    )
    if await SessionGuard().preprocess(app_module.app, root, event) is not None:
        return False, root
    handler = cls.event_handlers[name]
    if handler.is_background:
        return True, root  # their loops re-resolve the session each turn (tested by the e2e)
    state = await root.get_state(cls)
    # Refused loudly is refused too: what matters is what changed and what is shown.
    with contextlib.suppress(ValueError, TypeError, LookupError, AttributeError, AssertionError):
        await asyncio.wait_for(_consume(handler.fn(state, **event.payload)), timeout=20)
    return True, root


def _shown(root: State) -> str:
    return json.dumps(root.dict(), default=str)


SECRET_KEY = "handler-matrix-secret"


def _use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    from engine.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FLOWBOT_SECRET_KEY", SECRET_KEY)
    get_settings.cache_clear()
    get_engine().dispose()
    get_engine.cache_clear()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, World]]:
    """One migrated, seeded database (argon2 and migrations are slow); copied per test."""
    from engine.migrations import upgrade

    template = tmp_path_factory.mktemp("matrix") / "template.db"
    with pytest.MonkeyPatch.context() as monkeypatch:
        _use_database(monkeypatch, f"sqlite:///{template}")
        upgrade()
        world = _seed()
        get_engine().dispose()
        get_engine.cache_clear()
    yield template, world


@pytest.fixture
def world(
    seeded: tuple[Path, World], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    template, world = seeded
    copy = tmp_path / "matrix.db"
    shutil.copyfile(template, copy)
    _use_database(monkeypatch, f"sqlite:///{copy}")
    yield world
    # An editor's test run or re-run queues a message; no worker runs here, and a later
    # test's worker must not inherit it (its database is gone with this test).
    actors.broker.flush_all()


def _ids(param: tuple[type[BaseState], str]) -> str:
    return f"{param[0].__name__}.{param[1]}"


@pytest.mark.parametrize("target", HANDLERS, ids=[_ids(h) for h in HANDLERS])
async def test_signed_out_callers_are_refused(
    target: tuple[type[BaseState], str], world: World
) -> None:
    cls, name = target
    for who in ("logged_out", "signed_out"):
        before = _fingerprint()
        ran, root = await _call(cls, name, world.cookies[who], world, joined=False)
        assert ran == (name in PUBLIC_HANDLERS and issubclass(cls, AuthState)), who
        assert _fingerprint() == before, f"{who} changed the database"
        shown = _shown(root)
        for mark in (*SECRET_MARKS, "PRIVATE-FLOW", "PRIVATE-EXEC", "PRIVATE-CONN"):
            assert mark not in shown, f"{who} was shown {mark}"


@pytest.mark.parametrize("target", HANDLERS, ids=[_ids(h) for h in HANDLERS])
async def test_a_viewer_changes_nothing_and_sees_no_admin_data(
    target: tuple[type[BaseState], str], world: World
) -> None:
    cls, name = target
    before = _fingerprint()
    _, root = await _call(cls, name, world.cookies["viewer"], world)
    assert _fingerprint() == before, "a viewer changed the database"
    shown = _shown(root)
    assert not [m for m in SECRET_MARKS if m in shown]


@pytest.mark.parametrize("target", HANDLERS, ids=[_ids(h) for h in HANDLERS])
async def test_an_editor_cannot_act_as_admin(
    target: tuple[type[BaseState], str], world: World
) -> None:
    cls, name = target
    before = _fingerprint("admin_user", "api_token")
    _, root = await _call(cls, name, world.cookies["editor"], world)
    assert _fingerprint("admin_user", "api_token") == before, "an editor changed people or tokens"
    shown = _shown(root)
    assert not [m for m in SECRET_MARKS if m in shown]


def test_identity_is_not_a_client_var() -> None:
    """What decides who acts is kept server-side; the client sees only derived flags."""
    assert not {"user_id", "username", "role", "session_token"} & set(AuthState.base_vars)
    assert {"_user_id", "_role", "_username"} <= set(AuthState.get_fields())
    assert not any("set_filter" in c.event_handlers for c in _state_classes())


async def test_only_admins_list_people(world: World) -> None:
    for who, expected in (("viewer", ["victor"]), ("editor", ["eddie"])):
        ran, root = await _call(SettingsState, "load", world.cookies[who], world)
        settings = await root.get_state(SettingsState)
        assert ran and [u.username for u in settings.users] == expected


async def test_only_editors_moderate_from_the_member_page(world: World) -> None:
    """The member page's actions need a dialog opened first, so the table above never
    reaches them with an action chosen: a viewer with one forged open is refused, and an
    editor's goes through (the check can fail)."""
    for who, changes in (("viewer", False), ("editor", True)):
        root = await _root(world.cookies[who], world)
        page = await root.get_state(MemberState)
        page.member_id, page.action_open = world.member_id, "ban"
        before = _fingerprint("community_member", "moderation_log")
        await _consume(MemberState.event_handlers["confirm_action"].fn(page, {"reason": "spam"}))
        assert (_fingerprint("community_member", "moderation_log") != before) == changes, who
        assert ("editor role" in page.dialog_error) == (not changes), page.dialog_error


async def test_only_editors_link_accounts(world: World) -> None:
    """Linking needs accounts selected first, so the table above calls it with none: a
    viewer with a forged selection is refused, an editor's goes through (it can fail)."""
    for who, changes in (("viewer", False), ("editor", True)):
        root = await _root(world.cookies[who], world)
        page = await root.get_state(AccountsState)
        page.selected = [1, 2]
        before = _fingerprint("platform_account")
        await _consume(AccountsState.event_handlers["link_selected"].fn(page, {"name": "Sam"}))
        assert (_fingerprint("platform_account") != before) == changes, who
        assert ("editor role" in page.dialog_error) == (not changes), page.dialog_error


async def test_only_editors_attach_chats_and_only_admins_delete_communities(world: World) -> None:
    """Attaching needs chats picked first, deleting a typed name: the table above calls
    them with neither. With both forged, a viewer attaches nothing and an editor does (the
    check can fail); an editor's delete is refused (deleting is an admin's)."""
    for who, changes in (("viewer", False), ("editor", True)):
        root = await _root(world.cookies[who], world)
        page = await root.get_state(CommunityState)
        page.picker_selected = [world.chat_id]
        before = _fingerprint("chat")
        await _consume(CommunityState.event_handlers["attach"].fn(page))
        assert (_fingerprint("chat") != before) == changes, who
        assert ("editor role" in page.dialog_error) == (not changes), page.dialog_error
    root = await _root(world.cookies["editor"], world)
    page = await root.get_state(CommunityState)
    await _consume(CommunityState.event_handlers["confirm_delete"].fn(page, {"confirm": "Makers"}))
    assert "admin role" in page.dialog_error
    with session_scope() as session:
        assert session.get(Community, world.community_id) is not None


async def test_only_admins_choose_where_health_notices_go(world: World) -> None:
    """Saving needs a channel filled in first, so the table above saves none: with a
    forged webhook a viewer and an editor are refused, an admin's goes through (the check
    can fail), and none but the admin is shown the stored URL."""
    with session_scope() as session:
        admin = session.get(AdminUser, world.admin_id)
        assert admin is not None
        cookies = {**world.cookies, "admin": sessions.issue(session, admin)}
    for who, changes in (("viewer", False), ("editor", False), ("admin", True)):
        root = await _root(cookies[who], world)
        page = await root.get_state(HealthNoticeState)
        await _consume(HealthNoticeState.event_handlers["load"].fn(page))
        assert ("PRIVATE-ADMIN-TOKEN" in page.url) == changes, who
        page.kind, page.url = "webhook", f"https://{who}.example.com/hook"
        before = _fingerprint("app_setting")
        await _consume(HealthNoticeState.event_handlers["save"].fn(page))
        assert (_fingerprint("app_setting") != before) == changes, who
        assert ("admin role" in page.error) == (not changes), page.error

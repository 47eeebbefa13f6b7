"""The trigger index: which filters an event passes, and which published flows it starts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from engine.db import session_scope
from engine.models import AdminUser, FlowStatus, Role
from engine.nodes import REGISTRY
from engine.nodes.base import NodeCategory
from engine.platform_event import EventChat, EventMedia, EventUser, PlatformEvent
from engine.services import auth, flows
from engine.trigger_index import FILTERS, NOT_ROUTED, TriggerIndex, matches


def event(kind: str = "tg_command", **fields: Any) -> PlatformEvent:
    base: dict[str, Any] = {
        "event_id": "e1",
        "kind": kind,
        "platform": "telegram",
        "instance_id": 1,
        "chat": EventChat(id="-100", type="supergroup"),
        "user": EventUser(id="42"),
    }
    return PlatformEvent(**(base | fields))


def test_every_routed_trigger_param_is_a_filter() -> None:
    for node_type in REGISTRY:
        if node_type.category is NodeCategory.trigger and node_type.id not in NOT_ROUTED:
            missing = set(node_type.params.model_fields) - set(FILTERS)
            assert not missing, f"{node_type.id}: no filter for {missing}"


@pytest.mark.parametrize(
    ("params", "fields", "expected"),
    [
        ({}, {}, True),
        ({"command": "start"}, {"command": "start"}, True),
        ({"command": "start"}, {"command": "Start"}, True),
        ({"command": "start"}, {"command": "stop"}, False),
        ({"command": "start"}, {}, False),
        ({"chat_id": "-100"}, {}, True),
        ({"chat_id": "-200"}, {}, False),
        ({"chat_id": None, "instance_id": None}, {}, True),
        ({"instance_id": 1}, {}, True),
        ({"instance_id": 2}, {}, False),
        ({"text_contains": "PRICE"}, {"text": "what is the price?"}, True),
        ({"text_contains": "price"}, {"text": None}, False),
        ({"text_contains": ""}, {"text": None}, True),
        ({"media_types": ["photo"]}, {"media": EventMedia(type="photo")}, True),
        ({"media_types": ["video"]}, {"media": EventMedia(type="photo")}, False),
        ({"media_types": []}, {}, True),
        ({"include_bots": False}, {"user": EventUser(id="1", is_bot=True)}, False),
        ({"include_bots": True}, {"user": EventUser(id="1", is_bot=True)}, True),
        ({"include_bots": False}, {}, True),
        ({"data_prefix": "vote:"}, {"data": {"callback_data": "vote:yes"}}, True),
        ({"data_prefix": "vote:"}, {"data": {}}, False),
        ({"guild_id": "9"}, {"chat": EventChat(id="1", type="guild", guild_id="9")}, True),
        ({"changes": ["roles"]}, {"data": {"added_roles": ["1"]}}, True),
        ({"changes": ["nickname"]}, {"data": {"old_nickname": "a", "new_nickname": "a"}}, False),
        ({"sample_payload": {"x": 1}}, {}, True),  # not a filter: ignored
    ],
)
def test_matches(params: dict[str, Any], fields: dict[str, Any], expected: bool) -> None:
    assert matches(params, event(**fields)) is expected


# --- the index against a real database -------------------------------------------------------


def command_flow(command: str, instance_id: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"command": command}
    if instance_id is not None:
        params["instance_id"] = instance_id
    return {
        "nodes": [
            {"id": "t", "type": "tg_command", "params": params},
            {"id": "v", "type": "set_variable", "params": {"name": "x", "value": "1"}},
        ],
        "edges": [{"source": "t", "target": "v"}],
    }


@pytest.fixture
def admin(sqlite_session: Session) -> AdminUser:
    user = auth.create_user(sqlite_session, "admin", "a-long-password", Role.admin, actor=None)
    sqlite_session.commit()
    return user


def make_flow(admin: AdminUser, graph: dict[str, Any], *, publish: bool = True) -> int:
    with session_scope() as session:
        flow = flows.create_flow(session, admin, f"flow-{id(graph)}", graph=graph)
        if publish:
            flows.publish(session, admin, flow.id)
        return flow.id


def test_index_finds_published_active_flows(admin: AdminUser) -> None:
    start = make_flow(admin, command_flow("/Start"))  # normalised by the params model
    other_bot = make_flow(admin, command_flow("start", instance_id=7))
    make_flow(admin, command_flow("help"))
    make_flow(admin, command_flow("start"), publish=False)
    index = TriggerIndex(session_scope, ttl=0)

    found = index.lookup(event(command="start"))
    assert [entry.flow_id for entry in found] == [start]
    assert [e.flow_id for e in index.lookup(event(command="start", instance_id=7))] == [
        start,
        other_bot,
    ]
    assert index.lookup(event("tg_message", text="/start")) == []


def test_index_follows_pause_and_republish(admin: AdminUser) -> None:
    flow_id = make_flow(admin, command_flow("start"))
    index = TriggerIndex(session_scope, ttl=3600)
    assert len(index.lookup(event(command="start"))) == 1

    with session_scope() as session:
        flows.set_status(session, admin, flow_id, FlowStatus.paused)
    assert len(index.lookup(event(command="start"))) == 1  # cached until stale
    index.invalidate()
    assert index.lookup(event(command="start")) == []

    with session_scope() as session:
        flows.save_draft(session, admin, flow_id, command_flow("go"))
        flows.set_status(session, admin, flow_id, FlowStatus.active)
    index.invalidate()
    assert len(index.lookup(event(command="start"))) == 1  # the published version still runs
    with session_scope() as session:
        version = flows.publish(session, admin, flow_id)
    index.invalidate()
    assert index.lookup(event(command="start")) == []
    assert [e.version_id for e in index.lookup(event(command="go"))] == [version.id]

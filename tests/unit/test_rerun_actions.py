"""What the debugger names before a re-run: the actions downstream of the chosen node."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from engine.models import AdminUser, FlowExecution, Role
from engine.rerun import RerunSourceMissing, repeated_actions, rerun_preview
from engine.services import flows
from engine.services.auth import PermissionDenied

GRAPH = {
    "nodes": [
        {"id": "start", "type": "tg_command", "params": {"command": "ping"}},
        {"id": "ask", "type": "http_request", "params": {"url": "https://example.org/"}},
        {"id": "check", "type": "text_contains", "params": {"text": "x", "values": ["x"]}},
        {"id": "say_yes", "type": "tg_send_message", "params": {"chat_id": 1, "text": "yes"}},
        {"id": "say_no", "type": "dc_send_message", "params": {"channel_id": 2, "content": "no"}},
        {"id": "note", "type": "log", "params": {"message": "done"}},
        {"id": "each", "type": "loop", "params": {"items": "{{ [1, 2] }}"}},
        {"id": "again", "type": "tg_send_message", "params": {"chat_id": 1, "text": "again"}},
    ],
    "edges": [
        {"source": "start", "target": "ask"},
        {"source": "ask", "target": "check"},
        {"source": "check", "sourceHandle": "true", "target": "say_yes"},
        {"source": "check", "sourceHandle": "false", "target": "say_no"},
        {"source": "say_yes", "target": "note"},
        {"source": "note", "target": "each"},
        {"source": "each", "sourceHandle": "item", "target": "again"},
        {"source": "again", "target": "each"},  # the loop's body leads back to the loop
    ],
}


def test_every_acting_node_from_the_chosen_one_on_is_named_with_its_platform() -> None:
    assert repeated_actions(GRAPH, "ask") == [
        "Utility: HTTP request (ask)",
        "Telegram bot: Send message (say_yes)",
        "Discord bot: Send message (say_no)",
        "Telegram bot: Send message (again)",
    ]


def test_nodes_before_the_chosen_one_and_pure_nodes_are_left_out() -> None:
    assert repeated_actions(GRAPH, "say_no") == ["Discord bot: Send message (say_no)"]
    assert repeated_actions(GRAPH, "note") == ["Telegram bot: Send message (again)"]
    assert repeated_actions(GRAPH, "nowhere") == []


def test_a_started_flow_counts_as_repeated() -> None:
    graph = {
        "nodes": [
            {"id": "m", "type": "manual", "params": {}},
            {"id": "sub", "type": "run_flow", "params": {"flow_id": 7}},
        ],
        "edges": [{"source": "m", "target": "sub"}],
    }
    assert repeated_actions(graph, "m") == ["Flow control: Run flow (sub)"]


def test_the_preview_reads_the_version_that_ran_and_is_open_to_viewers(
    sqlite_session: Session,
) -> None:
    admin = AdminUser(username="ada", role=Role.admin, password_hash="x")
    viewer = AdminUser(username="vic", role=Role.viewer, password_hash="x")
    sqlite_session.add_all([admin, viewer])
    sqlite_session.flush()
    flow = flows.create_flow(sqlite_session, admin, "Ping", graph=GRAPH)
    version = flows.publish(sqlite_session, admin, flow.id)
    flows.save_draft(sqlite_session, admin, flow.id, flows.EMPTY_GRAPH)  # the draft moved on
    run = FlowExecution(flow_id=flow.id, version_id=version.id)
    sqlite_session.add(run)
    sqlite_session.flush()
    assert run.id is not None

    assert rerun_preview(sqlite_session, viewer, run.id, "say_no") == [
        "Discord bot: Send message (say_no)"
    ]
    with pytest.raises(RerunSourceMissing):
        rerun_preview(sqlite_session, viewer, 999_999, "say_no")
    viewer.is_active = False  # a disabled account reads nothing
    with pytest.raises(PermissionDenied):
        rerun_preview(sqlite_session, viewer, run.id, "ask")

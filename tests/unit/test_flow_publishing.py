"""Publishing never makes a flow live unasked, and one chip says what runs."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from engine.models import AdminUser, FlowStatus, Role
from engine.services import flows
from tests.flow_helpers import five_node_graph


@pytest.fixture
def admin(sqlite_session: Session) -> AdminUser:
    user = AdminUser(username="ada", role=Role.admin, password_hash="x")
    sqlite_session.add(user)
    sqlite_session.flush()
    return user


def _row(session: Session, flow_id: int) -> flows.FlowSummary:
    return next(r for r in flows.list_flows(session) if r.id == flow_id)


def test_publish_only_leaves_a_new_flow_paused_and_activate_makes_it_live(
    sqlite_session: Session, admin: AdminUser
) -> None:
    flow = flows.create_flow(sqlite_session, admin, "Ping", graph=five_node_graph())
    assert _row(sqlite_session, flow.id).status_label == "Draft"

    flows.publish(sqlite_session, admin, flow.id, activate=False)
    assert flow.status == FlowStatus.paused
    assert _row(sqlite_session, flow.id).status_label == "Paused"

    flows.publish(sqlite_session, admin, flow.id, activate=True)
    assert flow.status == FlowStatus.active
    assert _row(sqlite_session, flow.id).status_label == "Live v2"


def test_publishing_a_running_flow_keeps_it_running_and_a_paused_one_paused(
    sqlite_session: Session, admin: AdminUser
) -> None:
    flow = flows.create_flow(sqlite_session, admin, "Ping", graph=five_node_graph())
    flows.publish(sqlite_session, admin, flow.id, activate=True)
    flows.publish(sqlite_session, admin, flow.id, activate=False)
    assert flow.status == FlowStatus.active
    flows.set_status(sqlite_session, admin, flow.id, FlowStatus.paused)
    flows.publish(sqlite_session, admin, flow.id, activate=False)
    assert flow.status == FlowStatus.paused


def test_without_a_choice_only_a_new_flow_is_activated(
    sqlite_session: Session, admin: AdminUser
) -> None:
    """The REST API's default, unchanged for its clients."""
    flow = flows.create_flow(sqlite_session, admin, "Ping", graph=five_node_graph())
    flows.publish(sqlite_session, admin, flow.id)
    assert flow.status == FlowStatus.active
    flows.set_status(sqlite_session, admin, flow.id, FlowStatus.paused)
    flows.publish(sqlite_session, admin, flow.id)
    assert flow.status == FlowStatus.paused


def test_the_chip_says_when_the_draft_differs_from_the_live_version(
    sqlite_session: Session, admin: AdminUser
) -> None:
    graph = five_node_graph()
    flow = flows.create_flow(sqlite_session, admin, "Ping", graph=graph)
    flows.publish(sqlite_session, admin, flow.id, activate=True)
    assert _row(sqlite_session, flow.id).status_label == "Live v1"

    graph["nodes"][3]["params"]["text"] = "Hi {{context.greeted}}"
    flows.save_draft(sqlite_session, admin, flow.id, graph)
    row = _row(sqlite_session, flow.id)
    assert (row.live_version, row.unpublished_changes) == (1, True)
    assert row.status_label == "Live v1 with unpublished changes"

    flows.set_status(sqlite_session, admin, flow.id, FlowStatus.paused)
    assert _row(sqlite_session, flow.id).status_label == "Paused"


def test_status_label_covers_every_case() -> None:
    assert flows.status_label("draft", None, False) == "Draft"
    assert flows.status_label("active", 3, False) == "Live v3"
    assert flows.status_label("active", 3, True) == "Live v3 with unpublished changes"
    assert flows.status_label("paused", 3, True) == "Paused"

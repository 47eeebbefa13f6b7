"""The editor's Webhook-node panel against a real database: a published Webhook trigger
shows its URL and curl example, and the signing secret its publish made exactly once, to
an editor (a viewer leaves it unseen); any other node shows nothing."""

from __future__ import annotations

from engine.db import session_scope
from engine.models import FlowDefinition
from engine.services import flows
from flowbot_ui.state.room import FlowRoom
from flowbot_ui.state.webhook_node import WebhookNodeState
from tests.ui_harness import People, Tab, user

GRAPH = {
    "nodes": [
        {
            "id": "hook1",
            "type": "webhook",
            "params": {"endpoint_name": "orders-in", "require_signature": True},
        },
        {"id": "log1", "type": "log", "params": {"message": "got it"}},
    ],
    "edges": [{"source": "hook1", "sourceHandle": "next", "target": "log1"}],
}


def _published(people: People) -> int:
    with session_scope() as session:
        admin = session.merge(user(people.admin_id))
        flow = flows.create_flow(session, admin, "Orders", graph=GRAPH)
        flows.publish(session, admin, flow.id or 0)
        return flow.id or 0


async def _panel(people: People, role: str, flow_id: int, node_id: str) -> WebhookNodeState:
    tab = Tab(people.cookies[role], f"/flows/{flow_id}", flow_ref=str(flow_id))
    room = await tab.state(FlowRoom)
    with session_scope() as session:
        flow = session.get(FlowDefinition, flow_id)
        assert flow is not None
        room._load(session, flow)  # as when the editor joined the flow's room
    await tab.run(WebhookNodeState, "load", node_id)
    return await tab.state(WebhookNodeState)


async def test_the_endpoint_and_its_secret_once(people: People) -> None:
    flow_id = _published(people)
    viewer = await _panel(people, "viewer", flow_id, "hook1")
    assert (viewer.node_id, viewer.status) == ("hook1", "active")
    assert viewer.url and viewer.url in viewer.curl and viewer.secret == ""

    editor = await _panel(people, "editor", flow_id, "hook1")
    assert len(editor.secret) > 20 and "signature" in editor.curl.lower()
    again = await _panel(people, "editor", flow_id, "hook1")
    assert again.secret == "" and again.url == editor.url  # shown once


async def test_another_node_shows_no_endpoint(people: People) -> None:
    flow_id = _published(people)
    panel = await _panel(people, "editor", flow_id, "log1")
    assert (panel.node_id, panel.url, panel.secret) == ("", "", "")

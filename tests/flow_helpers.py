"""Building published flows, accounts and API tokens for engine tests and the benchmark."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from engine.db import session_scope
from engine.models import AdminUser, FlowExecution, Role, WebhookEndpoint
from engine.services import auth, flows

Node = tuple[str, str, dict[str, Any]]  # (id, type, params)


def chain(*nodes: Node) -> dict[str, Any]:
    """A graph whose nodes follow each other on their ``next`` (or ``true``) handle."""
    graph: dict[str, Any] = {
        "nodes": [{"id": node_id, "type": kind, "params": p} for node_id, kind, p in nodes],
        "edges": [],
    }
    for (source, kind, _), (target, _, _) in zip(nodes, nodes[1:], strict=False):
        edge = {"source": source, "target": target}
        if kind.startswith("text_") or kind.startswith("is_"):
            edge["sourceHandle"] = "true"
        graph["edges"].append(edge)
    return graph


def five_node_graph() -> dict[str, Any]:
    """trigger → condition → set_variable → template → platform action (the benchmark's)."""
    return chain(
        ("t", "tg_command", {"command": "start"}),
        ("c", "text_contains", {"text": "{{trigger.text}}", "values": ["start"]}),
        ("v", "set_variable", {"name": "greeted", "value": "{{trigger.user.id}}"}),
        ("m", "template", {"text": "Hello {{context.greeted}}"}),
        ("s", "tg_send_message", {"chat_id": "{{trigger.chat.id}}", "text": "{{node.m.text}}"}),
    )


def make_admin(username: str = "admin") -> AdminUser:
    with session_scope() as session:
        existing = session.exec(select(AdminUser).where(AdminUser.username == username)).first()
        if existing is not None:
            return existing
        actor = None
        if auth.has_any_admin(session):
            actor = AdminUser(username="tests", role=Role.admin, password_hash="")
        return auth.create_user(session, username, "a-long-password", Role.admin, actor=actor)


def make_flow(graph: dict[str, Any], *, publish: bool = True, name: str = "flow") -> int:
    admin = make_admin()
    with session_scope() as session:
        flow = flows.create_flow(session, admin, name, graph=graph)
        if publish:
            flows.publish(session, admin, flow.id)
        return flow.id


def api_token(role: Role) -> str:
    """A token whose owner has ``role`` (so a viewer token is really a viewer's)."""
    username = f"user_{role.value}"
    admin = make_admin()
    with session_scope() as session:
        user = session.exec(select(AdminUser).where(AdminUser.username == username)).first()
        if user is None:
            user = auth.create_user(session, username, "a-long-password", role, actor=admin)
        if role is Role.viewer:  # create_api_token needs an editor: mint it as the admin
            return auth.create_api_token(session, admin, "t", role=Role.viewer).plaintext
        return auth.create_api_token(session, user, "t", role=role).plaintext


def execution_count() -> int:
    with session_scope() as session:
        return len(session.exec(select(FlowExecution.id)).all())


def flow_endpoint(flow_id: int, token: str = "tok", **fields: Any) -> str:
    """The URL path of the flow's endpoint (the one publishing made for its Webhook node,
    else a new one) with ``token`` and ``fields`` set."""
    with session_scope() as session:
        query = select(WebhookEndpoint).where(WebhookEndpoint.flow_id == flow_id)
        row = session.exec(query).first() or WebhookEndpoint(name="orders", flow_id=flow_id)
        for name, value in {"token": token, **fields}.items():
            setattr(row, name, value)
        session.add(row)
    return f"/api/webhooks/{token}"

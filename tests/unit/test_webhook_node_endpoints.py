"""A flow's Webhook trigger node owns its endpoint: publishing creates, updates and switches
it off (issue 14, item 1); the Webhooks page cannot contradict the node."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from engine.models import AuditLog, Role, WebhookEndpoint
from engine.services import auth, flows, webhooks
from engine.services.webhooks import InvalidWebhook, WebhookRemoved
from tests.flow_helpers import chain, make_admin, make_flow


def hook_graph(**params: Any) -> dict[str, Any]:
    return chain(
        ("hook", "webhook", {"endpoint_name": "shop-orders", **params}),
        ("m", "template", {"text": "order {{trigger.data.body.order_id}}"}),
    )


def publish(session: Session, flow_id: int, graph: dict[str, Any]) -> None:
    admin = make_admin()
    flows.save_draft(session, admin, flow_id, graph)
    flows.publish(session, admin, flow_id)
    session.commit()


def endpoint_of(session: Session, flow_id: int) -> WebhookEndpoint:
    [endpoint] = session.exec(
        select(WebhookEndpoint).where(WebhookEndpoint.flow_id == flow_id)
    ).all()
    session.refresh(endpoint)
    return endpoint


def test_publishing_creates_the_endpoint_from_the_node(sqlite_session: Session) -> None:
    unpublished = make_flow(hook_graph(), publish=False)
    assert webhooks.node_endpoint(sqlite_session, unpublished, "hook") is None

    flow_id = make_flow(hook_graph(wait_for_result=True, wait_timeout_seconds=25), name="Shop")
    endpoint = endpoint_of(sqlite_session, flow_id)
    assert (endpoint.name, endpoint.node_id, endpoint.is_active) == ("shop-orders", "hook", True)
    assert endpoint.wait_for_result and endpoint.wait_timeout_seconds == 25
    assert endpoint.secret is None and not endpoint.secret_unseen
    view = webhooks.node_endpoint(sqlite_session, flow_id, "hook")
    assert view is not None and view.flow_name == "Shop" and view.url.endswith(endpoint.token)
    assert [v.node_id for v in webhooks.list_webhooks(sqlite_session)] == ["hook"]
    audited = sqlite_session.exec(select(AuditLog.action).where(AuditLog.target_type == "webhook"))
    assert audited.all() == ["webhook_created"]


def test_require_signature_makes_a_secret_shown_once(sqlite_session: Session) -> None:
    flow_id = make_flow(hook_graph(require_signature=True))
    endpoint = endpoint_of(sqlite_session, flow_id)
    assert endpoint.secret and endpoint.secret_unseen
    viewer = auth.create_user(
        sqlite_session, "viewer", "a-long-password", Role.viewer, actor=make_admin()
    )
    with pytest.raises(auth.PermissionDenied):
        webhooks.take_unseen_secret(sqlite_session, viewer, endpoint.id or 0)
    shown = webhooks.take_unseen_secret(sqlite_session, make_admin(), endpoint.id or 0)
    assert shown == endpoint.secret
    assert webhooks.take_unseen_secret(sqlite_session, make_admin(), endpoint.id or 0) is None


def test_republishing_updates_the_same_endpoint(sqlite_session: Session) -> None:
    flow_id = make_flow(hook_graph(require_signature=True))
    before = endpoint_of(sqlite_session, flow_id)
    token, secret = before.token, before.secret

    publish(sqlite_session, flow_id, hook_graph(require_signature=True, wait_for_result=True))
    kept = endpoint_of(sqlite_session, flow_id)
    assert (kept.token, kept.secret, kept.wait_for_result) == (token, secret, True)

    publish(sqlite_session, flow_id, hook_graph(endpoint_name="orders-v2"))
    changed = endpoint_of(sqlite_session, flow_id)
    assert (changed.token, changed.name) == (token, "orders-v2")
    assert changed.secret is None and not changed.wait_for_result


def test_a_removed_node_switches_its_endpoint_off_and_back(sqlite_session: Session) -> None:
    flow_id = make_flow(hook_graph())
    token = endpoint_of(sqlite_session, flow_id).token

    publish(sqlite_session, flow_id, chain(("start", "manual", {})))
    removed = endpoint_of(sqlite_session, flow_id)  # still there: its history is kept
    assert not removed.is_active and removed.node_removed_at is not None
    assert "trigger node 'hook' was removed" in (webhooks.removed_notice(removed) or "")
    with pytest.raises(WebhookRemoved, match="Add a Webhook trigger back"):
        webhooks.set_active(sqlite_session, make_admin(), removed.id or 0, True)

    publish(sqlite_session, flow_id, hook_graph())
    back = endpoint_of(sqlite_session, flow_id)
    assert back.is_active and back.node_removed_at is None and back.token == token
    assert webhooks.removed_notice(back) is None


def test_a_paused_endpoint_stays_paused_on_publish(sqlite_session: Session) -> None:
    flow_id = make_flow(hook_graph())
    webhook_id = endpoint_of(sqlite_session, flow_id).id or 0
    webhooks.set_active(sqlite_session, make_admin(), webhook_id, False)
    sqlite_session.commit()
    publish(sqlite_session, flow_id, hook_graph(wait_for_result=True))
    assert not endpoint_of(sqlite_session, flow_id).is_active


def test_the_page_cannot_contradict_the_node(sqlite_session: Session) -> None:
    admin = make_admin()
    flow_id = make_flow(hook_graph())
    webhook_id = endpoint_of(sqlite_session, flow_id).id or 0
    for change in (
        lambda: webhooks.new_secret(sqlite_session, admin, webhook_id),
        lambda: webhooks.set_wait(sqlite_session, admin, webhook_id, True, 5),
        lambda: webhooks.update_webhook(sqlite_session, admin, webhook_id, name="x"),
        lambda: webhooks.delete_webhook(sqlite_session, admin, webhook_id),
    ):
        with pytest.raises(InvalidWebhook, match="Webhook trigger 'hook'"):
            change()
    webhooks.update_webhook(sqlite_session, admin, webhook_id, max_body_bytes=4096)
    publish(sqlite_session, flow_id, hook_graph(require_signature=True))
    with pytest.raises(InvalidWebhook, match="Turn off “Require signature”"):
        webhooks.clear_secret(sqlite_session, admin, webhook_id)
    assert webhooks.new_secret(sqlite_session, admin, webhook_id)  # a new secret: allowed
    assert endpoint_of(sqlite_session, flow_id).max_body_bytes == 4096

    publish(sqlite_session, flow_id, chain(("start", "manual", {})))
    webhooks.delete_webhook(sqlite_session, admin, webhook_id)  # its node is gone: may go
    assert webhooks.list_webhooks(sqlite_session) == []


def test_deleting_the_flow_takes_its_nodes_endpoints(sqlite_session: Session) -> None:
    admin = make_admin()
    flow_id = make_flow(hook_graph(require_signature=True))
    by_hand = webhooks.create_webhook(sqlite_session, admin, "Old caller", flow_id)
    sqlite_session.commit()
    with pytest.raises(flows.FlowConflict, match="1 webhook"):  # the hand-made one only
        flows.delete_flow(sqlite_session, admin, flow_id)
    sqlite_session.rollback()
    webhooks.delete_webhook(sqlite_session, admin, by_hand.id or 0)
    flows.delete_flow(sqlite_session, admin, flow_id)
    sqlite_session.commit()
    assert sqlite_session.exec(select(WebhookEndpoint)).all() == []

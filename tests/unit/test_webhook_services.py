"""Webhook endpoint management: roles, the secret kept secret, rotation, and the curl example."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from engine.api.app import create_api
from engine.models import AdminUser, AuditLog, Role, WebhookEndpoint
from engine.services import auth, webhooks
from engine.services.webhooks import InvalidWebhook
from engine.settings import get_settings
from tests.flow_helpers import chain, make_admin, make_flow
from tests.webhook_signing import signed_headers


def graph() -> dict:
    return chain(("hook", "webhook", {"endpoint_name": "orders"}))


def user(session: Session, role: Role) -> AdminUser:
    return auth.create_user(session, f"u_{role.value}", "a-long-password", role, actor=make_admin())


def create(session: Session, admin: AdminUser, *, publish: bool = False) -> WebhookEndpoint:
    flow_id = make_flow(graph(), publish=publish, name="Orders flow")
    endpoint = webhooks.create_webhook(session, admin, "  Shop orders ", flow_id)
    session.commit()
    return endpoint


def test_create_and_list(sqlite_session: Session) -> None:
    admin = make_admin()
    endpoint = create(sqlite_session, admin)
    assert len(endpoint.token) == 32 and endpoint.is_active and endpoint.secret is None
    [view] = webhooks.list_webhooks(sqlite_session)
    assert view.name == "Shop orders" and view.flow_name == "Orders flow"
    assert view.url == f"{get_settings().effective_public_url}/api/webhooks/{endpoint.token}"
    assert (view.call_count, view.last_called_at, view.has_secret) == (0, None, False)
    actions = sqlite_session.exec(select(AuditLog.action)).all()
    assert "webhook_created" in actions


def test_clear_errors(sqlite_session: Session) -> None:
    admin = make_admin()
    flow_id = make_flow(graph(), publish=False)
    with pytest.raises(InvalidWebhook, match="Pick the flow"):
        webhooks.create_webhook(sqlite_session, admin, "x", 999)
    with pytest.raises(InvalidWebhook, match="name"):
        webhooks.create_webhook(sqlite_session, admin, "  ", flow_id)
    with pytest.raises(InvalidWebhook, match="1 to 60 seconds"):
        webhooks.set_wait(sqlite_session, admin, 1, True, 61)
    with pytest.raises(InvalidWebhook, match="does not exist"):
        webhooks.rotate_token(sqlite_session, admin, 42)


def test_viewers_only_look(sqlite_session: Session) -> None:
    endpoint = create(sqlite_session, make_admin())
    viewer = user(sqlite_session, Role.viewer)
    editor = user(sqlite_session, Role.editor)
    for change in (
        lambda who: webhooks.create_webhook(sqlite_session, who, "n", endpoint.flow_id),
        lambda who: webhooks.rotate_token(sqlite_session, who, endpoint.id),
        lambda who: webhooks.new_secret(sqlite_session, who, endpoint.id),
        lambda who: webhooks.clear_secret(sqlite_session, who, endpoint.id),
        lambda who: webhooks.set_active(sqlite_session, who, endpoint.id, False),
        lambda who: webhooks.set_wait(sqlite_session, who, endpoint.id, True, 5),
        lambda who: webhooks.delete_webhook(sqlite_session, who, endpoint.id),
    ):
        with pytest.raises(auth.PermissionDenied):
            change(viewer)
    assert len(webhooks.list_webhooks(sqlite_session)) == 1  # reading is for everyone
    webhooks.set_wait(sqlite_session, editor, endpoint.id, True, 30)
    webhooks.set_active(sqlite_session, editor, endpoint.id, False)
    [view] = webhooks.list_webhooks(sqlite_session)
    assert (view.wait_for_result, view.wait_timeout_seconds, view.is_active) == (True, 30, False)
    webhooks.delete_webhook(sqlite_session, editor, endpoint.id)
    assert webhooks.list_webhooks(sqlite_session) == []


def test_secret_is_shown_once_and_encrypted_at_rest(sqlite_session: Session) -> None:
    admin = make_admin()
    endpoint = create(sqlite_session, admin)
    secret = webhooks.new_secret(sqlite_session, admin, endpoint.id)
    sqlite_session.commit()
    [view] = webhooks.list_webhooks(sqlite_session)
    assert view.has_secret and secret not in repr(view) and secret not in str(vars(view))
    stored = sqlite_session.exec(
        sa.text("SELECT secret FROM webhook_endpoint WHERE id = :id").bindparams(id=endpoint.id)
    ).scalar_one()
    assert stored and secret not in stored
    sqlite_session.expire_all()
    assert sqlite_session.get(WebhookEndpoint, endpoint.id).secret == secret  # decrypts
    audit_details = str(sqlite_session.exec(select(AuditLog.details)).all())
    assert secret not in audit_details
    webhooks.clear_secret(sqlite_session, admin, endpoint.id)
    assert not webhooks.list_webhooks(sqlite_session)[0].has_secret


async def test_rotation_invalidates_the_old_url(sqlite_session: Session) -> None:
    admin = make_admin()
    endpoint = create(sqlite_session, admin)
    old = endpoint.token
    new_url = webhooks.rotate_token(sqlite_session, admin, endpoint.id)
    sqlite_session.commit()
    new = new_url.rsplit("/", 1)[1]
    assert new != old
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://flowbot") as http:
        assert (await http.post(f"/api/webhooks/{old}", json={})).status_code == 404
        # Known and active, but the flow is not published yet: refused, not counted.
        answer = await http.post(f"/api/webhooks/{new}", json={})
        assert answer.status_code == 409 and "publish" in answer.json()["detail"]


def test_curl_example_signs_like_the_receiver_checks() -> None:
    plain = webhooks.curl_example("http://h/api/webhooks/t", signed=False)
    assert "X-Flowbot-Signature" not in plain and "openssl" not in plain
    signed = webhooks.curl_example("http://h/api/webhooks/t", signed=True)
    assert '-H "X-Flowbot-Timestamp: $TS"' in signed
    assert '-H "X-Flowbot-Signature: sha256=$SIG"' in signed
    script = signed.split("\ncurl", 1)[0] + '\nprintf "%s %s" "$TS" "$SIG"'  # but the call
    result = subprocess.run(
        ["bash", "-c", script],
        env={"WEBHOOK_SECRET": "k3y", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    stamp, digest = result.stdout.split()
    body = webhooks.EXAMPLE_BODY.encode()
    assert f"sha256={digest}" == signed_headers("k3y", body, int(stamp))["X-Flowbot-Signature"]
    now = float(stamp)
    assert webhooks.verify_signature("k3y", body, stamp, f"sha256={digest}", now) == digest


def test_signature_checks_name_the_reason() -> None:
    body = b"{}"
    headers = signed_headers("k3y", body, 1_000_000)
    stamp, good = headers["X-Flowbot-Timestamp"], headers["X-Flowbot-Signature"]
    assert webhooks.verify_signature("k3y", body, stamp, good.upper(), 1_000_300)  # case-blind
    cases = [
        (None, good, 1_000_000, "Missing or malformed X-Flowbot-Timestamp"),
        ("1e6", good, 1_000_000, "Missing or malformed X-Flowbot-Timestamp"),
        (stamp, good, 1_000_301, "301 s old, outside the ±5-minute window"),
        (stamp, good, 999_699, "301 s in the future"),
        (stamp, None, 1_000_000, "Missing or wrong X-Flowbot-Signature"),
        (stamp, good[:-1] + "0", 1_000_000, "Missing or wrong X-Flowbot-Signature"),
        (stamp, good.removeprefix("sha256="), 1_000_000, "Missing or wrong"),
    ]
    for timestamp, given, now, reason in cases:
        with pytest.raises(webhooks.InvalidSignature, match=reason):
            webhooks.verify_signature("k3y", body, timestamp, given, now)


def test_python_example_signs_timestamp_and_body() -> None:
    example = webhooks.python_example("http://h/api/webhooks/t")
    assert "urllib.request.urlopen" in example and "X-Flowbot-Timestamp" in example
    compile(example, "<example>", "exec")  # runs against a real server in the integration tests


def test_readme_shows_the_examples_the_code_generates() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "### Webhook signatures" in readme
    assert webhooks.python_example(webhooks.EXAMPLE_URL) in readme
    assert webhooks.curl_example(webhooks.EXAMPLE_URL, signed=True) in readme

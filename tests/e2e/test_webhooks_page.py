"""The Webhooks page in the browser: create one for a published flow, call it, sign it,
rotate it, pause it, delete it; a viewer only looks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from engine.models import AdminUser, Role
from engine.services import auth
from tests.e2e.conftest import screenshot
from tests.e2e.flow_ui import (
    ADMIN,
    PASSWORD,
    create_flow,
    drop_node,
    new_page,
    publish,
    server_db,
    set_param,
)
from tests.webhook_signing import signed_headers

BODY = b'{"order_id": 7}'
JSON = {"content-type": "application/json"}


def signed(secret: str, body: bytes = BODY) -> dict[str, str]:
    """Headers of a request signed now: each call signs anew, as senders must."""
    return JSON | signed_headers(secret, body)


def publish_flow(page: Page, url: str, name: str, trigger: str = "manual") -> None:
    """A published flow; started by hand (by default) for the webhooks made on the page, as
    a Webhook trigger node makes its own endpoint."""
    create_flow(page, url, name)
    drop_node(page, trigger, 40, 100)
    if trigger == "webhook":
        set_param(page, "webhook1", "endpoint_name", "orders")
        page.get_by_test_id("param-require_signature").click()
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("clean")).to_be_visible()
    publish(page)
    expect(page.get_by_test_id("flow-status")).to_have_text("Live v1")


def card_action(page: Page, item: str) -> None:
    page.get_by_test_id("webhook-card").get_by_role("button", name="More actions").click()
    page.get_by_role("menuitem", name=item).click()


def add_viewer(data_dir: Path, username: str) -> None:
    with server_db(data_dir) as session:
        admin = session.exec(select(AdminUser).where(AdminUser.username == ADMIN)).one()
        auth.create_user(session, username, PASSWORD, Role.viewer, actor=admin)


def test_create_call_sign_rotate_and_delete(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    page = new_page(browser, app_url)
    publish_flow(page, app_url, "Orders")

    page.get_by_test_id("nav-webhooks").click()
    expect(page.get_by_test_id("empty-state")).to_contain_text("No webhooks yet")
    page.get_by_role("button", name="New webhook").click()
    page.fill("#name", "Shop orders")
    page.get_by_role("button", name="Create webhook").click()  # no flow picked
    expect(page.get_by_test_id("form-error")).to_contain_text("Pick the flow")
    page.get_by_test_id("flow-select").click()
    page.get_by_role("option", name="Orders").click()
    page.get_by_role("button", name="Create webhook").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Created Shop orders")
    expect(page.get_by_test_id("webhook-flow")).to_have_text("Orders")
    expect(page.get_by_test_id("webhook-calls")).to_have_text("0")

    # The URL shown is the one that works; a call counts once the execution is created.
    url = page.get_by_test_id("webhook-url").inner_text()
    assert url.startswith(f"{app_url}/api/webhooks/")
    assert httpx.post(url, content=BODY, headers=JSON).status_code == 202
    page.reload()
    expect(page.get_by_test_id("webhook-calls")).to_have_text("1")
    expect(page.get_by_test_id("webhook-last-call")).not_to_have_text("never")

    # A signing secret is shown once; unsigned calls are refused from then on.
    page.get_by_role("button", name="Add secret").click()
    secret = page.get_by_test_id("new-secret").inner_text()
    assert len(secret) >= 40
    page.get_by_test_id("secret-done").click()
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
    expect(page.get_by_test_id("webhook-signing")).to_have_text("signed")
    expect(page.get_by_test_id("webhook-curl")).to_contain_text("openssl dgst -sha256 -hmac")
    expect(page.get_by_test_id("webhook-curl")).to_contain_text("X-Flowbot-Timestamp: $TS")
    assert secret not in page.content()
    assert httpx.post(url, content=BODY, headers=JSON).status_code == 401
    captured = signed(secret)
    assert httpx.post(url, content=BODY, headers=captured).status_code == 202
    replayed = httpx.post(url, content=BODY, headers=captured)
    assert replayed.status_code == 409 and "Replayed" in replayed.json()["detail"]
    # The page explains the scheme with a Python and a shell example.
    page.get_by_test_id("signing-summary").click()
    expect(page.get_by_test_id("signing-python")).to_contain_text("hmac.new(secret, timestamp")
    expect(page.get_by_test_id("signing-curl")).to_contain_text('printf %s "$TS.$BODY"')
    # The card's example, pasted into a shell with the secret, works as it stands.
    example = page.get_by_test_id("webhook-curl").inner_text()
    pasted = subprocess.run(
        ["bash", "-c", example + " -s -o /dev/null -w '%{http_code}'"],
        env={"WEBHOOK_SECRET": secret, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert pasted.stdout == "202", pasted
    page.reload()
    expect(page.get_by_test_id("webhook-calls")).to_have_text("3")
    expect(page.get_by_test_id("webhook-node")).to_have_text("· made on this page")

    # Rotating gives a new URL; the old one is gone.
    card_action(page, "New URL (rotate)")
    expect(page.get_by_test_id("webhook-url")).not_to_have_text(url)
    new_url = page.get_by_test_id("webhook-url").inner_text()
    assert httpx.post(url, content=BODY, headers=signed(secret)).status_code == 404
    rotated = b'{"order_id": 8}'  # another body: BODY may have been signed this very second
    assert httpx.post(new_url, content=rotated, headers=signed(secret, rotated)).status_code == 202

    # Paused answers 404 like an unknown address.
    expect(page.get_by_test_id("webhook-active")).to_have_attribute("data-state", "checked")
    page.get_by_test_id("webhook-active").click()
    expect(page.get_by_test_id("webhook-status")).to_have_text("paused")
    # Drawn as off (a tooltip around the switch used to overwrite its state).
    expect(page.get_by_test_id("webhook-active")).to_have_attribute("data-state", "unchecked")
    assert httpx.post(new_url, content=BODY, headers=signed(secret)).status_code == 404

    # A viewer sees it all but cannot change anything.
    add_viewer(server_data, "victor")
    viewer = new_page(browser, app_url, "victor")
    viewer.goto(f"{app_url}/webhooks")
    expect(viewer.get_by_test_id("webhook-name")).to_have_text("Shop orders")
    expect(viewer.get_by_role("button", name="New webhook")).to_be_disabled()
    expect(viewer.get_by_role("button", name="New secret")).to_be_disabled()
    expect(viewer.get_by_test_id("webhook-active")).to_be_disabled()
    viewer.context.close()

    # Deleting asks first.
    card_action(page, "Delete")
    page.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Deleted Shop orders")
    expect(page.get_by_test_id("empty-state")).to_contain_text("No webhooks yet")
    page.context.close()


def test_the_webhook_node_owns_its_endpoint(
    browser: Browser, app_url: str, server_data: Path
) -> None:
    """Publishing a flow with a Webhook trigger shows its URL, example and secret (once) on
    the node; the node's "Require signature" is enforced; the page names the node."""
    page = new_page(browser, app_url)
    create_flow(page, app_url, "Shop alerts")
    drop_node(page, "webhook", 40, 100)
    set_param(page, "webhook1", "endpoint_name", "shop-orders")
    page.get_by_test_id("param-require_signature").click()
    expect(page.get_by_test_id("webhook-node-unpublished")).to_be_visible()
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("clean")).to_be_visible()
    publish(page)

    url = page.get_by_test_id("webhook-node-url").inner_text()
    assert url.startswith(f"{app_url}/api/webhooks/")
    secret = page.get_by_test_id("webhook-node-secret").inner_text()
    assert len(secret) >= 40
    expect(page.get_by_test_id("webhook-node-curl")).to_contain_text("X-Flowbot-Signature")
    unsigned = httpx.post(url, content=BODY, headers=JSON)
    assert unsigned.status_code == 401, unsigned.text
    assert httpx.post(url, content=BODY, headers=signed(secret)).status_code == 202

    page.reload()  # the secret was shown once
    page.locator('.react-flow__node[data-id="webhook1"]').click()
    expect(page.get_by_test_id("webhook-node-url")).to_have_text(url)
    expect(page.get_by_test_id("webhook-node-secret")).to_have_count(0)

    page.get_by_test_id("nav-webhooks").click()
    expect(page.get_by_test_id("webhook-name")).to_have_text("shop-orders")
    expect(page.get_by_test_id("webhook-node")).to_contain_text("webhook1")
    expect(page.get_by_test_id("webhook-signing")).to_have_text("signed")
    expect(page.get_by_test_id("webhook-calls")).to_have_text("1")
    screenshot(page, "webhooks")
    page.context.close()

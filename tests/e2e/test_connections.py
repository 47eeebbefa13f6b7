"""The Connections page in the real browser against the real server (embedded mode).

What is not covered here: a QR code appearing in the WhatsApp wizard. In embedded mode the
event bus lives in the server process's memory, so this test process cannot publish a fake
``connection.<id>`` event onto it, and offline the real WhatsApp client never receives a QR
code. The wizard's waiting state is asserted instead; that QR codes reach the bus as they
rotate is tests/integration/test_whatsapp_qr_bus.py, and the state's handling of them is the
same code path as the live status badges, which this test does see change.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot
from tests.e2e.test_first_run_and_login import sign_in

ADMIN, PASSWORD = "carol", "connections admin pw"
TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
UNREACHABLE_SERVER = "http://127.0.0.1:9"  # the discard port: nothing listens


@pytest.fixture(scope="module", autouse=True)
def frequent_health_checks() -> Iterator[None]:
    """This module's server checks health at every sweep (15 s) instead of every 5 min,
    so the System status test sees a check that found "Support bot" down."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FLOWBOT_HEALTH_CHECK_MINUTES", "0.1")
        yield


def _create_first_admin(page: Page, url: str) -> None:
    page.goto(f"{url}/setup")
    page.fill("#username", ADMIN)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name="Create admin and sign in").click()
    expect(page.get_by_test_id("sidebar")).to_be_visible()


def _add(page: Page, kind: str, name: str, token: str | None = None) -> None:
    page.get_by_role("button", name="Add connection").click()
    dialog = page.get_by_test_id("add-dialog")
    dialog.get_by_test_id(f"kind-{kind}").click()
    page.fill("#name", name)
    if token is not None:
        page.fill("#token", token)
    dialog.get_by_role("button", name="Add connection").click()


def test_add_a_bot_then_link_whatsapp(page: Page, app_url: str) -> None:
    _create_first_admin(page, app_url)
    page.get_by_test_id("nav-connections").click()
    expect(page.get_by_test_id("empty-state")).to_contain_text("No connections yet")

    # A malformed token is explained inside the dialog; a good one is listed, masked.
    _add(page, "telegram_bot", "Support bot", "12345:short")
    expect(page.get_by_test_id("add-dialog").get_by_test_id("form-error")).to_contain_text(
        "@BotFather"
    )
    page.fill("#token", TOKEN)
    # Advanced: an API server URL nothing listens on (a local Bot API server that is down).
    page.get_by_test_id("add-dialog").get_by_text("Advanced").click()
    page.fill("#api_base_url", UNREACHABLE_SERVER)
    page.get_by_test_id("add-dialog").get_by_role("button", name="Add connection").click()
    expect(page.get_by_test_id("add-dialog")).to_have_count(0)
    card = page.get_by_test_id("connection-card")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("connection-name")).to_have_text("Support bot")
    expect(card.get_by_test_id("connection-id")).to_have_text("1")  # what flows name it by
    expect(card.get_by_test_id("connection-credential")).to_have_text("••••••••" + TOKEN[-4:])
    assert TOKEN not in page.content()
    # The embedded supervisor picks it up at once and its status arrives live over the bus:
    # the server cannot be reached, said in words, with the next try and the raw detail.
    expect(card.get_by_test_id("connection-error")).to_have_text(
        "Can't reach Telegram: check the server's internet access or the API server URL.",
        timeout=30_000,
    )
    expect(card.get_by_test_id("connection-retry")).to_contain_text("Next try: ")
    detail = card.get_by_test_id("connection-error-detail")
    expect(detail).not_to_be_visible()
    card.get_by_text("Details").click()
    expect(detail).to_contain_text("127.0.0.1:9")
    card.get_by_test_id("connection-restarts").hover()
    expect(page.get_by_role("tooltip")).to_contain_text("started again")
    page.get_by_role("button", name="Log").click()
    log = page.get_by_test_id("log-dialog")
    expect(log).to_contain_text("Failed")
    expect(log).not_to_contain_text("status.error")
    page.keyboard.press("Escape")

    # The URL can be changed (or cleared) later; the dialog shows the current one.
    card.get_by_role("button", name="More actions").click()
    page.get_by_role("menuitem", name="API server URL").click()
    settings = page.get_by_test_id("settings-dialog")
    expect(settings.locator("#api_base_url")).to_have_value(UNREACHABLE_SERVER)
    settings.locator("#api_base_url").fill("ftp://nowhere")
    settings.get_by_role("button", name="Save").click()
    expect(settings.get_by_test_id("form-error")).to_contain_text("not an http(s) address")
    settings.locator("#api_base_url").fill(UNREACHABLE_SERVER + "0")
    settings.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Settings saved")
    expect(card.get_by_test_id("connection-error-detail")).to_contain_text(
        "127.0.0.1:90", timeout=30_000
    )

    # WhatsApp: adding opens the QR wizard, which waits for the connector's first code.
    _add(page, "whatsapp_user", "Front desk phone")
    wizard = page.get_by_test_id("whatsapp-wizard")
    expect(wizard).to_be_visible()
    expect(wizard.get_by_test_id("qr-waiting")).to_contain_text("Waiting for a QR code")
    expect(wizard.get_by_role("button", name="Get pairing code")).to_be_visible()
    page.wait_for_timeout(500)  # the dialog's opening animation
    screenshot(page, "connections-whatsapp")
    page.keyboard.press("Escape")  # closing before linking pauses the connection
    expect(wizard).to_have_count(0)

    # A Telegram account: api_id/api_hash, then the login wizard starts at the phone step.
    page.get_by_role("button", name="Add connection").click()
    page.get_by_test_id("add-dialog").get_by_test_id("kind-telegram_user").click()
    page.fill("#name", "Community manager")
    page.fill("#api_id", "1234567")
    page.fill("#api_hash", "0123456789abcdef0123456789abcdef")
    page.wait_for_timeout(300)
    screenshot(page, "connections-add")
    page.get_by_test_id("add-dialog").get_by_role("button", name="Add connection").click()
    telegram = page.get_by_test_id("telegram-wizard")
    expect(telegram.get_by_role("button", name="Send code")).to_be_visible()
    expect(telegram.locator("#phone")).to_be_visible()
    page.wait_for_timeout(500)
    screenshot(page, "connections-telegram-login")
    page.keyboard.press("Escape")
    expect(telegram).to_have_count(0)
    expect(page.get_by_test_id("connection-card")).to_have_count(3)
    expect(page.get_by_test_id("connection-status").first).to_have_attribute(
        "data-status", "paused"
    )
    paused = page.get_by_test_id("connection-card").filter(has_text="Community manager")
    expect(paused.get_by_test_id("connection-active")).to_have_attribute("data-state", "unchecked")
    page.mouse.move(0, 0)
    screenshot(page, "connections")

    # Deleting asks first.
    page.get_by_test_id("connection-card").filter(has_text="Community manager").get_by_role(
        "button", name="More actions"
    ).click()
    page.get_by_role("menuitem", name="Delete").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Deleted Community manager")
    expect(page.get_by_test_id("connection-card")).to_have_count(2)

    # A viewer sees the same list, read-only.
    page.get_by_test_id("nav-settings").click()
    page.fill("#username", "vera")
    page.fill("#password", "viewer password 1")
    page.get_by_role("button", name="Add person").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Added vera")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login/?$"))
    sign_in(page, app_url, "vera", "viewer password 1")
    page.get_by_test_id("nav-connections").click()
    expect(page.get_by_test_id("connection-card")).to_have_count(2)
    expect(page.get_by_role("button", name="Add connection")).to_be_disabled()
    expect(page.get_by_test_id("connection-active").first).to_be_disabled()


def _refresh_until(page: Page, test_id: str, text: str) -> None:
    """The status page is read on load and on Refresh: refresh until ``text`` shows (the
    embedded worker's first beat and health check come a few seconds after start)."""
    card = page.get_by_test_id(test_id)
    for _ in range(60):
        if text in (card.text_content() or ""):
            return
        page.get_by_role("button", name="Refresh").click()
        with contextlib.suppress(AssertionError):
            expect(card).to_contain_text(text, timeout=1_000)
    expect(card).to_contain_text(text)


def test_system_status_and_health_notifications(page: Page, app_url: str) -> None:
    """After the test above: "Support bot" cannot reach its server, so the health check
    finds it down; the page says so in words first (what, since when, why; the client's
    text behind Details), and shows every process, every queue, the connection and the
    check."""
    sign_in(page, app_url, ADMIN, PASSWORD)
    page.get_by_test_id("nav-system").click()
    expect(page.get_by_test_id("system-mode")).to_have_text("embedded")
    expect(page.get_by_test_id("system-database")).to_contain_text(" ms")
    for kind in ("web", "worker", "supervisor"):
        _refresh_until(page, "system-processes", kind)
    queues = page.get_by_test_id("system-queues")
    expect(queues).to_contain_text("flows")
    expect(queues.get_by_test_id("queues-embedded")).to_contain_text("in-process broker")
    connections = page.get_by_test_id("system-connections")
    expect(connections).to_contain_text("Support bot")
    cause = connections.get_by_test_id("connection-cause")
    expect(cause).to_have_text(re.compile(r"^Can't reach Telegram"))
    raw = connections.get_by_test_id("connection-cause-detail")
    expect(raw).to_be_hidden()  # the client's own words: on demand
    connections.get_by_text("Details", exact=True).click()
    expect(raw).to_contain_text("127.0.0.1:90")
    _refresh_until(page, "system-checks", "Support bot")
    expect(page.get_by_test_id("system-incidents")).to_contain_text("Support bot (connection:1)")
    problem = page.get_by_test_id("system-problem")
    expect(problem).to_contain_text("Support bot")
    expect(problem).to_contain_text("down since")
    problem.get_by_text("Details", exact=True).click()
    detail = problem.get_by_test_id("problem-cause-detail")
    expect(detail).to_be_visible()
    raw_text = detail.inner_text()  # what the health check recorded when it went down
    assert raw_text, "the raw error is kept behind Details"
    cause = problem.get_by_test_id("problem-cause")
    expect(cause).to_have_text(re.compile(r"^(Can't reach Telegram|Its client was )"))
    page.mouse.move(0, 0)
    screenshot(page, "system-status")

    # Settings: notices go to a chat of a connection, picked by name; the test notice
    # cannot get through a bot that cannot reach its server, and says so.
    page.get_by_test_id("nav-settings").click()
    card = page.get_by_test_id("health-card")
    card.get_by_role("radio", name="chat").click()
    card.get_by_test_id("health-connection").click()
    page.get_by_role("option", name=re.compile("^Support bot")).click()
    card.get_by_test_id("health-chat-id").fill("-1001234567890")
    card.get_by_test_id("health-save").click()
    expect(card.get_by_test_id("form-message")).to_contain_text("Saved")
    card.get_by_test_id("health-test").click()
    expect(card.get_by_test_id("form-error")).to_contain_text("Not sent", timeout=60_000)
    card.scroll_into_view_if_needed()
    screenshot(page, "settings-health-notifications")

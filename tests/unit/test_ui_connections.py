"""The Connections page's state against a real database: adding a bot with its token
checked, the account wizards opened after adding, the token, settings, log and delete
dialogs, and what a viewer is refused. No supervisor runs here: a restart or a login step
that needs it says it is unreachable."""

from __future__ import annotations

import pytest
from sqlmodel import select

from engine.db import session_scope
from engine.models import BotInstance, PlatformConnection
from engine.settings import get_settings
from flowbot_ui.state.connections import ConnectionsState
from tests.e2e.server import free_port
from tests.ui_harness import People, Tab, names

TOKEN = "123456:" + "A" * 35


@pytest.fixture(autouse=True)
def no_supervisor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool API at a port nothing listens on."""
    monkeypatch.setenv("FLOWBOT_POOL_URL", f"http://127.0.0.1:{free_port()}")
    get_settings.cache_clear()


def _instances() -> list[tuple[str, str, bool]]:
    with session_scope() as session:
        rows = session.exec(
            select(BotInstance, PlatformConnection).where(
                PlatformConnection.bot_instance_id == BotInstance.id
            )
        ).all()
        return [(b.name, str(b.kind), c.is_active) for b, c in rows]


async def _page(people: People, role: str) -> tuple[Tab, ConnectionsState]:
    tab = Tab(people.cookies[role], "/connections")
    assert names(await tab.run(ConnectionsState, "load")) == ["watch"]
    return tab, await tab.state(ConnectionsState)


async def test_an_editor_adds_a_bot_and_a_bad_token_is_refused(people: People) -> None:
    tab, page = await _page(people, "editor")
    await tab.run(ConnectionsState, "open_add")
    await tab.run(ConnectionsState, "pick_kind", "telegram_bot")
    assert page.add_open
    await tab.run(ConnectionsState, "add_connection", {"name": "Helper", "token": "nope"})
    assert page.dialog_error and page.add_open and _instances() == []

    await tab.run(ConnectionsState, "add_connection", {"name": "Helper", "token": TOKEN})
    assert (page.message, page.add_open, page.dialog_error) == ("Added Helper.", False, "")
    assert _instances() == [("Helper", "telegram_bot", True)]
    [row] = page.rows
    assert (row.name, row.kind, row.has_token) == ("Helper", "telegram_bot", True)
    assert TOKEN not in row.masked  # the token is never shown whole

    await tab.run(ConnectionsState, "set_active", row.id, False)
    assert page.message == "Paused." and _instances()[0][2] is False
    await tab.run(ConnectionsState, "restart", row.id)
    assert page.error  # no supervisor here: said, not raised


async def test_adding_an_account_opens_its_login_wizard(people: People) -> None:
    tab, page = await _page(people, "editor")
    await tab.run(ConnectionsState, "pick_kind", "telegram_user")
    events = await tab.run(
        ConnectionsState, "add_connection",
        {"name": "Me", "api_id": "12345", "api_hash": "0123456789abcdef0123456789abcdef"},
    )  # fmt: skip
    assert names(events) == ["open_telegram_login"]
    [row] = page.rows
    await tab.run(ConnectionsState, "open_telegram_login", row.id)
    assert (page.tg_for, page.tg_step, page.dialog_name) == (row.id, "phone", "Me")

    events = await tab.run(ConnectionsState, "telegram_send_code", {"phone": "+15551234567"})
    assert events == []  # the one yield only sends the busy flag
    assert page.dialog_error and page.tg_step == "phone" and not page.busy

    await tab.run(ConnectionsState, "on_dialog_change", False)
    assert page.tg_for == 0

    await tab.run(ConnectionsState, "pick_kind", "whatsapp_user")
    events = await tab.run(ConnectionsState, "add_connection", {"name": "Phone"})
    assert names(events) == ["open_whatsapp"]
    phone = next(r for r in page.rows if r.name == "Phone")
    await tab.run(ConnectionsState, "open_whatsapp", phone.id)
    assert (page.wa_for, page.wa_status) == (phone.id, "connecting")
    assert ("Phone", "whatsapp_user", True) in _instances()
    await tab.run(ConnectionsState, "whatsapp_pair", {"phone": "+15551234567"})
    assert page.dialog_error and not page.busy
    # Closed before it was linked: the connection is paused, so it stops asking for QR codes.
    await tab.run(ConnectionsState, "on_dialog_change", False)
    assert ("Phone", "whatsapp_user", False) in _instances() and page.wa_for == 0


async def test_token_settings_log_and_delete_dialogs(people: People) -> None:
    tab, page = await _page(people, "editor")
    await tab.run(ConnectionsState, "add_connection", {"name": "Helper", "token": TOKEN})
    [row] = page.rows

    await tab.run(ConnectionsState, "open_token", row.id)
    assert (page.token_for, page.dialog_name) == (row.id, "Helper")
    await tab.run(ConnectionsState, "replace_token", {"token": "short"})
    assert page.dialog_error and page.token_for == row.id
    await tab.run(ConnectionsState, "replace_token", {"token": "654321:" + "B" * 35})
    assert page.message.startswith("Token replaced") and page.token_for == 0

    await tab.run(ConnectionsState, "open_settings", row.id)
    await tab.run(ConnectionsState, "save_settings", {"api_base_url": "ftp://nowhere"})
    assert page.dialog_error
    await tab.run(ConnectionsState, "save_settings", {"api_base_url": "https://api.example.org"})
    assert page.message.startswith("Settings saved")
    assert page.rows[0].api_base_url == "https://api.example.org"

    await tab.run(ConnectionsState, "open_log", row.id)
    assert page.log_for == row.id
    assert any("added by eddie" in r.message for r in page.log_rows)

    await tab.run(ConnectionsState, "open_delete", row.id)
    await tab.run(ConnectionsState, "confirm_delete")
    assert page.message == "Deleted Helper." and page.rows == [] and _instances() == []


async def test_a_viewer_sees_connections_but_changes_none(people: People) -> None:
    editor, _ = await _page(people, "editor")
    await editor.run(ConnectionsState, "add_connection", {"name": "Helper", "token": TOKEN})
    tab, page = await _page(people, "viewer")
    [row] = page.rows
    await tab.run(ConnectionsState, "set_active", row.id, False)
    assert "editor role" in page.error
    await tab.run(ConnectionsState, "restart", row.id)
    assert "editor role" in page.error
    await tab.run(ConnectionsState, "add_connection", {"name": "Mine", "token": TOKEN})
    assert "editor role" in page.dialog_error
    await tab.run(ConnectionsState, "open_delete", row.id)
    await tab.run(ConnectionsState, "confirm_delete")
    assert "editor role" in page.error
    assert _instances() == [("Helper", "telegram_bot", True)]

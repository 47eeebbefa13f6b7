"""Logins through the pool API, called with the web side's own client (engine/pool_client.py).

The Telegram login is the real :class:`TelegramLogin` over a recording pyrogram ``Client``
(``create_autospec``, as in tests/unit/test_telegram_user_actions.py): MTProto cannot be
faked cheaply. What is proven: each step reaches the client with what the admin typed, the
session string is stored encrypted in the database and never comes back over HTTP, and the
connection goes live (``connections.changed`` on the bus wakes the supervisor).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock, create_autospec

import httpx
import pyrogram
import pytest
import sqlalchemy as sa
from pyrogram import enums, errors, types
from sqlmodel import Session

from connectors import login
from connectors.pool_api import start_api
from connectors.supervisor import Supervisor
from engine import crypto, events, pool_client
from engine.action_errors import ActionError, ErrorKind
from engine.models import AdminUser, PlatformConnection, Role
from engine.services import connections
from engine.settings import get_settings

POOL_TOKEN = "login-test-token"
SESSION_STRING = "BQAB-session-string-" + "s" * 40
ADA = types.User(id=123456789, first_name="Ada", username="ada_l")
API_HASH = "0123456789abcdef0123456789abcdef"


def _returns(value: Any) -> Any:
    async def result(*_: Any, **__: Any) -> Any:
        return value

    return result


@pytest.fixture
def telegram_client(monkeypatch: pytest.MonkeyPatch) -> MagicMock:
    """A recording pyrogram Client for a 2FA account; every login gets this one."""
    client = create_autospec(pyrogram.Client, instance=True)
    client.is_connected = True
    client.connect.side_effect = _returns(False)
    client.disconnect.side_effect = _returns(None)
    client.send_code.side_effect = _returns(
        types.SentCode(type=enums.SentCodeType.SMS, phone_code_hash="hash-1")
    )

    async def needs_password(*_: Any) -> None:
        raise errors.SessionPasswordNeeded()

    client.sign_in.side_effect = needs_password
    client.get_password_hint.side_effect = _returns("pet's name")
    client.check_password.side_effect = _returns(ADA)
    client.export_session_string.side_effect = _returns(SESSION_STRING)
    monkeypatch.setattr(login, "client_factory", MagicMock(return_value=client))
    return client


@contextlib.asynccontextmanager
async def pool(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Supervisor]:
    """The pool API (no supervisor loop: the login routes do not need it), and the engine
    pointed at it."""
    supervisor = Supervisor(listen_bus=False)
    runner = await start_api(supervisor, POOL_TOKEN, "127.0.0.1", 0)
    monkeypatch.setenv("FLOWBOT_POOL_URL", f"http://127.0.0.1:{runner.addresses[0][1]}")
    monkeypatch.setenv("FLOWBOT_POOL_TOKEN", POOL_TOKEN)
    get_settings.cache_clear()
    try:
        yield supervisor
    finally:
        await pool_client.aclose()
        await runner.cleanup()


def _telegram_account(session: Session) -> PlatformConnection:
    editor = AdminUser(username="eddie", role=Role.editor, password_hash="x")
    session.add(editor)
    session.flush()
    connection = connections.add_connection(
        session,
        editor,
        "telegram_user",
        "My account",
        settings={"api_id": "12345", "api_hash": API_HASH},
    )
    session.commit()
    return connection


async def test_telegram_login_with_two_factor_stores_the_session_encrypted(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch, telegram_client: MagicMock
) -> None:
    connection = _telegram_account(sqlite_session)
    instance_id = connection.bot_instance_id

    async with pool(monkeypatch), events.subscribe(connections.CHANGED_TOPIC) as changes:
        sent = await pool_client.telegram_login(instance_id, "send_code", {"phone": "+491511234"})
        assert sent == {"step": "code_sent", "delivery": "sms"}
        asked = await pool_client.telegram_login(instance_id, "submit_code", {"code": " 12345 "})
        assert asked == {"step": "password_required", "hint": "pet's name"}
        done = await pool_client.telegram_login(instance_id, "submit_password", {"password": "rex"})
        assert (await asyncio.wait_for(anext(changes), 5)).topic == "connections.changed"

    login.client_factory.assert_called_once()  # type: ignore[attr-defined]
    assert login.client_factory.call_args.kwargs["api_id"] == 12345  # type: ignore[attr-defined]
    telegram_client.send_code.assert_called_once_with("+491511234")
    telegram_client.sign_in.assert_called_once_with("+491511234", "hash-1", "12345")
    telegram_client.check_password.assert_called_once_with("rex")
    assert done == {
        "step": "done",
        "user": {"id": "123456789", "username": "ada_l", "first_name": "Ada"},
    }  # and no session string over HTTP

    sqlite_session.expire_all()
    stored = sqlite_session.exec(
        sa.text("SELECT credential FROM bot_instance WHERE id = :id").bindparams(id=instance_id)
    ).scalar_one()
    assert SESSION_STRING not in stored and crypto.decrypt(stored) == SESSION_STRING
    (view,) = connections.list_connections(sqlite_session)
    assert view.is_active and view.platform_username == "ada_l"
    assert SESSION_STRING not in repr(view)
    assert connections.recent_log(sqlite_session, connection.id)[0].message == (
        "logged in as ada_l"
    )


async def test_login_mistakes_are_explained(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch, telegram_client: MagicMock
) -> None:
    connection = _telegram_account(sqlite_session)
    instance_id = connection.bot_instance_id

    async def wrong_code(*_: Any) -> None:
        raise errors.PhoneCodeInvalid()

    telegram_client.sign_in.side_effect = wrong_code
    async with pool(monkeypatch) as supervisor:
        with pytest.raises(ActionError, match="send a code first") as no_login:
            await pool_client.telegram_login(instance_id, "submit_code", {"code": "1"})
        assert no_login.value.kind is ErrorKind.validation

        await pool_client.telegram_login(instance_id, "send_code", {"phone": "+491511234"})
        with pytest.raises(ActionError, match="wrong code or password"):
            await pool_client.telegram_login(instance_id, "submit_code", {"code": "99999"})

        with pytest.raises(ActionError, match="malformed"):
            await pool_client.telegram_login(instance_id, "send_code", {"phone": ""})

        # WhatsApp pairing asks the running connector for its code.
        with pytest.raises(ActionError, match="not running here") as not_running:
            await pool_client.whatsapp_pair(999, "+491511234")
        assert not_running.value.kind is ErrorKind.unavailable

        async def pair_phone(phone: str) -> str:
            return f"CODE-{phone[-4:]}"

        supervisor.instances[999] = SimpleNamespace(  # type: ignore[assignment]
            connector=SimpleNamespace(pair_phone=pair_phone)
        )
        assert await pool_client.whatsapp_pair(999, "+491511234") == {"pair_code": "CODE-1234"}

        base = get_settings().pool_url
        async with httpx.AsyncClient() as http:
            refused = await http.post(
                f"{base}/instances/{instance_id}/login/telegram/send_code", json={"phone": "+1"}
            )
        assert refused.status_code == 401  # the pool token guards the login routes too

    sqlite_session.expire_all()
    assert sqlite_session.get(PlatformConnection, connection.id).is_active is False

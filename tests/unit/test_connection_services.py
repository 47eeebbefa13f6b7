"""The Connections page's services: validation, roles, masking, audit and bus events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import Session, select

from engine import events
from engine.models import (
    AdminUser,
    AuditLog,
    BotInstance,
    ConnectionStatus,
    PlatformConnection,
    PlatformConnectionLog,
    Role,
)
from engine.services import connections
from engine.services.auth import PermissionDenied
from engine.services.connections import InvalidConnection

BOT_TOKEN = "123456789:AAE" + "x" * 32
DISCORD_TOKEN = "MTA" + "a" * 21 + ".GbCdEf." + "z" * 27
API_HASH = "0123456789abcdef0123456789abcdef"


def _user(session: Session, name: str, role: Role) -> AdminUser:
    user = AdminUser(username=name, role=role, password_hash="x")
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def editor(sqlite_session: Session) -> AdminUser:
    return _user(sqlite_session, "eddie", Role.editor)


@pytest.fixture
def viewer(sqlite_session: Session) -> AdminUser:
    return _user(sqlite_session, "vic", Role.viewer)


def _add_bot(session: Session, actor: AdminUser) -> PlatformConnection:
    connection = connections.add_connection(
        session, actor, "telegram_bot", " Support bot ", credential=BOT_TOKEN
    )
    session.commit()
    return connection


def test_a_bot_is_added_active_with_its_token_masked_in_the_list(
    sqlite_session: Session, editor: AdminUser
) -> None:
    connection = _add_bot(sqlite_session, editor)

    (view,) = connections.list_connections(sqlite_session)
    assert (view.connection_id, view.name, view.kind, view.kind_label) == (
        connection.id,
        "Support bot",
        "telegram_bot",
        "Telegram bot",
    )
    assert view.is_active and view.status == ConnectionStatus.stopped
    assert view.credential_masked == "••••••••" + BOT_TOKEN[-4:]
    assert BOT_TOKEN not in repr(connections.list_connections(sqlite_session))
    assert sqlite_session.exec(select(AuditLog.action)).all() == ["connection_created"]
    assert [row.event for row in connections.recent_log(sqlite_session, connection.id)] == [
        "created"
    ]


@pytest.mark.parametrize(
    ("kind", "credential", "settings", "message"),
    [
        ("telegram_bot", "not-a-token", None, "123456789:AAE"),
        ("telegram_bot", "123:short", None, "@BotFather"),
        ("discord_bot", BOT_TOKEN, None, "three parts"),
        ("telegram_user", "", {"api_id": "abc", "api_hash": API_HASH}, "api_id is a number"),
        ("telegram_user", "", {"api_id": "12345", "api_hash": "nope"}, "api_hash is 32"),
        ("slack_bot", "", None, "Unknown kind"),
    ],
)
def test_invalid_input_is_refused_with_a_clear_message(
    sqlite_session: Session,
    editor: AdminUser,
    kind: str,
    credential: str,
    settings: dict[str, Any] | None,
    message: str,
) -> None:
    with pytest.raises(InvalidConnection, match=message):
        connections.add_connection(
            sqlite_session, editor, kind, "x", credential=credential, settings=settings
        )
    with pytest.raises(InvalidConnection, match="name"):
        connections.add_connection(sqlite_session, editor, "whatsapp_user", "   ")


def test_accounts_wait_for_their_login(sqlite_session: Session, editor: AdminUser) -> None:
    telegram = connections.add_connection(
        sqlite_session,
        editor,
        "telegram_user",
        "Me",
        settings={"api_id": " 12345 ", "api_hash": API_HASH.upper()},
    )
    whatsapp = connections.add_connection(sqlite_session, editor, "whatsapp_user", "Phone")
    discord = connections.add_connection(
        sqlite_session, editor, "discord_bot", "Mod bot", credential=DISCORD_TOKEN
    )
    sqlite_session.commit()

    assert not telegram.is_active and not whatsapp.is_active and discord.is_active
    instance = sqlite_session.get(BotInstance, telegram.bot_instance_id)
    assert instance is not None and instance.settings == {"api_id": 12345, "api_hash": API_HASH}
    with pytest.raises(InvalidConnection, match="Log in"):
        connections.set_active(sqlite_session, editor, telegram.id, True)
    connections.set_active(sqlite_session, editor, whatsapp.id, True)  # QR codes come next
    sqlite_session.commit()
    assert sqlite_session.get(PlatformConnection, whatsapp.id).is_active


def test_viewers_are_refused_every_change(
    sqlite_session: Session, editor: AdminUser, viewer: AdminUser
) -> None:
    connection = _add_bot(sqlite_session, editor)
    changes = [
        lambda: connections.add_connection(sqlite_session, viewer, "whatsapp_user", "Phone"),
        lambda: connections.set_active(sqlite_session, viewer, connection.id, False),
        lambda: connections.replace_credential(sqlite_session, viewer, connection.id, BOT_TOKEN),
        lambda: connections.delete_connection(sqlite_session, viewer, connection.id),
        lambda: connections.authorize_pool_call(sqlite_session, viewer, connection.id, "restart"),
    ]
    for change in changes:
        with pytest.raises(PermissionDenied, match="editor role"):
            change()
    assert len(connections.list_connections(sqlite_session)) == 1  # viewers may look


def test_replace_pause_and_delete(sqlite_session: Session, editor: AdminUser) -> None:
    connection = _add_bot(sqlite_session, editor)
    new_token = "987654321:BBF" + "y" * 32
    connections.replace_credential(sqlite_session, editor, connection.id, f" {new_token} ")
    connections.set_active(sqlite_session, editor, connection.id, False)
    sqlite_session.commit()

    (view,) = connections.list_connections(sqlite_session)
    assert view.credential_masked.endswith(new_token[-4:]) and not view.is_active
    assert [row.event for row in connections.recent_log(sqlite_session, connection.id)] == [
        "paused",
        "credential_replaced",
        "created",
    ]

    connections.delete_connection(sqlite_session, editor, connection.id)
    sqlite_session.commit()
    assert connections.list_connections(sqlite_session) == []
    assert sqlite_session.exec(select(PlatformConnectionLog)).all() == []
    assert sqlite_session.exec(select(BotInstance)).all() == []
    with pytest.raises(InvalidConnection, match="does not exist"):
        connections.set_active(sqlite_session, editor, connection.id, True)


def test_login_session_is_stored_and_goes_live(sqlite_session: Session, editor: AdminUser) -> None:
    connection = connections.add_connection(
        sqlite_session,
        editor,
        "telegram_user",
        "Me",
        settings={"api_id": 1, "api_hash": API_HASH},
    )
    sqlite_session.commit()

    connections.store_login_session(
        sqlite_session, connection.bot_instance_id, "SESSION", {"id": 7, "username": "ada"}
    )
    sqlite_session.commit()
    (view,) = connections.list_connections(sqlite_session)
    assert view.is_active and view.platform_username == "ada"
    assert "SESSION" not in repr(view)


async def test_changes_are_announced_on_the_bus_after_commit(
    sqlite_session: Session, editor: AdminUser
) -> None:
    async with events.subscribe(connections.CHANGED_TOPIC) as subscription:
        connections.add_connection(
            sqlite_session, editor, "telegram_bot", "Bot", credential=BOT_TOKEN
        )
        with pytest.raises(TimeoutError):  # not before the commit
            await asyncio.wait_for(anext(subscription), 0.2)
        sqlite_session.commit()
        event = await asyncio.wait_for(anext(subscription), 2)
        assert event.topic == "connections.changed"

        sqlite_session.rollback()  # nothing changed: nothing announced
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(subscription), 0.2)

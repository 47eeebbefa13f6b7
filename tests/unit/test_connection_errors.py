"""Connection errors in plain words: the one mapping the Connections page and the API use."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from engine.models import BotInstance, ConnectionStatus, ConnectorKind, PlatformConnection
from engine.services import connections
from engine.services.connections import event_label, explain_error

UNREACHABLE = "Can't reach Telegram: check the server's internet access or the API server URL."


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (
            "telegram_bot",
            "ClientConnectorDNSError: Cannot connect to host api.telegram.org:443 ssl:default "
            "[Temporary failure in name resolution]",
            UNREACHABLE,
        ),
        (
            "telegram_bot",
            "TelegramNetworkError: HTTP Client says - ClientConnectorError: Cannot connect to "
            "host 127.0.0.1:9 ssl:default [Connect call failed ('127.0.0.1', 9)]",
            UNREACHABLE,
        ),
        ("telegram_bot", "TimeoutError: ", UNREACHABLE),
        (
            "whatsapp_user",
            "ConnectionResetError: Connection reset by peer",
            "Can't reach WhatsApp: check the server's internet access.",
        ),
        (
            "discord_bot",
            "ClientConnectorError: Cannot connect to host discord.com:443",
            "Can't reach Discord: check the server's internet access or the API server URL.",
        ),
        (
            "telegram_bot",
            "Telegram refused the bot token",
            "Telegram refused the token: paste a fresh one (More actions → Replace token).",
        ),
        (
            "discord_bot",
            "Discord rejected the bot token",
            "Discord refused the token: paste a fresh one (More actions → Replace token).",
        ),
        (
            "telegram_bot",
            "ClientConnectorCertificateError: Cannot connect to host x:443 ssl:True "
            "[SSLCertVerificationError: certificate verify failed]",
            "The secure connection to Telegram failed its certificate check: check the "
            "server's clock and the API server URL.",
        ),
        (
            "telegram_bot",
            "TelegramConflictError: Conflict: terminated by other getUpdates request",
            "Another program is reading this bot's updates (only one may): stop it, or give "
            "this bot its own token.",
        ),
        (
            "telegram_user",
            "the Telegram session is no longer valid: log in again",
            "Telegram ended this login: log in again (More actions → Log in again).",
        ),
        (
            "telegram_bot",
            "TelegramServerError: Bad Gateway",
            "Telegram had a server error: Flowbot tries again on its own.",
        ),
        (
            "whatsapp_user",
            "RuntimeError: the client stopped by itself",
            "The WhatsApp client stopped with an error; Flowbot restarts it (see Details).",
        ),
        ("telegram_bot", "", ""),
    ],
)
def test_common_failures_read_as_a_sentence(kind: str, raw: str, expected: str) -> None:
    assert explain_error(kind, raw) == expected


def test_log_events_are_named_in_words() -> None:
    assert event_label("status.error") == "Failed"
    assert event_label("status.connected") == "Connected"
    assert event_label("credential_replaced") == "Token replaced"
    assert event_label("status.some_new_state") == "Some new state"


def test_a_failed_connection_says_when_it_is_retried(sqlite_session: Session) -> None:
    instance = BotInstance(name="Bot", kind=ConnectorKind.telegram_bot, credential="1:x")
    sqlite_session.add(instance)
    sqlite_session.commit()
    connection = PlatformConnection(
        bot_instance_id=instance.id,
        is_active=True,
        status=ConnectionStatus.error,
        last_error="ClientConnectorDNSError: Cannot connect to host api.telegram.org:443",
        details={"retry_in": 8.0},
    )
    sqlite_session.add(connection)
    sqlite_session.commit()

    view = connections.get_connection(sqlite_session, connection.id or 0)
    assert view.error_summary == UNREACHABLE
    assert view.next_retry_at == connection.updated_at + timedelta(seconds=8)

    connection.status = ConnectionStatus.connected
    sqlite_session.add(connection)
    sqlite_session.commit()
    assert connections.get_connection(sqlite_session, connection.id or 0).next_retry_at is None

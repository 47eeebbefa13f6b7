"""Secret columns are ciphertext in the database and plaintext only in Python."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from engine import crypto
from engine.models import BotInstance, ConnectorKind, FlowDefinition, WebhookEndpoint

TOKEN = "123456:AAE-very-secret-bot-token"


def test_secrets_encrypted_in_the_database(session: Session) -> None:
    bot = BotInstance(
        name="Main bot",
        kind=ConnectorKind.telegram_bot,
        credential=TOKEN,
        webhook_secret="hook-secret-value",
    )
    flow = FlowDefinition(name="f")
    session.add_all([bot, flow])
    session.flush()
    session.add(
        WebhookEndpoint(name="w", token="tok123", flow_id=flow.id, secret="hmac-secret-value")
    )
    session.commit()

    raw = (
        session.connection()
        .execute(sa.text("SELECT credential, webhook_secret FROM bot_instance"))
        .one()
    )
    raw_hook = session.connection().execute(sa.text("SELECT secret FROM webhook_endpoint")).one()
    for stored, plain in [
        (raw[0], TOKEN),
        (raw[1], "hook-secret-value"),
        (raw_hook[0], "hmac-secret-value"),
    ]:
        assert plain not in stored
        assert crypto.decrypt(stored) == plain

    session.expire_all()
    assert session.get(BotInstance, bot.id).credential == TOKEN
    assert TOKEN not in repr(session.get(BotInstance, bot.id))


def test_wrong_key_gives_a_clear_error(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    session.add(BotInstance(name="b", kind=ConnectorKind.discord_bot, credential=TOKEN))
    session.commit()
    monkeypatch.setenv("FLOWBOT_SECRET_KEY", "not-the-key-it-was-saved-with")
    crypto.get_settings.cache_clear()
    session.expire_all()
    with pytest.raises(crypto.SecretDecryptionError, match="FLOWBOT_SECRET_KEY"):
        session.connection().execute(sa.select(BotInstance.credential)).all()


def test_mask_shows_only_the_tail() -> None:
    assert crypto.mask(TOKEN) == "••••••••oken"
    assert crypto.mask("short") == "••••••••"
    assert crypto.mask(None) == ""

"""The README stays true: its configuration table is the one generated from the code, and
its example tokens are the ones the validator accepts."""

from pathlib import Path

import pytest

from engine.models import ConnectorKind
from engine.services.connections import InvalidConnection, validate_token
from engine.settings_doc import settings_table
from tests.fakes import discord, telegram_bot_api

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_documents_every_setting() -> None:
    assert settings_table() in README.read_text(), (
        "README.md's configuration table is out of date: paste the output of "
        "`python -m engine.settings_doc`"
    )


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text()[:1500]
    assert "scripts/start.sh" in head and "scripts/test.sh" in head


def test_readme_token_examples_agree_with_the_validator() -> None:
    """The README's example tokens are the ones the connection form accepts or refuses."""
    text = README.read_text()
    accepted = {
        ConnectorKind.telegram_bot: telegram_bot_api.DEFAULT_TOKEN,
        ConnectorKind.discord_bot: discord.DEFAULT_TOKEN,
    }
    for kind, token in accepted.items():
        assert f"`{token}`" in text
        assert validate_token(kind, token) == token
    assert "`123456:ABCdef`" in text and "is refused" in text
    with pytest.raises(InvalidConnection, match="123456789:AAE"):
        validate_token(ConnectorKind.telegram_bot, "123456:ABCdef")

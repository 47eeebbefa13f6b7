"""Revision 0007 carries the old bot_command, bot_response and bot_menu rows over, on SQLite
and PostgreSQL: each bot's rows become its draft configuration, and a bot with enabled
commands (which were pushed to the platform) gets them as live version 1; it downgrades
again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from engine.bot_config.document import BotConfigDocument
from engine.db import make_engine
from engine.migrations import downgrade, upgrade
from tests.integration.test_migration_0006_data import insert, rows

THEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    made = make_engine(database_url)
    yield made
    made.dispose()


def bot(conn: sa.Connection, name: str, kind: str, language: str) -> int:
    return insert(
        conn, "bot_instance", name=name, kind=kind, default_language=language, settings={},
        created_at=THEN, updated_at=THEN,
    )  # fmt: skip


def command(conn: sa.Connection, bot_id: int, name: str, language: str, text: str,
            *, enabled: bool = True, order: int = 0) -> None:  # fmt: skip
    insert(
        conn, "bot_command", bot_instance_id=bot_id, command=name, language=language,
        description=text, is_enabled=enabled, sort_order=order,
    )  # fmt: skip


def document(value: Any) -> BotConfigDocument:
    return BotConfigDocument.model_validate(json.loads(value) if isinstance(value, str) else value)


def test_old_commands_responses_and_menus_become_a_draft_and_version_one(
    database_url: str, engine: sa.Engine
) -> None:
    upgrade(database_url, "0006")
    with engine.begin() as conn:
        telegram = bot(conn, "Helper", "telegram_bot", "en")
        discord = bot(conn, "Quiet", "discord_bot", "de")
        bot(conn, "Untouched", "telegram_bot", "en")
        command(conn, telegram, "/Help", "en", "Show help")
        command(conn, telegram, "/Help", "de", "Hilfe anzeigen")
        command(conn, telegram, "old", "en", "Gone", enabled=False, order=1)
        command(conn, discord, "x", "de", "Aus", enabled=False)
        for key, language, text in (
            ("Help", "en", "Here is help"),
            ("Help", "de", "Hier ist Hilfe"),
            ("price list", "en", "Prices"),
        ):
            insert(conn, "bot_response", bot_instance_id=telegram, key=key, language=language,
                   text=text, updated_at=THEN)  # fmt: skip
        main = insert(conn, "bot_menu", bot_instance_id=telegram, name="Main Menu",
                      titles={"en": "Main", "de": "Haupt"}, created_at=THEN)  # fmt: skip
        insert(conn, "bot_menu", bot_instance_id=telegram, name="FAQ Menu", titles={"en": "FAQ"},
               created_at=THEN)  # fmt: skip
        for labels, action, value, row, position in (
            ({"en": "Site"}, "url", "https://example.org", 0, 1),
            ({"en": "FAQ"}, "submenu", "FAQ Menu", 0, 0),
            ({"en": "Prices"}, "callback", "price list", 2, 0),  # row 1 was empty
        ):
            insert(conn, "bot_menu_button", menu_id=main, labels=labels, action=action,
                   value=value, row=row, position=position)  # fmt: skip

    upgrade(database_url, "0007")
    with engine.connect() as conn:
        drafts = {
            r.bot_instance_id: r
            for r in rows(conn, "SELECT bot_instance_id, document, revision FROM bot_config_draft")
        }
        assert set(drafts) == {telegram, discord}  # a bot without old rows gets one when read
        carried = document(drafts[telegram].document)
        assert (carried.default_language, carried.languages) == ("en", ["de", "en"])
        assert [c.model_dump(mode="json", include={"name", "description", "enabled", "action"})
                for c in carried.commands] == [
            {"name": "help", "description": {"en": "Show help", "de": "Hilfe anzeigen"},
             "enabled": True, "action": {"kind": "response", "target": "help"}},
            {"name": "old", "description": {"en": "Gone"}, "enabled": False,
             "action": {"kind": "response", "target": "old"}},
        ]  # fmt: skip
        assert [(r.key, r.text) for r in carried.responses] == [
            ("help", {"en": "Here is help", "de": "Hier ist Hilfe"}),
            ("price_list", {"en": "Prices"}),
        ]
        [menu, faq] = carried.menus
        assert (menu.key, menu.title, faq.key, faq.rows) == (
            "main_menu", {"en": "Main", "de": "Haupt"}, "faq_menu", [],
        )  # fmt: skip
        assert [[(b.label["en"], b.action.kind.value, b.action.target) for b in row]
                for row in menu.rows] == [
            [("FAQ", "menu", "faq_menu"), ("Site", "url", "https://example.org")],
            [("Prices", "response", "price_list")],
        ]  # fmt: skip
        quiet = document(drafts[discord].document)
        assert (quiet.default_language, quiet.languages) == ("de", ["de"])
        assert [(c.name, c.enabled) for c in quiet.commands] == [("x", False)]

        versions = rows(
            conn, "SELECT bot_instance_id, version, document, published_by FROM bot_config_version"
        )
        assert [(v.bot_instance_id, v.version, v.published_by) for v in versions] == [
            (telegram, 1, "migration")
        ]  # the Discord bot had no enabled command: nothing was live
        assert document(versions[0].document) == carried
        columns = {c["name"] for c in sa.inspect(conn).get_columns("platform_account")}
        assert "language_override" in columns

    downgrade(database_url, "0006")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        assert {"bot_command", "bot_response", "bot_menu", "bot_menu_button"} <= tables
        assert not tables & {"bot_config_draft", "bot_config_version"}
    upgrade(database_url)

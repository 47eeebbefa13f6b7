"""bot configuration drafts and versions, member language override

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 20:44:37.958405
"""

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
MOMENT = sqlmodel.sql.sqltypes.UTCDateTime()

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def _key(name: str) -> str:
    """An old free-form name as a document key (lower case, a-z 0-9 _ -, 32 long)."""
    return (re.sub(r"[^a-z0-9_-]+", "_", name.strip().lower()).strip("_") or "item")[:32]


_ACTIONS = {"submenu": "menu", "url": "url", "flow": "flow", "callback": "response"}


def _json_object(value: Any) -> dict[str, Any]:
    """A JSON column read through sa.text: a dict on PostgreSQL, its text on SQLite."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _old_documents(bind: Any) -> dict[int, dict[str, Any]]:
    """Each bot's old command, response and menu rows as one configuration document."""
    docs: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"commands": [], "responses": [], "menus": [], "languages": []}
    )
    commands: dict[tuple[int, str], dict[str, Any]] = {}
    for row in bind.execute(sa.text(
        "SELECT bot_instance_id, command, language, description, is_enabled FROM bot_command"
        " ORDER BY bot_instance_id, sort_order, command"
    )):
        name = _key(row.command.lstrip("/")).replace("-", "_")
        entry = commands.setdefault((row.bot_instance_id, name), {
            "name": name, "description": {}, "enabled": bool(row.is_enabled),
            "action": {"kind": "response", "target": name},
        })
        if entry["description"] == {}:
            docs[row.bot_instance_id]["commands"].append(entry)
        entry["description"][row.language] = row.description
        docs[row.bot_instance_id]["languages"].append(row.language)
    responses: dict[tuple[int, str], dict[str, Any]] = {}
    for row in bind.execute(sa.text(
        "SELECT bot_instance_id, key, language, text FROM bot_response ORDER BY id"
    )):
        key = _key(row.key)
        entry = responses.setdefault((row.bot_instance_id, key), {"key": key, "text": {}})
        if entry["text"] == {}:
            docs[row.bot_instance_id]["responses"].append(entry)
        entry["text"][row.language] = row.text
        docs[row.bot_instance_id]["languages"].append(row.language)
    menus: dict[int, dict[str, Any]] = {}
    for row in bind.execute(sa.text("SELECT id, bot_instance_id, name, titles FROM bot_menu")):
        titles = _json_object(row.titles)
        menus[row.id] = {"key": _key(row.name), "title": titles, "rows": []}
        docs[row.bot_instance_id]["menus"].append(menus[row.id])
    for row in bind.execute(sa.text(
        "SELECT menu_id, labels, action, value, row FROM bot_menu_button ORDER BY row, position"
    )):
        rows = menus[row.menu_id]["rows"]
        while len(rows) <= row.row:
            rows.append([])
        kind = _ACTIONS.get(row.action, "response")
        target = row.value if kind in ("url", "flow") else _key(row.value)
        labels = _json_object(row.labels)
        rows[row.row].append({"label": labels, "action": {"kind": kind, "target": target}})
    for doc in docs.values():
        for menu in doc["menus"]:
            menu["rows"] = [r for r in menu["rows"] if r]
    return docs


def _carry_old_rows() -> None:
    """Old rows become each bot's draft; a bot whose commands were pushed live gets them
    as version 1 too, so upgrading does not change what the bot shows."""
    bind = op.get_bind()
    now = datetime.now(UTC)
    defaults = dict(bind.execute(sa.text("SELECT id, default_language FROM bot_instance")).all())
    draft = sa.table("bot_config_draft", sa.column("bot_instance_id"),
                     sa.column("document", JSON), sa.column("revision"),
                     sa.column("updated_by"), sa.column("updated_at", MOMENT))
    version = sa.table("bot_config_version", sa.column("bot_instance_id"), sa.column("version"),
                       sa.column("document", JSON), sa.column("published_by"),
                       sa.column("published_at", MOMENT), sa.column("note"))
    for instance_id, doc in _old_documents(bind).items():
        default = defaults.get(instance_id) or "en"
        doc["default_language"] = default
        doc["languages"] = sorted({default, *doc["languages"]})
        op.bulk_insert(draft, [{"bot_instance_id": instance_id, "document": doc, "revision": 1,
                                "updated_by": "migration", "updated_at": now}])
        if any(c["enabled"] for c in doc["commands"]):
            op.bulk_insert(version, [{
                "bot_instance_id": instance_id, "version": 1, "document": doc,
                "published_by": "migration", "published_at": now,
                "note": "Commands as they were before bot configuration versions",
            }])


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('bot_config_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_instance_id', sa.Integer(), nullable=False),
    sa.Column('document', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instance.id'], name=op.f('fk_bot_config_draft_bot_instance_id_bot_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_config_draft')),
    sa.UniqueConstraint('bot_instance_id', name=op.f('uq_bot_config_draft_bot_instance_id'))
    )
    op.create_table('bot_config_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_instance_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('document', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('published_by', sa.String(length=128), nullable=False),
    sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('note', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instance.id'], name=op.f('fk_bot_config_version_bot_instance_id_bot_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_config_version')),
    sa.UniqueConstraint('bot_instance_id', 'version', name=op.f('uq_bot_config_version_bot_instance_id_version'))
    )
    _carry_old_rows()
    op.drop_table('bot_command')
    with op.batch_alter_table('bot_menu_button', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bot_menu_button_menu_id'))

    op.drop_table('bot_menu_button')
    op.drop_table('bot_response')
    op.drop_table('bot_menu')
    with op.batch_alter_table('platform_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language_override', sa.String(length=16), nullable=True))

    # ### end Alembic commands ###

def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('platform_account', schema=None) as batch_op:
        batch_op.drop_column('language_override')

    op.create_table('bot_menu',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('bot_instance_id', sa.INTEGER(), nullable=False),
    sa.Column('name', sa.VARCHAR(length=64), nullable=False),
    sa.Column('titles', JSON, nullable=False),
    sa.Column('created_at', MOMENT, nullable=False),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instance.id'], name=op.f('fk_bot_menu_bot_instance_id_bot_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_menu')),
    sa.UniqueConstraint('bot_instance_id', 'name', name=op.f('uq_bot_menu_bot_instance_id_name'))
    )
    op.create_table('bot_response',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('bot_instance_id', sa.INTEGER(), nullable=False),
    sa.Column('key', sa.VARCHAR(length=64), nullable=False),
    sa.Column('language', sa.VARCHAR(length=16), nullable=False),
    sa.Column('text', sa.TEXT(), nullable=False),
    sa.Column('updated_at', MOMENT, nullable=False),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instance.id'], name=op.f('fk_bot_response_bot_instance_id_bot_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_response')),
    sa.UniqueConstraint('bot_instance_id', 'key', 'language', name=op.f('uq_bot_response_bot_instance_id_key_language'))
    )
    op.create_table('bot_menu_button',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('menu_id', sa.INTEGER(), nullable=False),
    sa.Column('labels', JSON, nullable=False),
    sa.Column('action', sa.VARCHAR(length=16), nullable=False),
    sa.Column('value', sa.TEXT(), nullable=False),
    sa.Column('row', sa.INTEGER(), nullable=False),
    sa.Column('position', sa.INTEGER(), nullable=False),
    sa.ForeignKeyConstraint(['menu_id'], ['bot_menu.id'], name=op.f('fk_bot_menu_button_menu_id_bot_menu'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_menu_button'))
    )
    with op.batch_alter_table('bot_menu_button', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bot_menu_button_menu_id'), ['menu_id'], unique=False)

    op.create_table('bot_command',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('bot_instance_id', sa.INTEGER(), nullable=False),
    sa.Column('command', sa.VARCHAR(length=32), nullable=False),
    sa.Column('language', sa.VARCHAR(length=16), nullable=False),
    sa.Column('description', sa.VARCHAR(length=256), nullable=False),
    sa.Column('is_enabled', sa.BOOLEAN(), nullable=False),
    sa.Column('sort_order', sa.INTEGER(), nullable=False),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instance.id'], name=op.f('fk_bot_command_bot_instance_id_bot_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_command')),
    sa.UniqueConstraint('bot_instance_id', 'command', 'language', name=op.f('uq_bot_command_bot_instance_id_command_language'))
    )
    op.drop_table('bot_config_version')
    op.drop_table('bot_config_draft')
    # ### end Alembic commands ###

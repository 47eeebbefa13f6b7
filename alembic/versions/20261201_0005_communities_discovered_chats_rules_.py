"""communities: discovered chats, rules document, reputation events

The per-platform community config tables become chat rows linked to the community, and
the community_config columns become one rules document (engine/community_rules.py); both
are carried over, not dropped.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:41:07.119157
"""

import json
from datetime import UTC, datetime
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_CONFIG_COLUMNS = (
    "rules", "warn_threshold_ban", "language", "welcome_message", "banned_words",
    "welcome_enabled", "warn_threshold_mute", "extra", "antilink_enabled", "mute_minutes",
    "antispam_enabled", "warning_expiry_days", "reputation_enabled",
)


def _carry_chats_and_rules() -> None:
    """Old chat links become chat rows; old config columns become the rules document."""
    with op.batch_alter_table('community_config', schema=None) as batch_op:
        batch_op.add_column(sa.Column('document', JSON, nullable=True))
        batch_op.add_column(sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    bind = op.get_bind()
    now = datetime.now(UTC)
    moment = sqlmodel.sql.sqltypes.UTCDateTime()
    chat = sa.table(
        "chat",
        *(sa.column(c) for c in (
            "platform", "platform_chat_id", "parent_chat_id", "type", "title", "username",
            "bot_is_admin", "community_id",
        )),
        sa.column("bot_rights", JSON),
        sa.column("first_seen_at", moment),
        sa.column("updated_at", moment),
    )
    config = sa.table(
        "community_config", sa.column("id"), sa.column("document", JSON),
        sa.column("updated_at", moment),
    )
    seen: set[tuple[str, str]] = set()
    log_chats: dict[int, tuple[str, str]] = {}

    def add(community_id, platform, chat_id, kind, title, username=None, parent=None):
        if not chat_id or (platform, chat_id) in seen:
            return
        seen.add((platform, chat_id))
        bind.execute(chat.insert().values(
            platform=platform, platform_chat_id=chat_id, parent_chat_id=parent, type=kind,
            title=title or "", username=username, bot_is_admin=False,
            bot_rights={}, community_id=community_id,
            first_seen_at=now, updated_at=now,
        ))

    for row in bind.execute(sa.text("SELECT * FROM community_telegram_config")).mappings():
        add(row["community_id"], "telegram", row["chat_id"], row["chat_type"], row["title"],
            row["username"])
        if row["log_chat_id"]:
            log_chats.setdefault(row["community_id"], ("telegram", row["log_chat_id"]))
    for row in bind.execute(sa.text("SELECT * FROM community_discord_config")).mappings():
        add(row["community_id"], "discord", row["guild_id"], "guild", row["guild_name"])
        for channel in (row["announcement_channel_id"], row["welcome_channel_id"]):
            add(row["community_id"], "discord", channel, "text", "", parent=row["guild_id"])
        if row["log_channel_id"]:
            add(row["community_id"], "discord", row["log_channel_id"], "text", "",
                parent=row["guild_id"])
            log_chats.setdefault(row["community_id"], ("discord", row["log_channel_id"]))
    for row in bind.execute(sa.text("SELECT * FROM community_whatsapp_config")).mappings():
        add(row["community_id"], "whatsapp", row["group_jid"], "group", row["subject"])
    for community_id, (platform, chat_id) in log_chats.items():
        add(None, platform, chat_id, "group", "")
    for row in bind.execute(sa.text("SELECT * FROM community_config")).mappings():
        document = _document(row)
        log = log_chats.get(row["community_id"])
        if log:
            document["log_chat_id"] = bind.execute(
                sa.text("SELECT id FROM chat WHERE platform = :p AND platform_chat_id = :c"),
                {"p": log[0], "c": log[1]},
            ).scalar()
        bind.execute(
            config.update()
            .where(config.c.id == row["id"])
            .values(document=document, updated_at=now)
        )


def _document(row) -> dict:
    words = row["banned_words"]
    if isinstance(words, str):
        words = json.loads(words or "[]")
    return {
        "language": row["language"],
        "rules_text": row["rules"] or "",
        "welcome": {"enabled": bool(row["welcome_enabled"]),
                    **({"message": row["welcome_message"]} if row["welcome_message"] else {})},
        "warnings": {"mute_at": row["warn_threshold_mute"] or None,
                     "ban_at": row["warn_threshold_ban"] or None,
                     "mute_minutes": max(1, row["mute_minutes"]),
                     "expire_days": row["warning_expiry_days"] or None},
        "antiflood": {"enabled": bool(row["antispam_enabled"])},
        "antilink": {"enabled": bool(row["antilink_enabled"])},
        "banned_words": {"enabled": bool(words),
                         "words": [{"pattern": w} for w in words or [] if w]},
        "reputation": {"enabled": bool(row["reputation_enabled"])},
    }


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('chat',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('platform_chat_id', sa.String(length=64), nullable=False),
    sa.Column('bot_instance_id', sa.Integer(), nullable=True),
    sa.Column('parent_chat_id', sa.String(length=64), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('username', sa.String(length=128), nullable=True),
    sa.Column('member_count', sa.Integer(), nullable=True),
    sa.Column('bot_is_admin', sa.Boolean(), nullable=False),
    sa.Column('bot_rights', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('gone_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('first_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instance.id'], name=op.f('fk_chat_bot_instance_id_bot_instance'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_chat_community_id_community'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat')),
    sa.UniqueConstraint('platform', 'platform_chat_id', name=op.f('uq_chat_platform_platform_chat_id'))
    )
    with op.batch_alter_table('chat', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_bot_instance_id'), ['bot_instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_parent_chat_id'), ['parent_chat_id'], unique=False)

    op.create_table('reputation_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('platform_account_id', sa.Integer(), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_reputation_event_community_id_community'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_account_id'], ['platform_account.id'], name=op.f('fk_reputation_event_platform_account_id_platform_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reputation_event'))
    )
    with op.batch_alter_table('reputation_event', schema=None) as batch_op:
        batch_op.create_index('ix_reputation_event_member', ['community_id', 'platform_account_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reputation_event_platform_account_id'), ['platform_account_id'], unique=False)

    op.create_table(
        "link_suggestion_dismissal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_low_id", sa.Integer(), nullable=False),
        sa.Column("account_high_id", sa.Integer(), nullable=False),
        sa.Column("dismissed_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_high_id"],
            ["platform_account.id"],
            name=op.f("fk_link_suggestion_dismissal_account_high_id_platform_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_low_id"],
            ["platform_account.id"],
            name=op.f("fk_link_suggestion_dismissal_account_low_id_platform_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_suggestion_dismissal")),
        sa.UniqueConstraint(
            "account_low_id",
            "account_high_id",
            name=op.f("uq_link_suggestion_dismissal_account_low_id_account_high_id"),
        ),
    )
    with op.batch_alter_table("link_suggestion_dismissal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_link_suggestion_dismissal_account_high_id"),
            ["account_high_id"],
            unique=False,
        )

    _carry_chats_and_rules()

    with op.batch_alter_table('community_whatsapp_config', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_community_whatsapp_config_community_id'))
        batch_op.drop_index(batch_op.f('ix_community_whatsapp_config_group_jid'))

    op.drop_table('community_whatsapp_config')
    with op.batch_alter_table('community_telegram_config', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_community_telegram_config_chat_id'))
        batch_op.drop_index(batch_op.f('ix_community_telegram_config_community_id'))

    op.drop_table('community_telegram_config')
    with op.batch_alter_table('community_discord_config', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_community_discord_config_community_id'))
        batch_op.drop_index(batch_op.f('ix_community_discord_config_guild_id'))

    op.drop_table('community_discord_config')
    with op.batch_alter_table('community_config', schema=None) as batch_op:
        for column in OLD_CONFIG_COLUMNS:
            batch_op.drop_column(column)
        batch_op.alter_column('document', new_column_name='rules', nullable=False)
        batch_op.alter_column('updated_at', nullable=False)

    with op.batch_alter_table('community_member', schema=None) as batch_op:
        batch_op.create_index('ix_community_member_joined', ['community_id', 'joined_at', 'id'], unique=False)
        batch_op.create_index('ix_community_member_recent', ['community_id', 'last_active_at', 'id'], unique=False)

    with op.batch_alter_table('flow_definition', schema=None) as batch_op:
        batch_op.add_column(sa.Column('system_kind', sa.String(length=32), nullable=True))

    with op.batch_alter_table('platform_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_platform_account_phone'), ['phone'], unique=False)

    # ### end Alembic commands ###

def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('platform_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_platform_account_phone'))
        batch_op.drop_column('phone')

    with op.batch_alter_table('flow_definition', schema=None) as batch_op:
        batch_op.drop_column('system_kind')

    with op.batch_alter_table('community_member', schema=None) as batch_op:
        batch_op.drop_index('ix_community_member_recent')
        batch_op.drop_index('ix_community_member_joined')

    # The old columns come back with their defaults; the rules document does not fit them.
    with op.batch_alter_table('community_config', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('rules')
        for name, kind, default in (
            ("reputation_enabled", sa.Boolean(), sa.true()),
            ("warning_expiry_days", sa.Integer(), sa.text("30")),
            ("antispam_enabled", sa.Boolean(), sa.false()),
            ("mute_minutes", sa.Integer(), sa.text("60")),
            ("antilink_enabled", sa.Boolean(), sa.false()),
            ("extra", JSON, sa.text("'{}'")),
            ("warn_threshold_mute", sa.Integer(), sa.text("3")),
            ("welcome_enabled", sa.Boolean(), sa.false()),
            ("banned_words", JSON, sa.text("'[]'")),
            ("welcome_message", sa.Text(), sa.text("''")),
            ("language", sa.String(16), sa.text("'en'")),
            ("warn_threshold_ban", sa.Integer(), sa.text("5")),
            ("rules", sa.Text(), sa.text("''")),
        ):
            batch_op.add_column(sa.Column(name, kind, nullable=False, server_default=default))

    op.create_table('community_discord_config',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('community_id', sa.INTEGER(), nullable=False),
    sa.Column('guild_id', sa.VARCHAR(length=32), nullable=False),
    sa.Column('guild_name', sa.VARCHAR(length=256), nullable=False),
    sa.Column('announcement_channel_id', sa.VARCHAR(length=32), nullable=True),
    sa.Column('log_channel_id', sa.VARCHAR(length=32), nullable=True),
    sa.Column('welcome_channel_id', sa.VARCHAR(length=32), nullable=True),
    sa.Column('moderator_role_id', sa.VARCHAR(length=32), nullable=True),
    sa.Column('muted_role_id', sa.VARCHAR(length=32), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_community_discord_config_community_id_community'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_discord_config')),
    sa.UniqueConstraint('community_id', 'guild_id', name=op.f('uq_community_discord_config_community_id_guild_id'))
    )
    with op.batch_alter_table('community_discord_config', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_community_discord_config_guild_id'), ['guild_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_community_discord_config_community_id'), ['community_id'], unique=False)

    op.create_table('community_telegram_config',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('community_id', sa.INTEGER(), nullable=False),
    sa.Column('chat_id', sa.VARCHAR(length=32), nullable=False),
    sa.Column('chat_type', sa.VARCHAR(length=16), nullable=False),
    sa.Column('title', sa.VARCHAR(length=256), nullable=False),
    sa.Column('username', sa.VARCHAR(length=128), nullable=True),
    sa.Column('log_chat_id', sa.VARCHAR(length=32), nullable=True),
    sa.Column('delete_service_messages', sa.BOOLEAN(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_community_telegram_config_community_id_community'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_telegram_config')),
    sa.UniqueConstraint('community_id', 'chat_id', name=op.f('uq_community_telegram_config_community_id_chat_id'))
    )
    with op.batch_alter_table('community_telegram_config', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_community_telegram_config_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_community_telegram_config_chat_id'), ['chat_id'], unique=False)

    op.create_table('community_whatsapp_config',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('community_id', sa.INTEGER(), nullable=False),
    sa.Column('group_jid', sa.VARCHAR(length=64), nullable=False),
    sa.Column('subject', sa.VARCHAR(length=256), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_community_whatsapp_config_community_id_community'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_whatsapp_config')),
    sa.UniqueConstraint('community_id', 'group_jid', name=op.f('uq_community_whatsapp_config_community_id_group_jid'))
    )
    with op.batch_alter_table('community_whatsapp_config', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_community_whatsapp_config_group_jid'), ['group_jid'], unique=False)
        batch_op.create_index(batch_op.f('ix_community_whatsapp_config_community_id'), ['community_id'], unique=False)

    with op.batch_alter_table('reputation_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reputation_event_platform_account_id'))
        batch_op.drop_index('ix_reputation_event_member')

    op.drop_table('reputation_event')
    op.drop_table('link_suggestion_dismissal')
    with op.batch_alter_table('chat', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_parent_chat_id'))
        batch_op.drop_index(batch_op.f('ix_chat_community_id'))
        batch_op.drop_index(batch_op.f('ix_chat_bot_instance_id'))

    op.drop_table('chat')
    # ### end Alembic commands ###

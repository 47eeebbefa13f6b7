"""broadcast targets, cross-post rules and deliveries, scheduled deliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 17:05:30.507027
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENT = sqlmodel.sql.sqltypes.UTCDateTime()


def _carry_broadcasts() -> None:
    """Old broadcasts keep their per-chat results, as target rows, and their end time."""
    bind = op.get_bind()
    now = datetime.now(UTC)
    old = sa.table(
        'broadcast_message', sa.column('id'), sa.column('status'), sa.column('results', JSON),
        sa.column('sent_at', MOMENT), sa.column('overrides', JSON), sa.column('buttons', JSON),
        sa.column('chat_ids', JSON), sa.column('finished_at', MOMENT),
        sa.column('started_at', MOMENT), sa.column('updated_at', MOMENT),
    )
    target = sa.table(
        'broadcast_target', *(sa.column(c) for c in (
            'broadcast_id', 'community_id', 'platform', 'connector_kind', 'platform_chat_id',
            'title', 'status', 'attempts', 'error',
        )),
        sa.column('sent_at', MOMENT), sa.column('updated_at', MOMENT),
    )
    kinds = {'telegram': 'telegram_bot', 'discord': 'discord_bot', 'whatsapp': 'whatsapp_user'}
    for row in bind.execute(sa.select(old.c.id, old.c.results, old.c.sent_at)).all():
        seen = set()
        for result in row.results or []:
            platform, chat = result.get('platform'), str(result.get('chat_id') or '')
            if platform not in kinds or not chat or (platform, chat) in seen:
                continue
            seen.add((platform, chat))
            ok = bool(result.get('ok'))
            bind.execute(target.insert().values(
                broadcast_id=row.id, community_id=result.get('community_id'), platform=platform,
                connector_kind=kinds[platform], platform_chat_id=chat, title='',
                status='sent' if ok else 'failed', attempts=1,
                error=None if ok else str(result.get('error') or 'failed'),
                sent_at=row.sent_at if ok else None, updated_at=row.sent_at or now,
            ))
        bind.execute(old.update().where(old.c.id == row.id).values(
            overrides={}, buttons=[], chat_ids=[], started_at=row.sent_at,
            finished_at=row.sent_at, updated_at=row.sent_at or now,
        ))
    # A broadcast the old node left "sending" died with its execution: nothing resumes it.
    bind.execute(old.update().where(old.c.status.in_(('queued', 'sending'))).values(status='failed'))


def _carry_templates() -> None:
    """A template's old targets become a paused rule per chat of its source community, so
    nothing starts mirroring on its own after the upgrade; the admin turns them on."""
    bind = op.get_bind()
    now = datetime.now(UTC)
    template = sa.table(
        'cross_post_template', sa.column('id'), sa.column('name'),
        sa.column('source_community_id'), sa.column('targets', JSON),
        sa.column('updated_at', MOMENT),
    )
    chat = sa.table('chat', sa.column('id'), sa.column('platform'),
                    sa.column('platform_chat_id'), sa.column('community_id'), sa.column('title'))
    rule = sa.table(
        'cross_post_rule', *(sa.column(c) for c in (
            'name', 'source_chat_id', 'template_id', 'include_media', 'mirror_edits',
            'mirror_deletes', 'is_active',
        )),
        sa.column('target_chat_ids', JSON), sa.column('filter', JSON),
        sa.column('created_at', MOMENT), sa.column('updated_at', MOMENT),
    )
    chats = bind.execute(sa.select(chat)).all()
    by_platform_id = {(c.platform, c.platform_chat_id): c.id for c in chats}
    for row in bind.execute(sa.select(template)).all():
        targets = [
            by_platform_id[(t.get('platform'), str(t.get('chat_id')))]
            for t in row.targets or []
            if (t.get('platform'), str(t.get('chat_id'))) in by_platform_id
        ]
        sources = [c for c in chats if row.source_community_id and c.community_id == row.source_community_id]
        for source in sources:
            others = [t for t in targets if t != source.id]
            if others:
                bind.execute(rule.insert().values(
                    name=f"{row.name} · {source.title or source.platform_chat_id}"[:128],
                    source_chat_id=source.id, template_id=row.id, include_media=True,
                    mirror_edits=False, mirror_deletes=False, is_active=False,
                    target_chat_ids=others, filter={}, created_at=now, updated_at=now,
                ))
        bind.execute(template.update().where(template.c.id == row.id).values(updated_at=now))


def _carry_scheduled() -> None:
    bind = op.get_bind()
    scheduled = sa.table('scheduled_message', sa.column('title'), sa.column('created_at', MOMENT),
                         sa.column('updated_at', MOMENT))
    bind.execute(scheduled.update().values(title='', updated_at=scheduled.c.created_at))


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('broadcast_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('broadcast_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.Integer(), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('connector_kind', sa.String(length=32), nullable=False),
    sa.Column('bot_instance_id', sa.Integer(), nullable=True),
    sa.Column('platform_chat_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('platform_message_id', sa.String(length=64), nullable=True),
    sa.Column('sent_at', MOMENT, nullable=True),
    sa.Column('updated_at', MOMENT, nullable=False),
    sa.ForeignKeyConstraint(['bot_instance_id'], ['bot_instance.id'], name=op.f('fk_broadcast_target_bot_instance_id_bot_instance'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcast_message.id'], name=op.f('fk_broadcast_target_broadcast_id_broadcast_message'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['chat_id'], ['chat.id'], name=op.f('fk_broadcast_target_chat_id_chat'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_broadcast_target_community_id_community'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_target')),
    sa.UniqueConstraint('broadcast_id', 'platform', 'platform_chat_id', name=op.f('uq_broadcast_target_broadcast_id_platform_platform_chat_id'))
    )
    with op.batch_alter_table('broadcast_target', schema=None) as batch_op:
        batch_op.create_index('ix_broadcast_target_progress', ['broadcast_id', 'status'], unique=False)

    op.create_table('cross_post_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('source_chat_id', sa.Integer(), nullable=False),
    sa.Column('target_chat_ids', JSON, nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.Column('filter', JSON, nullable=False),
    sa.Column('include_media', sa.Boolean(), nullable=False),
    sa.Column('mirror_edits', sa.Boolean(), nullable=False),
    sa.Column('mirror_deletes', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', MOMENT, nullable=False),
    sa.Column('updated_at', MOMENT, nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['admin_user.id'], name=op.f('fk_cross_post_rule_created_by_admin_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_chat_id'], ['chat.id'], name=op.f('fk_cross_post_rule_source_chat_id_chat'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['cross_post_template.id'], name=op.f('fk_cross_post_rule_template_id_cross_post_template'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cross_post_rule'))
    )
    with op.batch_alter_table('cross_post_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cross_post_rule_source_chat_id'), ['source_chat_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cross_post_rule_template_id'), ['template_id'], unique=False)

    op.create_table('cross_post_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('source_platform', sa.String(length=32), nullable=False),
    sa.Column('source_chat_id', sa.String(length=64), nullable=False),
    sa.Column('source_message_id', sa.String(length=64), nullable=False),
    sa.Column('target_chat_id', sa.Integer(), nullable=True),
    sa.Column('target_platform', sa.String(length=32), nullable=False),
    sa.Column('target_platform_chat_id', sa.String(length=64), nullable=False),
    sa.Column('target_message_id', sa.String(length=64), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', MOMENT, nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['cross_post_rule.id'], name=op.f('fk_cross_post_delivery_rule_id_cross_post_rule'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_chat_id'], ['chat.id'], name=op.f('fk_cross_post_delivery_target_chat_id_chat'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cross_post_delivery'))
    )
    with op.batch_alter_table('cross_post_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_cross_post_delivery_rule', ['rule_id', 'created_at'], unique=False)
        batch_op.create_index('ix_cross_post_delivery_source', ['source_platform', 'source_chat_id', 'source_message_id'], unique=False)

    op.create_table('scheduled_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scheduled_message_id', sa.Integer(), nullable=False),
    sa.Column('due_at', MOMENT, nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('platform_message_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', MOMENT, nullable=False),
    sa.ForeignKeyConstraint(['scheduled_message_id'], ['scheduled_message.id'], name=op.f('fk_scheduled_delivery_scheduled_message_id_scheduled_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_delivery'))
    )
    with op.batch_alter_table('scheduled_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_scheduled_delivery_message', ['scheduled_message_id', 'due_at'], unique=False)

    with op.batch_alter_table('broadcast_message', schema=None) as batch_op:
        for name in ('overrides', 'buttons', 'chat_ids'):
            batch_op.add_column(sa.Column(name, JSON, nullable=True))
        for name in ('started_at', 'finished_at', 'lease_until', 'updated_at'):
            batch_op.add_column(sa.Column(name, MOMENT, nullable=True))
    with op.batch_alter_table('cross_post_template', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', MOMENT, nullable=True))
    with op.batch_alter_table('scheduled_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('discovered_chat_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', MOMENT, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_scheduled_message_discovered_chat_id_chat'), 'chat', ['discovered_chat_id'], ['id'], ondelete='SET NULL')

    _carry_broadcasts()
    _carry_templates()
    _carry_scheduled()

    with op.batch_alter_table('broadcast_message', schema=None) as batch_op:
        for name in ('overrides', 'buttons', 'chat_ids', 'updated_at'):
            batch_op.alter_column(name, nullable=False)
        batch_op.drop_column('sent_at')
        batch_op.drop_column('results')
        batch_op.drop_column('parse_mode')
    with op.batch_alter_table('cross_post_template', schema=None) as batch_op:
        batch_op.alter_column('updated_at', nullable=False)
        batch_op.drop_index(batch_op.f('ix_cross_post_template_source_community_id'))
        batch_op.drop_constraint(batch_op.f('fk_cross_post_template_source_community_id_community'), type_='foreignkey')
        batch_op.drop_column('targets')
        batch_op.drop_column('source_community_id')
    with op.batch_alter_table('scheduled_message', schema=None) as batch_op:
        batch_op.alter_column('title', nullable=False)
        batch_op.alter_column('updated_at', nullable=False)

    # ### end Alembic commands ###

def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('scheduled_message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_scheduled_message_discovered_chat_id_chat'), type_='foreignkey')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('discovered_chat_id')
        batch_op.drop_column('title')

    with op.batch_alter_table('cross_post_template', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_community_id', sa.INTEGER(), nullable=True))
        batch_op.add_column(sa.Column('targets', JSON, nullable=False, server_default=sa.text("'[]'")))
        batch_op.create_foreign_key(batch_op.f('fk_cross_post_template_source_community_id_community'), 'community', ['source_community_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_cross_post_template_source_community_id'), ['source_community_id'], unique=False)
        batch_op.drop_column('updated_at')

    with op.batch_alter_table('broadcast_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parse_mode', sa.VARCHAR(length=16), nullable=True))
        batch_op.add_column(sa.Column('results', JSON, nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('sent_at', MOMENT, nullable=True))
        batch_op.drop_column('updated_at')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('finished_at')
        batch_op.drop_column('started_at')
        batch_op.drop_column('chat_ids')
        batch_op.drop_column('buttons')
        batch_op.drop_column('overrides')

    with op.batch_alter_table('scheduled_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_scheduled_delivery_message')

    op.drop_table('scheduled_delivery')
    with op.batch_alter_table('cross_post_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_cross_post_delivery_source')
        batch_op.drop_index('ix_cross_post_delivery_rule')

    op.drop_table('cross_post_delivery')
    with op.batch_alter_table('cross_post_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cross_post_rule_template_id'))
        batch_op.drop_index(batch_op.f('ix_cross_post_rule_source_chat_id'))

    op.drop_table('cross_post_rule')
    with op.batch_alter_table('broadcast_target', schema=None) as batch_op:
        batch_op.drop_index('ix_broadcast_target_progress')

    op.drop_table('broadcast_target')
    # ### end Alembic commands ###

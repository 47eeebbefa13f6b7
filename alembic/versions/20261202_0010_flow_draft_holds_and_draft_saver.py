"""flow draft holds (a room's unsaved draft during a save conflict) and the draft's saver

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "flow_draft_hold",
        sa.Column("flow_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("graph", JSON, nullable=False),
        sa.Column("base_graph", JSON, nullable=False),
        sa.Column("base_revision", sa.Integer(), nullable=False),
        sa.Column("authors", JSON, nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flow_definition.id"],
            name=op.f("fk_flow_draft_hold_flow_id_flow_definition"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("flow_id", name=op.f("pk_flow_draft_hold")),
    )
    with op.batch_alter_table("flow_definition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft_saved_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_flow_definition_draft_saved_by_id_admin_user"),
            "admin_user",
            ["draft_saved_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("flow_definition", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_flow_definition_draft_saved_by_id_admin_user"), type_="foreignkey"
        )
        batch_op.drop_column("draft_saved_by_id")
    op.drop_table("flow_draft_hold")

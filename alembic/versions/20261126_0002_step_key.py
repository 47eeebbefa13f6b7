"""flow_execution_step.step_key: the deterministic key re-runs find a step by

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("flow_execution_step", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step_key", sa.String(length=200), nullable=True))
    # Steps recorded before keys existed get a unique one from their sequence number.
    op.execute(
        "UPDATE flow_execution_step SET step_key = node_id || '#' || CAST(seq AS VARCHAR(20))"
    )
    with op.batch_alter_table("flow_execution_step", schema=None) as batch_op:
        batch_op.alter_column("step_key", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_flow_execution_step_execution_id_step_key"), ["execution_id", "step_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("flow_execution_step", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_flow_execution_step_execution_id_step_key"), type_="unique"
        )
        batch_op.drop_column("step_key")

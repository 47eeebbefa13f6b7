"""webhook endpoints belong to a flow's trigger node

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:48:25.348538
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("node_removed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("secret_unseen", sa.Boolean(), nullable=True))
    # Endpoints made before nodes owned them were made on the Webhooks page: their secret,
    # if any, was shown there when it was set.
    op.execute(sa.text("UPDATE webhook_endpoint SET secret_unseen = :no").bindparams(no=False))
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.alter_column("secret_unseen", existing_type=sa.Boolean(), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_webhook_endpoint_flow_id_node_id"), ["flow_id", "node_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_webhook_endpoint_flow_id_node_id"), type_="unique")
        batch_op.drop_column("secret_unseen")
        batch_op.drop_column("node_removed_at")
        batch_op.drop_column("node_id")

"""what a fine-tuning job was charged up front and what it finally cost

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fine_tuning_jobs") as batch:
        batch.add_column(sa.Column("charged", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("cost", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fine_tuning_jobs") as batch:
        batch.drop_column("cost")
        batch.drop_column("charged")

"""royalty payouts for models derived from marketplace datasets, and which billed calls each one paid for

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "royalty_payouts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("dataset_slug", sa.String(64), nullable=False, index=True),
        sa.Column("token_id", sa.BigInteger, nullable=False),
        sa.Column("holder", sa.String(42), nullable=False, index=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("raw_tx", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("paid_at", TS, nullable=True),
    )
    op.create_table(
        "royalty_calls",
        sa.Column("request_id", sa.String(40), primary_key=True),
        sa.Column("payout_id", sa.String(40), sa.ForeignKey("royalty_payouts.id"), nullable=False, index=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("royalty_calls")
    op.drop_table("royalty_payouts")

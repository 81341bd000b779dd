"""x402 payments; user ids wide enough for payer addresses

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
# An x402 payer's balance lives under its address (42 characters) as the user id.
WIDENED = ("ledger_accounts", "ledger_transactions", "holds", "usage_daily", "request_log")


def upgrade() -> None:
    op.create_table(
        "x402_payments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("payer", sa.String(42), nullable=False, index=True),
        sa.Column("nonce", sa.String(66), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("pay_to", sa.String(42), nullable=False),
        sa.Column("request_id", sa.String(40), nullable=True, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("cost", sa.BigInteger, nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("settled_at", TS, nullable=True),
        sa.UniqueConstraint("chain_id", "payer", "nonce"),
    )
    if op.get_bind().dialect.name == "postgresql":  # SQLite does not enforce VARCHAR lengths
        for table in WIDENED:
            op.alter_column(table, "user_id", type_=sa.String(64))


def downgrade() -> None:
    op.drop_table("x402_payments")

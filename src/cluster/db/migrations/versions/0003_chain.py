"""chain indexer: cursors, decoded events, deposit references, deposits, dataset purchases

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _log_key() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False, index=True),
    ]


def upgrade() -> None:
    op.create_table(
        "chain_cursors",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "chain_events",
        *_log_key(),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("event", sa.String(64), nullable=False, index=True),
        sa.Column("args", sa.JSON, nullable=False),
        sa.UniqueConstraint("chain_id", "tx_hash", "log_index"),
    )
    op.create_table(
        "deposit_refs",
        sa.Column("ref", sa.String(66), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "chain_deposits",
        *_log_key(),
        sa.Column("ref", sa.String(66), nullable=False, index=True),
        sa.Column("user_id", sa.String(40), nullable=True, index=True),
        sa.Column("sender", sa.String(42), nullable=False),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("amount", sa.String(78), nullable=False),
        sa.Column("credited", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("chain_id", "tx_hash", "log_index"),
    )
    op.create_table(
        "chain_purchases",
        *_log_key(),
        sa.Column("dataset_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("buyer", sa.String(42), nullable=False, index=True),
        sa.Column("referrer", sa.String(42), nullable=False),
        sa.Column("beneficiary", sa.String(42), nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("creator_amount", sa.BigInteger, nullable=False),
        sa.Column("treasury_amount", sa.BigInteger, nullable=False),
        sa.Column("referrer_amount", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("chain_id", "tx_hash", "log_index"),
    )


def downgrade() -> None:
    for table in ("chain_purchases", "chain_deposits", "deposit_refs", "chain_events", "chain_cursors"):
        op.drop_table(table)

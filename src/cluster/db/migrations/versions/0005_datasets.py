"""datasets (listing, content, sealed key, token) and wallets linked to accounts

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("category", sa.String(16), nullable=False, index=True),
        sa.Column("license", sa.String(64), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("creator_id", sa.String(64), nullable=False, index=True),
        sa.Column("creator_wallet", sa.String(42), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("stats", sa.JSON, nullable=False),
        sa.Column("preview", sa.JSON, nullable=False),
        sa.Column("content_cid", sa.String(100), nullable=False),
        sa.Column("metadata_cid", sa.String(100), nullable=False),
        sa.Column("header", sa.String(64), nullable=False),
        sa.Column("master_id", sa.String(64), nullable=False),
        sa.Column("wrapped_key", sa.String(200), nullable=False),
        sa.Column("chain_id", sa.BigInteger, nullable=True),
        sa.Column("token_id", sa.BigInteger, nullable=True, index=True),
        sa.Column("listed", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "wallets",
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wallets")
    op.drop_table("datasets")

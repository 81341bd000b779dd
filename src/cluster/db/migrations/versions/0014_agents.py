"""agents Cluster manages: ERC-8004 identity, custodial wallet (the key wrapped), registration fields

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("identity_registry", sa.String(42), nullable=False),
        sa.Column("agent_id", sa.BigInteger, nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("services", sa.JSON, nullable=False),
        sa.Column("x402_support", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("wallet", sa.String(42), nullable=False, index=True),
        sa.Column("wallet_master", sa.String(64), nullable=False),
        sa.Column("wallet_key", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("chain_id", "identity_registry", "agent_id"),
    )


def downgrade() -> None:
    op.drop_table("agents")

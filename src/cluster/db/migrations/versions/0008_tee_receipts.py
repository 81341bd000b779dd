"""receipts of confidential (TEE) responses and the attestations they were verified against

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tee_attestations",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("bundle", sa.JSON, nullable=False),
    )
    op.create_table(
        "tee_receipts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True, index=True),
        sa.Column("attestation_digest", sa.String(64), nullable=False, index=True),
        sa.Column("body", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tee_receipts")
    op.drop_table("tee_attestations")

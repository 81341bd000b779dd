"""usage in every modality's unit: characters (speech), seconds of audio, images, searches (rerank)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_UNITS = ("characters", "seconds", "images", "searches")


def upgrade() -> None:
    for table, kind in (("request_log", sa.Integer), ("usage_daily", sa.BigInteger)):
        with op.batch_alter_table(table) as batch:
            for unit in _UNITS:
                batch.add_column(sa.Column(unit, kind, nullable=False, server_default="0"))


def downgrade() -> None:
    for table in ("request_log", "usage_daily"):
        with op.batch_alter_table(table) as batch:
            for unit in reversed(_UNITS):
                batch.drop_column(unit)

"""Alembic environment: runs on the connection handed over by ``cluster.db.migrate.upgrade``."""

from alembic import context

from cluster.auth import models as _auth_models  # noqa: F401  (registers tables)
from cluster.billing import models as _billing_models  # noqa: F401
from cluster.db.base import Base
from cluster.metering import models as _metering_models  # noqa: F401

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
context.run_migrations()

"""Alembic environment: runs on the connection handed over by ``cluster.db.migrate.upgrade``.

Migrations are written by hand (``versions/``), so no model metadata is loaded here: the database layer imports
no domain (the import contract in ``make lint`` holds that).
"""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=connection.dialect.name == "sqlite")
context.run_migrations()

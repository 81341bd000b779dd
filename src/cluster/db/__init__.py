"""The relational store: one async engine (SQLite in the data dir, or PostgreSQL), Alembic migrations."""

from cluster.db.base import Base
from cluster.db.engine import make_engine
from cluster.db.migrate import upgrade

__all__ = ["Base", "make_engine", "upgrade"]

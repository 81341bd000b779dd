"""The database, assembled: one async engine at the schema's head, disposed when the service stops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.db.engine import make_engine
from cluster.db.migrate import upgrade
from cluster.settings import Settings


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[AsyncEngine]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()

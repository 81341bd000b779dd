"""The metering domain, assembled: the request-log writer, which writes what is queued before it stops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.metering.writer import RequestLogWriter
from cluster.settings import Settings


@asynccontextmanager
async def running(settings: Settings, engine: AsyncEngine) -> AsyncIterator[RequestLogWriter]:
    writer = RequestLogWriter(engine, settings.request_log, settings.data_dir / "request-log-spool")
    writer.start()
    try:
        yield writer
    finally:
        await writer.stop()

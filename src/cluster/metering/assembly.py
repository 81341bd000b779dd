"""The metering domain, assembled: the request-log writer (which writes what is queued before it stops) and the
metrics every record is counted in (``writer.metrics``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.metering.metrics import Metrics
from cluster.metering.writer import RequestLogWriter
from cluster.settings import Settings


@asynccontextmanager
async def running(settings: Settings, engine: AsyncEngine) -> AsyncIterator[RequestLogWriter]:
    writer = RequestLogWriter(engine, settings.request_log, settings.data_dir / "request-log-spool", Metrics())
    writer.metrics.live(writer.gauges)
    writer.start()
    try:
        yield writer
    finally:
        await writer.stop()

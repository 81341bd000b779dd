"""Request-log rows leave the request path through an in-memory queue; one task writes them in batches
(one multi-row INSERT per ``batch_size`` rows or ``flush_interval`` seconds, whichever comes first)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.metering.models import RequestLog
from cluster.metering.records import RequestRecord
from cluster.settings import RequestLogSettings

log = logging.getLogger(__name__)


class RequestLogWriter:
    def __init__(self, engine: AsyncEngine, settings: RequestLogSettings) -> None:
        self._engine = engine
        self._settings = settings
        self._queue: asyncio.Queue[RequestRecord] = asyncio.Queue(maxsize=settings.max_pending)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.written = 0

    def record(self, record: RequestRecord) -> None:
        """Never blocks and never raises: a full queue (database down for long) drops and counts."""
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="request-log-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Write everything queued so far."""
        while not self._queue.empty():
            await self._write(self._take(self._settings.batch_size))

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            await asyncio.sleep(self._settings.flush_interval)
            await self._write([first, *self._take(self._settings.batch_size - 1)])
            while self._queue.qsize() >= self._settings.batch_size:  # keep up under load
                await self._write(self._take(self._settings.batch_size))

    def _take(self, limit: int) -> list[RequestRecord]:
        batch: list[RequestRecord] = []
        while len(batch) < limit and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _write(self, batch: list[RequestRecord]) -> None:
        if not batch:
            return
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(RequestLog), [record.row() for record in batch])
            self.written += len(batch)
        except SQLAlchemyError:
            log.exception("request log: dropped a batch of %d rows", len(batch))
            self.dropped += len(batch)

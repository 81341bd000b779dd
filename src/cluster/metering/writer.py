"""Request-log rows leave the request path through an in-memory queue; one task writes them in batches
(one multi-row INSERT per ``batch_size`` rows or ``flush_interval`` seconds, whichever comes first)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cluster.metering.models import RequestLog, UsageDaily
from cluster.metering.records import RequestRecord
from cluster.metering.units import QUANTITIES
from cluster.settings import RequestLogSettings

log = logging.getLogger(__name__)


class _Marker:
    """Queued behind records: the writer resolves ``done`` once everything before it is written."""

    def __init__(self, stop: bool) -> None:
        self.stop = stop
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class RequestLogWriter:
    def __init__(self, engine: AsyncEngine, settings: RequestLogSettings) -> None:
        self._engine = engine
        self._settings = settings
        self._queue: asyncio.Queue[RequestRecord | _Marker] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.written = 0

    def record(self, record: RequestRecord) -> None:
        """Never blocks or raises: past ``max_pending`` rows (database down for long) it drops and counts."""
        if self._queue.qsize() >= self._settings.max_pending:
            self.dropped += 1
            return
        self._queue.put_nowait(record)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="request-log-writer")

    async def flush(self) -> None:
        """Return once every record queued before this call is written."""
        await self._barrier(stop=False)

    async def stop(self) -> None:
        """Write what is queued, then end the writer task (it is never cancelled mid-batch)."""
        await self._barrier(stop=True)
        self._task = None

    async def _barrier(self, *, stop: bool) -> None:
        if self._task is None or self._task.done():
            while not self._queue.empty():
                batch, _ = self._take(self._settings.batch_size)
                await self._write(batch)
            return
        marker = _Marker(stop)
        self._queue.put_nowait(marker)
        await marker.done

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch: list[RequestRecord] = []
            marker = first if isinstance(first, _Marker) else None
            if marker is None:
                assert isinstance(first, RequestRecord)
                await asyncio.sleep(self._settings.flush_interval)
                batch, marker = self._take(self._settings.batch_size - 1)
                batch.insert(0, first)
            await self._write(batch)
            while marker is None and self._queue.qsize() >= self._settings.batch_size:  # keep up under load
                batch, marker = self._take(self._settings.batch_size)
                await self._write(batch)
            if marker is not None:
                marker.done.set_result(None)
                if marker.stop:
                    return

    def _take(self, limit: int) -> tuple[list[RequestRecord], _Marker | None]:
        batch: list[RequestRecord] = []
        while len(batch) < limit and not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, _Marker):
                return batch, item
            batch.append(item)
        return batch, None

    async def _write(self, batch: list[RequestRecord]) -> None:
        if not batch:
            return
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(RequestLog), [record.row() for record in batch])
                await _roll_up(connection, batch)
            self.written += len(batch)
        except (SQLAlchemyError, OSError, RuntimeError):  # the writer must outlive any database trouble
            log.exception("request log: dropped a batch of %d rows", len(batch))
            self.dropped += len(batch)


_USAGE_SUMS = ("requests", "errors", *QUANTITIES, "cost")


async def _roll_up(connection: AsyncConnection, batch: Iterable[RequestRecord]) -> None:
    """Add the batch to ``usage_daily``: one upsert per (day, key, model), in the request-log transaction, so
    rollups and rows never disagree."""
    sums: dict[tuple[Any, str, str], dict[str, Any]] = {}
    for record in batch:
        key = (record.created_at.date(), record.key_id or "", record.model)
        row = sums.setdefault(
            key,
            {
                "day": key[0],
                "key_id": key[1],
                "model": key[2],
                "user_id": record.user_id or "",
                **dict.fromkeys(_USAGE_SUMS, 0),
            },
        )
        row["requests"] += 1
        row["errors"] += record.status >= 400
        for quantity, count in record.usage.counts().items():
            row[quantity] += count
        row["cost"] += record.cost
    table: Table = UsageDaily.__table__  # type: ignore[assignment]
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "key_id", "model"],
        set_={column: table.c[column] + stmt.excluded[column] for column in _USAGE_SUMS},
    )
    await connection.execute(stmt, list(sums.values()))

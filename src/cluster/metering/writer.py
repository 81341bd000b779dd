"""Request-log rows leave the request path through an in-memory queue; one task writes them in batches
(one multi-row INSERT per ``batch_size`` rows or ``flush_interval`` seconds, whichever comes first).

Nothing is lost to a database outage: royalties and usage analytics are computed from these rows. A batch that
fails is retried (backing off) until it is written; rows are inserted idempotently by request id (a retry after
a commit whose answer was lost writes nothing twice) and rolled up only when inserted. Past ``max_pending`` rows
in memory, or when the process stops with the database still down, rows go to a spool file beside the data
(``<data_dir>/request-log-spool/``), which the writer drains once the database answers, and which the next
process to start drains if this one died first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson
from prometheus_client.core import Metric
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cluster.db.errors import unreachable
from cluster.metering.metrics import Metrics, gauge
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


RETRY_FIRST, RETRY_MAX = 0.2, 5.0  # seconds between attempts at a failed batch, doubling
INSERT_TIMEOUT = 30.0  # seconds one batch may take before the database counts as unreachable
DRAIN_PAUSE = 5.0  # seconds before a drain the database interrupted is tried again
REJECTED = "rejected.jsonl"  # rows the database refused for themselves, for an operator to look at


class RequestLogWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: RequestLogSettings,
        spool_dir: Path | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``spool_dir``: where rows wait for the database when memory is full or the process stops (None: they
        are dropped and counted); ``metrics``: every record is counted there as it comes."""
        self._engine = engine
        self.metrics = metrics or Metrics()
        self._settings = settings
        self._queue: asyncio.Queue[RequestRecord | _Marker] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._spool_dir = spool_dir
        self._spool: IO[bytes] | None = None
        self._stopping = False
        self._down_at_stop = False
        self._needs_drain = False
        self._next_drain = 0.0
        self.dropped = 0
        self.written = 0
        self.spooled = 0
        self.retries = 0

    def record(self, record: RequestRecord) -> None:
        """Never blocks or raises: past ``max_pending`` rows (the database down for long) rows are spooled."""
        self.metrics.observe(record)
        if self._queue.qsize() >= self._settings.max_pending:
            self._spool_rows([record])
            return
        self._queue.put_nowait(record)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def gauges(self) -> list[Metric]:
        """The queue and what became of its rows (this process's), for ``/metrics``."""
        return [
            gauge("cluster_request_log_pending", "Rows waiting to be written", [], [([], self.pending)]),
            gauge(
                "cluster_request_log_rows",
                "Rows written, spooled to disk, or dropped",
                ["outcome"],
                [(["written"], self.written), (["spooled"], self.spooled), (["dropped"], self.dropped)],
            ),
        ]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="request-log-writer")

    async def flush(self) -> None:
        """Return once every record queued before this call is written."""
        await self._barrier(stop=False)

    async def stop(self) -> None:
        """Write what is queued (or spool it, if the database is down), then end the writer task (it is never
        cancelled mid-batch)."""
        self._stopping = True
        await self._barrier(stop=True)
        self._task = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None

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
        await self._drain()  # what an earlier process left
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
        delay = RETRY_FIRST
        while batch:
            if self._stopping and self._down_at_stop:  # one failed attempt at stop is enough: spool the rest
                self._spool_rows(batch)
                return
            try:
                self.written += await self._insert(batch)
            except _Unreachable as error:
                if self._stopping:
                    log.warning("request log: database unavailable at stop (%s): %d rows spooled", error, len(batch))
                    self._down_at_stop = True
                    self._spool_rows(batch)
                    return
                self.retries += 1
                log.warning("request log: %d rows not written (%s); retrying in %.1fs", len(batch), error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            if self._spool is not None:  # what this process spooled goes in from now on
                self._spool.close()
                self._spool = None
                self._needs_drain = True
            if self._needs_drain and not self._stopping and time.monotonic() >= self._next_drain:
                await self._drain()
            return

    async def _insert(self, batch: list[RequestRecord]) -> int:
        """Insert ``batch`` (once per request id); an outage raises ``_Unreachable``. A row the database refuses
        for itself (not an outage) is set aside in ``rejected.jsonl`` beside the spool, never retried forever."""
        try:
            return await asyncio.wait_for(_insert(self._engine, batch), INSERT_TIMEOUT)
        except Exception as error:  # the writer outlives any trouble; only an outage is retried
            if unreachable(error):
                raise _Unreachable(str(error)) from error
            if len(batch) == 1:
                log.error("request log: the database refuses row %s (%s): set aside", batch[0].id, error)
                self._reject(batch[0])
                return 0
        written = 0
        for record in batch:  # find the row it refuses; the others go in
            written += await self._insert([record])
        return written

    def _reject(self, record: RequestRecord) -> None:
        self.dropped += 1
        if self._spool_dir is None:
            return
        try:
            self._spool_dir.mkdir(parents=True, exist_ok=True)
            with (self._spool_dir / REJECTED).open("ab") as out:
                out.write(orjson.dumps(record.row()) + b"\n")
        except OSError:
            log.exception("request log: row %s could not be set aside", record.id)

    def _spool_rows(self, rows: list[RequestRecord]) -> None:
        if self._spool_dir is None:
            self.dropped += len(rows)
            return
        try:
            if self._spool is None:
                self._spool_dir.mkdir(parents=True, exist_ok=True)
                self._spool = (self._spool_dir / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl").open("ab")
            self._spool.write(b"".join(orjson.dumps(row.row()) + b"\n" for row in rows))
            self._spool.flush()
            self.spooled += len(rows)
        except OSError:
            log.exception("request log: %d rows could not be spooled", len(rows))
            self.dropped += len(rows)

    async def _drain(self) -> None:
        """Write every spooled file that no live process is writing or draining: each is claimed by an atomic
        rename first, so two processes never drain one file; a claim whose process died is taken over. If the
        database goes away meanwhile, the rest waits for the next successful write (at most every
        ``DRAIN_PAUSE`` seconds)."""
        self._needs_drain = False
        if self._spool_dir is None or not self._spool_dir.is_dir():
            return
        for path in sorted(self._spool_dir.iterdir()):
            owner = path.name.split("-", 1)[0].removeprefix("claimed.")
            if path.name == REJECTED or (self._spool is not None and path == Path(self._spool.name)):
                continue  # set aside for an operator / still being written
            if owner.isdigit() and int(owner) != os.getpid() and _alive(int(owner)):
                continue  # another live process's
            claimed = path.with_name(f"claimed.{os.getpid()}-{path.name.split('-', 1)[-1]}")
            try:
                path.rename(claimed)
                rows = await asyncio.to_thread(_read_spool, claimed)  # a long outage makes a big file
            except (OSError, orjson.JSONDecodeError, TypeError, ValueError):
                log.exception("request log: cannot read the spool file %s", path)
                continue
            for start in range(0, len(rows), self._settings.batch_size):
                try:
                    self.written += await self._insert(rows[start : start + self._settings.batch_size])
                except _Unreachable:
                    self._needs_drain, self._next_drain = True, time.monotonic() + DRAIN_PAUSE
                    return  # still down: the claim stays ours, drained after a later successful write
            claimed.unlink()


class _Unreachable(Exception):
    """The database cannot be reached (an outage, not a refusal of these rows)."""


def _read_spool(path: Path) -> list[RequestRecord]:
    return [RequestRecord.from_row(orjson.loads(line)) for line in path.read_bytes().splitlines() if line]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _insert(engine: AsyncEngine, batch: list[RequestRecord]) -> int:
    """Insert the rows not written yet (by request id) and roll up exactly those, in one transaction."""
    table: Table = RequestLog.__table__  # type: ignore[assignment]
    async with engine.begin() as connection:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
        unique = list({record.id: record for record in batch}.values())  # one id twice in a batch: once
        inserted = {row[0] for row in (await connection.execute(statement, [r.row() for r in unique])).all()}
        fresh = [record for record in unique if record.id in inserted]
        if fresh:
            await _roll_up(connection, fresh)
    return len(fresh)


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

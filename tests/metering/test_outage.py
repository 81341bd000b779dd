"""A database outage loses no request-log row (royalties and analytics are computed from them): rows wait in
memory, then in a spool file, and are written exactly once when the database is back. PostgreSQL is reached
through a proxy the test cuts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.db import make_engine, upgrade
from cluster.metering import RequestLogWriter, RequestRecord, Usage
from cluster.metering.models import RequestLog, UsageDaily
from cluster.settings import RequestLogSettings
from tests.support import CuttableProxy


@pytest.fixture
async def proxied(postgres_url: str) -> AsyncIterator[tuple[AsyncEngine, CuttableProxy]]:
    proxy = await CuttableProxy(5432).start()
    engine = make_engine(postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
    await upgrade(engine)
    try:
        yield engine, proxy
    finally:
        await proxy.cut()
        await engine.dispose()


def _rows(prefix: str, count: int) -> list[RequestRecord]:
    return [
        RequestRecord(f"{prefix}{i}", "e", "m", 200, key_id="k", user_id="u", usage=Usage(1, 2)) for i in range(count)
    ]


async def _counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as connection:
        logged = (await connection.execute(select(func.count()).select_from(RequestLog))).scalar_one()
        rolled = (await connection.execute(select(func.sum(UsageDaily.requests)))).scalar_one()
    return int(logged), int(rolled or 0)


async def test_rows_wait_for_the_database_and_are_written_once(
    proxied: tuple[AsyncEngine, CuttableProxy], tmp_path: Path
) -> None:
    engine, proxy = proxied
    writer = RequestLogWriter(engine, RequestLogSettings(flush_interval=0.01, max_pending=10), tmp_path / "spool")
    writer.start()
    await proxy.cut()
    for record in _rows("a", 30):  # 10 wait in memory, 20 go to the spool file
        writer.record(record)
    await asyncio.sleep(0.6)
    assert writer.retries > 0 and writer.spooled == 20
    await proxy.restore()
    await writer.flush()
    for _ in range(50):  # the spool is drained after the first write that succeeds
        if writer.written == 30:
            break
        await asyncio.sleep(0.1)
    await writer.stop()
    assert (writer.written, writer.dropped) == (30, 0)
    assert await _counts(engine) == (30, 30)
    assert list((tmp_path / "spool").iterdir()) == []


async def test_a_process_stopping_during_an_outage_spools_and_the_next_one_writes(
    proxied: tuple[AsyncEngine, CuttableProxy], tmp_path: Path
) -> None:
    engine, proxy = proxied
    first = RequestLogWriter(engine, RequestLogSettings(flush_interval=0.01), tmp_path / "spool")
    first.start()
    for record in _rows("b", 5):
        first.record(record)
    await first.flush()
    await proxy.cut()
    for record in _rows("c", 7):
        first.record(record)
    await asyncio.sleep(0.3)
    await first.stop()  # the database is still down: the 7 go to the spool, nothing is dropped
    assert (first.written, first.spooled, first.dropped) == (5, 7, 0)
    await proxy.restore()
    second = RequestLogWriter(engine, RequestLogSettings(flush_interval=0.01), tmp_path / "spool")
    second.start()
    await second.flush()
    await second.stop()
    assert second.written == 7
    assert await _counts(engine) == (12, 12)
    again = RequestLogWriter(engine, RequestLogSettings(flush_interval=0.01), tmp_path / "spool")
    again.start()
    for record in _rows("c", 7):  # the same request ids again (a retry after a lost commit): nothing twice
        again.record(record)
    await again.stop()
    assert again.written == 0 and await _counts(engine) == (12, 12)


async def test_a_row_the_database_refuses_is_set_aside_and_blocks_nothing(
    proxied: tuple[AsyncEngine, CuttableProxy], tmp_path: Path
) -> None:
    engine, _ = proxied
    writer = RequestLogWriter(engine, RequestLogSettings(flush_interval=0.01), tmp_path / "spool")
    writer.start()
    rows = _rows("d", 5)
    rows[2].status = 2**40  # out of the column's range: PostgreSQL refuses this row, for good
    for record in [*rows, *_rows("d", 2)]:  # and one id twice in a batch: counted once
        writer.record(record)
    await writer.flush()
    for record in _rows("e", 3):  # the writer goes on
        writer.record(record)
    await writer.stop()
    assert (writer.written, writer.dropped) == (7, 1)
    assert await _counts(engine) == (7, 7)
    assert b'"id":"d2"' in (tmp_path / "spool" / "rejected.jsonl").read_bytes()


async def test_a_drain_the_database_interrupts_is_finished_later(
    proxied: tuple[AsyncEngine, CuttableProxy], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cluster.metering import writer as module

    engine, proxy = proxied
    stopped = RequestLogWriter(engine, RequestLogSettings(flush_interval=0.01), tmp_path / "spool")
    stopped.start()
    await proxy.cut()
    for record in _rows("f", 4):
        stopped.record(record)
    await stopped.stop()  # spooled: the database is down
    monkeypatch.setattr(module, "DRAIN_PAUSE", 0.0)
    writer = RequestLogWriter(engine, RequestLogSettings(flush_interval=0.01), tmp_path / "spool")
    writer.start()  # its first drain meets the outage
    await asyncio.sleep(0.3)
    await proxy.restore()
    writer.record(_rows("g", 1)[0])  # a later successful write drains what waited
    await writer.flush()
    await writer.stop()
    assert await _counts(engine) == (5, 5)
    assert [p.name for p in (tmp_path / "spool").iterdir()] == []

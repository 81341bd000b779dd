"""The request log and the daily rollups keep every usage quantity, each in its own column."""

import asyncio
from pathlib import Path

from sqlalchemy import select

from cluster.db import make_engine, upgrade
from cluster.metering import RequestLogWriter, RequestRecord, Usage
from cluster.metering.models import RequestLog, UsageDaily
from cluster.settings import RequestLogSettings


async def test_every_quantity_is_logged_and_rolled_up(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    await upgrade(engine)
    writer = RequestLogWriter(engine, RequestLogSettings(flush_interval=0.01))
    writer.start()
    try:
        for i, usage in enumerate([Usage(characters=120), Usage(seconds=7), Usage(images=2), Usage(1, 2, searches=3)]):
            writer.record(RequestRecord(f"r{i}", "e", "m", 200, key_id="k", user_id="u", usage=usage))
        await asyncio.sleep(0.05)
        await writer.stop()
        async with engine.connect() as connection:
            logged = (await connection.execute(select(RequestLog).order_by(RequestLog.id))).all()
            daily = (await connection.execute(select(UsageDaily))).one()
    finally:
        await engine.dispose()
    assert [(r.characters, r.seconds, r.images, r.searches) for r in logged] == [
        (120, 0, 0, 0),
        (0, 7, 0, 0),
        (0, 0, 2, 0),
        (0, 0, 0, 3),
    ]
    assert (daily.requests, daily.prompt_tokens, daily.completion_tokens) == (4, 1, 2)
    assert (daily.characters, daily.seconds, daily.images, daily.searches) == (120, 7, 2, 3)

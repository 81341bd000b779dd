"""Cursor pages over rows created in the same instant: every row once, in a stable order (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from cluster.db import make_engine, upgrade
from cluster.db.pages import newest_first
from cluster.finetune.models import FileRow


async def test_rows_of_one_instant_are_paged_once_each(database_url: str) -> None:
    engine = make_engine(database_url)
    await upgrade(engine)
    instant = datetime(2026, 12, 1, tzinfo=UTC)
    row = {"user_id": "u", "purpose": "fine-tune", "filename": "f", "bytes": 1, "sha256": "0" * 64, "lines": 1}
    ids = [f"file-{n:02}" for n in range(7)]
    async with engine.begin() as connection:
        await connection.execute(insert(FileRow), [{**row, "id": i, "created_at": instant} for i in ids])
    seen: list[str] = []
    after: str | None = None
    async with engine.connect() as connection:
        while True:
            query = newest_first(select(FileRow.id), FileRow.created_at, FileRow.id, after)
            page = list((await connection.execute(query.limit(3))).scalars())
            seen += page
            if len(page) < 3:
                break
            after = page[-1]
    await engine.dispose()
    assert seen == sorted(ids, reverse=True)

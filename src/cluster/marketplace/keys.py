"""Master-key rotation: every dataset key re-wrapped under the current master key (after a new one was added to
``storage.master_keys``). It needs the database and the keys only, not the chain: an operator runs it with
``cluster admin rotate-keys`` on any server."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.marketplace.models import DatasetRow
from cluster.storage.encryption import KeyWrapper


async def rewrap_keys(engine: AsyncEngine, keys: KeyWrapper) -> int:
    """Returns how many keys moved. The content is untouched: only the small wrapped keys change, each in its
    own transaction, guarded by the master key it was read under (a concurrent rotation moves it once)."""
    async with engine.connect() as connection:
        rows = (await connection.execute(select(DatasetRow.id, DatasetRow.master_id, DatasetRow.wrapped_key))).all()
    moved = 0
    for dataset_id, master_id, wrapped in rows:
        if master_id == keys.current:
            continue
        key = keys.unwrap(master_id, bytes.fromhex(wrapped), dataset_id)
        new_master, rewrapped = keys.wrap(key, dataset_id)
        async with engine.begin() as connection:
            await connection.execute(
                update(DatasetRow)
                .where(DatasetRow.id == dataset_id, DatasetRow.master_id == master_id)
                .values(master_id=new_master, wrapped_key=rewrapped.hex())
            )
        moved += 1
    return moved

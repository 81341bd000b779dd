"""A dataset's sealed content, read and written a piece at a time: the upload's chunks on the way in, the
requested byte range decrypted segment by segment on the way out (in a worker thread, off the event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from cluster.marketplace.models import DatasetRow
from cluster.storage.blockstore import Blockstore, read_range
from cluster.storage.cid import CID
from cluster.storage.encryption import decrypt_segments, segment_span

READ_PIECE = 1 << 20


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while piece := handle.read(READ_PIECE):
            yield piece


def plaintext(store: Blockstore, row: DatasetRow, key: bytes, start: int, end: int) -> Iterator[bytes]:
    if end <= start:
        return
    header = bytes.fromhex(row.header)
    first, lo, hi = segment_span(header, row.size, start, end)
    segment_size = int.from_bytes(header[4:8], "big")
    skip, remaining = start - first * segment_size, end - start
    sealed = read_range(store, CID.parse(row.content_cid), lo, hi)
    for plain in decrypt_segments(key, header, sealed, first=first, plain_size=row.size):
        piece = plain[skip : skip + remaining]
        skip = max(0, skip - len(plain))
        remaining -= len(piece)
        if piece:
            yield piece
        if remaining <= 0:
            return


async def in_thread(make: Any) -> AsyncIterator[bytes]:
    """Drive a blocking byte iterator (block reads + decryption) from a worker thread, a piece at a time."""
    iterator = await asyncio.to_thread(make)
    done = object()
    while True:
        piece = await asyncio.to_thread(next, iterator, done)
        if piece is done:
            return
        yield piece  # type: ignore[misc]

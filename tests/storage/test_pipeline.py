"""The upload pipeline: one pass to encrypted, content-addressed blocks; the bytes come back exactly; the
stored blocks hold no plaintext; a failed upload leaves nothing behind."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.storage.blockstore import FileBlockstore, read_range
from cluster.storage.encryption import HEADER, decrypt_segments, new_key, segment_span
from cluster.storage.pipeline import store_encrypted


def pieces(data: bytes, size: int = 300_001) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def download(store: FileBlockstore, stored, key: bytes, start: int = 0, end: int | None = None) -> bytes:  # type: ignore[no-untyped-def]
    end = stored.size if end is None else end
    first, lo, hi = segment_span(stored.header, stored.size, start, end)
    plain = b"".join(
        decrypt_segments(key, stored.header, read_range(store, stored.cid, lo, hi), first=first, plain_size=stored.size)
    )
    skip = start - first * 64 * 1024
    return plain[skip : skip + end - start]


def test_round_trip_by_range_with_no_plaintext_at_rest(tmp_path: Path) -> None:
    store, key = FileBlockstore(tmp_path / "blocks"), new_key()
    text = b"".join(f'{{"id": {i}, "text": "sensitive row {i} of the dataset"}}\n'.encode() for i in range(60_000))
    stored = store_encrypted(pieces(text), store, key)
    assert (stored.size, stored.sha256) == (len(text), hashlib.sha256(text).hexdigest())
    assert download(store, stored, key) == text
    assert download(store, stored, key, 1_000_000, 1_300_000) == text[1_000_000:1_300_000]
    assert b"".join(read_range(store, stored.cid, 0, HEADER)) == stored.header
    at_rest = b"".join(path.read_bytes() for path in (tmp_path / "blocks").rglob("*") if path.is_file())
    assert len(at_rest) >= stored.stored_size
    for window in range(0, len(text) - 24, 4099):
        assert text[window : window + 24] not in at_rest


def test_a_failed_upload_leaves_no_blocks(tmp_path: Path) -> None:
    store = FileBlockstore(tmp_path / "blocks")

    def broken() -> Iterator[bytes]:
        yield os.urandom(3_000_000)
        raise OSError("client went away")

    with pytest.raises(OSError, match="went away"):
        store_encrypted(broken(), store, new_key())
    assert [p for p in (tmp_path / "blocks").rglob("*") if p.is_file()] == []

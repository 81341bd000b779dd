"""The dataset upload pipeline's throughput, in one run: a 200 MB file through sha256 + AES-256-GCM (CDE1) +
UnixFS chunking and CIDs + the embedded file blockstore, and each stage alone, so the bound is visible.

    .venv/bin/python bench/datasets.py [--mb 200]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cluster.storage.blockstore import FileBlockstore
from cluster.storage.encryption import Encryptor, new_key
from cluster.storage.pipeline import store_encrypted
from cluster.storage.unixfs import UnixfsBuilder

PIECE = 1 << 20


def rate(mb: int, job: Callable[[], object]) -> float:
    start = time.perf_counter()
    job()
    return mb / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    pieces = [os.urandom(PIECE) for _ in range(args.mb)]
    key = new_key()

    def sha() -> None:
        digest = hashlib.sha256()
        for piece in pieces:
            digest.update(piece)

    def encrypt() -> None:
        encryptor = Encryptor(key)
        for piece in pieces:
            encryptor.write(piece)
        encryptor.finish()

    def cids() -> None:
        builder = UnixfsBuilder(lambda cid, block: True)
        for piece in pieces:
            builder.write(piece)
        builder.finish()

    with tempfile.TemporaryDirectory() as tmp:
        store = FileBlockstore(Path(tmp) / "blocks")

        def write() -> None:
            builder = UnixfsBuilder(store.put)
            for piece in pieces:
                builder.write(piece)
            builder.finish()

        stages = {
            "sha256 of the plaintext": rate(args.mb, sha),
            "AES-256-GCM (CDE1, 64 KiB segments)": rate(args.mb, encrypt),
            "UnixFS chunking + CIDs (sha256 per block)": rate(args.mb, cids),
            "UnixFS + writing blocks to the file store": rate(args.mb, write),
        }
        store2 = FileBlockstore(Path(tmp) / "blocks2")
        whole = rate(args.mb, lambda: store_encrypted(iter(pieces), store2, key))
    print(f"upload pipeline on {args.mb} MB, one thread (MB/s):")
    for name, value in stages.items():
        print(f"  {name:45} {value:8.0f}")
    print(f"  {'whole pipeline (all of the above, one pass)':45} {whole:8.0f}")


if __name__ == "__main__":
    main()

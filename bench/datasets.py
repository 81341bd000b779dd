"""The dataset upload pipeline's throughput, in one run: a 200 MB file through sha256 + AES-256-GCM (CDE1) +
UnixFS chunking and CIDs + the embedded file blockstore, and each stage alone, so the bound is visible.

    .venv/bin/python bench/datasets.py [--mb 200]

Then the latency from a 10 MB file to a minted, listed dataset on the embedded dev chain.
"""

from __future__ import annotations

import argparse
import asyncio
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
    seconds = asyncio.run(upload_to_minted())
    print(f"upload -> minted and listed, 10 MB JSONL, embedded dev chain: {seconds * 1000:.0f} ms")


async def upload_to_minted(mb: int = 10) -> float:
    """Seconds from a 10 MB JSONL file on disk to a minted, listed dataset (in-process service, embedded dev
    chain, SQLite): validation + stats, the pipeline, the metadata CID, the mint transaction, the listing row."""
    import json as _json
    import socket

    from cluster.chain.devchain import dev_address
    from cluster.marketplace.protocol import DatasetCreate
    from cluster.services import Services
    from cluster.settings import Settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = Settings(
            data_dir=folder, local={"enabled": False}, chain={"dev": {"port": port, "state_interval": 3600}}
        )  # type: ignore[arg-type]
        async with Services.running(settings) as services:
            _, key = await services.auth.init_admin("bench")
            caller = await services.auth.authenticate(f"Bearer {key.key}")
            source = folder / "rows.jsonl"
            with source.open("wb") as out:
                row = 0
                while out.tell() < mb * 1_000_000:
                    out.write(_json.dumps({"id": row, "text": f"row {row} " * 8}).encode() + b"\n")
                    row += 1
            assert services.marketplace is not None
            fields = DatasetCreate(
                name="Bench", slug="bench-rows", price=1_000_000, category="nlp", wallet=dev_address(2)
            )
            start = time.perf_counter()
            await services.marketplace.create(caller, source, "rows.jsonl", fields)
            return time.perf_counter() - start


if __name__ == "__main__":
    main()

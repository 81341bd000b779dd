"""The upload pipeline: plaintext in → sha256 of the plaintext, CDE1 encryption, UnixFS chunking and CIDs,
blocks into a store — one pass, constant memory. CPU-bound: run it in a worker thread, never on the loop.

If the source fails midway, the blocks this upload added are deleted again, so nothing is left half-stored
(blocks that were already there, shared by content addressing with other data, are kept)."""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from cluster.storage.blockstore import Blockstore
from cluster.storage.cid import CID
from cluster.storage.encryption import HEADER, Encryptor
from cluster.storage.unixfs import UnixfsBuilder


@dataclass(frozen=True)
class Stored:
    cid: CID  # of the encrypted payload
    size: int  # plaintext bytes
    stored_size: int  # encrypted bytes
    sha256: str  # of the plaintext
    header: bytes  # the CDE1 header (its nonce prefix), needed to decrypt ranges
    added: tuple[CID, ...] = ()  # blocks this upload created (to remove if a later step fails)


def store_encrypted(source: Iterable[bytes], store: Blockstore, key: bytes) -> Stored:
    added: list[CID] = []
    writes: queue.Queue[tuple[CID, bytes] | None] = queue.Queue(maxsize=64)  # 16 MiB in flight at most
    failure: list[BaseException] = []

    def writer() -> None:  # block writes overlap hashing and encryption (file I/O releases the GIL)
        while (item := writes.get()) is not None:
            try:
                if not failure and store.put(*item):
                    added.append(item[0])
            except BaseException as error:
                failure.append(error)

    def put(cid: CID, block: bytes) -> None:
        if failure:
            raise failure[0]
        writes.put((cid, block))

    thread = threading.Thread(target=writer, name="blockstore-writer", daemon=True)
    thread.start()
    digest, encryptor, builder = hashlib.sha256(), Encryptor(key), UnixfsBuilder(put)
    size = stored = 0
    try:
        for piece in source:
            digest.update(piece)
            size += len(piece)
            sealed = encryptor.write(piece)
            stored += len(sealed)
            builder.write(sealed)
        tail = encryptor.finish()
        stored += len(tail)
        builder.write(tail)
        root = builder.finish()
        writes.put(None)
        thread.join()
        if failure:
            raise failure[0]
    except BaseException:
        writes.put(None)
        thread.join()
        for cid in added:
            store.delete(cid)
        raise
    assert len(encryptor.header) == HEADER
    return Stored(root.cid, size, stored, digest.hexdigest(), encryptor.header, tuple(added))

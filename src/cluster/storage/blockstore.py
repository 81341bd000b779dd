"""Where blocks live. ``Blockstore`` is the interface; ``FileBlockstore`` is the embedded default (one file per
block under the data dir, written atomically). Reading a file back walks its UnixFS DAG, fetching only the
leaves a byte range needs."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from cluster.storage.cid import CID, DAG_PB
from cluster.storage.unixfs import parse_links


class BlockNotFound(KeyError):
    pass


class Blockstore(Protocol):
    def put(self, cid: CID, block: bytes) -> bool:
        """Store a block; False if it was already there."""

    def get(self, cid: CID) -> bytes: ...

    def has(self, cid: CID) -> bool: ...

    def delete(self, cid: CID) -> None: ...

    def close(self) -> None:
        """Release what the store holds open (a connection pool)."""


class FileBlockstore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._dirs: set[str] = set()

    def close(self) -> None:
        """Nothing is held open between calls."""

    def _path(self, cid: CID) -> Path:
        name = str(cid)
        return self.root / name[-2:] / name

    def put(self, cid: CID, block: bytes) -> bool:
        name = str(cid)
        folder = os.path.join(self.root, name[-2:])
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return False
        if folder not in self._dirs:
            os.makedirs(folder, exist_ok=True)
            self._dirs.add(folder)
        # Written under a temporary name and renamed: a crash never leaves a block with the wrong bytes.
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, block)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return True

    def get(self, cid: CID) -> bytes:
        try:
            return self._path(cid).read_bytes()
        except FileNotFoundError:
            raise BlockNotFound(str(cid)) from None

    def has(self, cid: CID) -> bool:
        return self._path(cid).exists()

    def delete(self, cid: CID) -> None:
        self._path(cid).unlink(missing_ok=True)


def read_range(store: Blockstore, root: CID, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Bytes [start, end) of the file at ``root``, leaf by leaf, fetching only the leaves that overlap."""
    block = store.get(root)
    if root.codec != DAG_PB:
        yield block[start:end]
        return
    offset = 0
    for child, size in parse_links(block):
        child_end = offset + size
        if end is not None and offset >= end:
            return
        if child_end > start:
            inner_end = None if end is None or end >= child_end else end - offset
            yield from read_range(store, child, max(0, start - offset), inner_end)
        offset = child_end


class KuboBlockstore:
    """Blocks in a kubo node, over its HTTP RPC (``/api/v0/block/put|get|stat|rm``). Blocks, not ``add``: the
    DAG is built here, so the CIDs are ours by construction, and kubo's answer to each put is checked against
    them (a node that hashed differently would be refused). Pinned on put so the node's GC keeps them."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        import httpx

        self._url = url.rstrip("/") + "/api/v0"
        self._http = httpx.Client(timeout=timeout)

    def put(self, cid: CID, block: bytes) -> bool:
        if self.has(cid):
            return False
        codec = "raw" if cid.codec != DAG_PB else "dag-pb"
        response = self._http.post(
            f"{self._url}/block/put",
            params={"cid-codec": codec, "mhtype": "sha2-256", "pin": "true"},
            files={"data": ("block", block)},
        )
        response.raise_for_status()
        key = response.json().get("Key")
        if key != str(cid):
            raise ValueError(f"kubo stored the block as {key}, expected {cid}")
        return True

    def get(self, cid: CID) -> bytes:
        response = self._http.post(f"{self._url}/block/get", params={"arg": str(cid)})
        if response.status_code != 200:
            raise BlockNotFound(str(cid))
        return response.content

    def has(self, cid: CID) -> bool:
        response = self._http.post(f"{self._url}/block/stat", params={"arg": str(cid), "offline": "true"})
        return response.status_code == 200

    def delete(self, cid: CID) -> None:
        self._http.post(f"{self._url}/pin/rm", params={"arg": str(cid), "recursive": "false"})
        self._http.post(f"{self._url}/block/rm", params={"arg": str(cid), "force": "true"})

    def close(self) -> None:
        self._http.close()

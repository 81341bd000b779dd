"""A file as a UnixFS DAG, built exactly as ``ipfs add --cid-version 1`` does with kubo's defaults: 256 KiB
fixed-size chunks as raw leaves, a balanced tree of dag-pb nodes with at most 174 links, and a one-chunk file
reduced to its raw leaf. No Python library builds this DAG; ``tests/storage/test_unixfs.py`` checks the root
CID against the npm reference importer configured like kubo.

Streaming: leaves are emitted to ``put`` as the bytes arrive (never more than one chunk in memory); the
tree above them (a few dozen bytes per 256 KiB) is built at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cluster.storage.cid import CID, DAG_PB, RAW, read_varint, varint

CHUNK_SIZE = 256 * 1024
MAX_LINKS = 174
_FILE = 2  # UnixFS Data.Type File


@dataclass(frozen=True)
class Node:
    cid: CID
    file_size: int  # bytes of the file under this node
    dag_size: int  # encoded bytes of this node and everything under it (the link's Tsize)


class UnixfsBuilder:
    """Feed bytes with ``write``; ``finish`` returns the root. Every block goes to ``put(cid, block)``."""

    def __init__(self, put: Callable[[CID, bytes], None], chunk_size: int = CHUNK_SIZE) -> None:
        self._put = put
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._leaves: list[Node] = []

    def write(self, data: bytes | memoryview) -> None:
        self._buffer += data
        size = self._chunk_size
        if len(self._buffer) >= size:
            view = memoryview(self._buffer)
            full = len(self._buffer) - len(self._buffer) % size
            for start in range(0, full, size):
                self._leaf(bytes(view[start : start + size]))
            view.release()
            del self._buffer[:full]

    def finish(self) -> Node:
        if self._buffer or not self._leaves:
            self._leaf(bytes(self._buffer))
            self._buffer.clear()
        if len(self._leaves) == 1:
            return self._leaves[0]  # one chunk: the raw leaf is the file
        level = self._leaves
        while len(level) > 1:
            level = [self._parent(level[i : i + MAX_LINKS]) for i in range(0, len(level), MAX_LINKS)]
        return level[0]

    def _leaf(self, chunk: bytes) -> None:
        cid = CID.of(RAW, chunk)
        self._put(cid, chunk)
        self._leaves.append(Node(cid, len(chunk), len(chunk)))

    def _parent(self, children: list[Node]) -> Node:
        data = _unixfs_file(sum(c.file_size for c in children), [c.file_size for c in children])
        block = b"".join(_field(2, _link(child)) for child in children) + _field(1, data)
        cid = CID.of(DAG_PB, block)
        self._put(cid, block)
        return Node(cid, sum(c.file_size for c in children), len(block) + sum(c.dag_size for c in children))


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _uint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def _link(child: Node) -> bytes:
    # PBLink: Hash, Name (empty, but present, as kubo and the JS importer write it), Tsize
    return _field(1, child.cid.binary) + _field(2, b"") + _uint(3, child.dag_size)


def _unixfs_file(file_size: int, block_sizes: list[int]) -> bytes:
    return _uint(1, _FILE) + _uint(3, file_size) + b"".join(_uint(4, size) for size in block_sizes)


def parse_links(block: bytes) -> list[tuple[CID, int]]:
    """The (child CID, child file size) list of a dag-pb file node, in order (for reading ranges back)."""
    links: list[CID] = []
    sizes: list[int] = []
    offset = 0
    while offset < len(block):
        tag, offset = read_varint(block, offset)
        length, offset = read_varint(block, offset)
        payload = block[offset : offset + length]
        offset += length
        if tag == (2 << 3 | 2):
            links.append(_link_cid(payload))
        elif tag == (1 << 3 | 2):
            sizes = _block_sizes(payload)
    return list(zip(links, sizes, strict=True))


def _link_cid(link: bytes) -> CID:
    tag, offset = read_varint(link)
    length, offset = read_varint(link, offset)
    assert tag == (1 << 3 | 2)
    return CID.decode(link[offset : offset + length])


def _block_sizes(data: bytes) -> list[int]:
    sizes, offset = [], 0
    while offset < len(data):
        tag, offset = read_varint(data, offset)
        value, offset = read_varint(data, offset)
        if tag == (4 << 3):
            sizes.append(value)
    return sizes

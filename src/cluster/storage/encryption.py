"""Datasets are encrypted before they are stored, so a CID alone reveals nothing.

Format ``CDE1`` (streamed, seekable): a 16-byte header (magic, segment size, random 8-byte nonce prefix), then
the plaintext in segments of ``segment_size`` bytes, each sealed with AES-256-GCM under the dataset's own key:
nonce = prefix ‖ segment index, associated data = header ‖ index ‖ final flag. Reordering, dropping or
truncating segments fails authentication (the last one is marked final; an empty file still has one). A byte
range of the plaintext maps to whole segments, so downloads can start anywhere.

Dataset keys are wrapped (AES-256-GCM, bound to the dataset id) by a master key that the operator configures
and can rotate: the wrapped key records which master key wrapped it.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CDE1"
HEADER = 16
TAG = 16
SEGMENT = 64 * 1024


class DecryptionError(ValueError):
    """The ciphertext was altered, truncated, or the key is wrong."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">QB", index, final)


def _nonce(header: bytes, index: int) -> bytes:
    return header[8:16] + struct.pack(">I", index)


class Encryptor:
    """Feed plaintext with ``write`` (returns ciphertext ready so far); ``finish`` returns the rest."""

    def __init__(self, key: bytes, segment_size: int = SEGMENT) -> None:
        self._aead = AESGCM(key)
        self._segment = segment_size
        self.header = MAGIC + struct.pack(">I", segment_size) + os.urandom(8)
        self._pending = bytearray()
        self._index = 0
        self._started = False

    def write(self, data: bytes | memoryview) -> bytes:
        out = [] if self._started else [self.header]
        self._started = True
        buffer = bytes(self._pending) + bytes(data) if self._pending else data
        view, position, size = memoryview(buffer), 0, self._segment
        # Keep at least one byte back: the final segment is sealed differently, and only finish() knows it.
        while len(view) - position > size:
            out.append(self._seal(view[position : position + size], final=False))
            position += size
        self._pending = bytearray(view[position:])
        return b"".join(out)

    def finish(self) -> bytes:
        head = b"" if self._started else self.header
        self._started = True
        tail = self._seal(bytes(self._pending), final=True)
        self._pending.clear()
        return head + tail

    def _seal(self, plaintext: bytes | memoryview, *, final: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self.header, self._index), plaintext, _aad(self.header, self._index, final))
        self._index += 1
        return sealed


def encrypted_size(plain_size: int, segment_size: int = SEGMENT) -> int:
    segments = max(1, -(-plain_size // segment_size))
    return HEADER + plain_size + segments * TAG


def segment_span(header: bytes, plain_size: int, start: int, end: int) -> tuple[int, int, int]:
    """For plaintext bytes [start, end): (first segment, encrypted offset of it, encrypted end offset)."""
    segment_size: int = struct.unpack(">I", header[4:8])[0]
    first = start // segment_size
    last = max(first, (max(end, 1) - 1) // segment_size)
    sealed = segment_size + TAG
    total = encrypted_size(plain_size, segment_size)
    return first, HEADER + first * sealed, min(total, HEADER + (last + 1) * sealed)


def decrypt_segments(
    key: bytes, header: bytes, ciphertext: Iterator[bytes], *, first: int, plain_size: int
) -> Iterator[bytes]:
    """Decrypt the sealed segments from segment ``first`` on, as ``ciphertext`` delivers them; yields each
    segment's plaintext. Stops at the last segment or when the ciphertext ends (which must be on a boundary)."""
    if header[:4] != MAGIC:
        raise DecryptionError("not a CDE1 stream")
    segment_size: int = struct.unpack(">I", header[4:8])[0]
    last = max(0, -(-plain_size // segment_size) - 1)
    aead = AESGCM(key)
    buffer, index = bytearray(), first

    def sealed_length(k: int) -> int:
        return min(segment_size, plain_size - k * segment_size) + TAG

    for piece in ciphertext:
        buffer += piece
        while index <= last and len(buffer) >= sealed_length(index):
            size = sealed_length(index)
            yield _open(aead, header, index, bytes(buffer[:size]), final=index == last)
            del buffer[:size]
            index += 1
        if index > last:
            return
    if buffer:
        raise DecryptionError(f"truncated inside segment {index}")


def _open(aead: AESGCM, header: bytes, index: int, sealed: bytes, *, final: bool) -> bytes:
    try:
        return aead.decrypt(_nonce(header, index), sealed, _aad(header, index, final))
    except InvalidTag as error:
        raise DecryptionError(f"segment {index} failed authentication") from error


class KeyWrapper:
    """Wraps dataset keys under the current master key; unwraps under any known one (rotation)."""

    def __init__(self, masters: dict[str, bytes], current: str) -> None:
        if current not in masters:
            raise ValueError(f"unknown current master key {current!r}")
        self._masters = {kid: AESGCM(key) for kid, key in masters.items()}
        self._keys = dict(masters)
        self.current = current

    def rotated(self, master_id: str, key: bytes) -> KeyWrapper:
        """A wrapper that wraps under a new master key and still opens what the old ones wrapped."""
        return KeyWrapper({**self._keys, master_id: key}, master_id)

    def wrap(self, key: bytes, dataset_id: str) -> tuple[str, bytes]:
        nonce = os.urandom(12)
        return self.current, nonce + self._masters[self.current].encrypt(nonce, key, dataset_id.encode())

    def unwrap(self, master_id: str, wrapped: bytes, dataset_id: str) -> bytes:
        master = self._masters.get(master_id)
        if master is None:
            raise DecryptionError(f"master key {master_id!r} is not configured")
        try:
            return master.decrypt(wrapped[:12], wrapped[12:], dataset_id.encode())
        except InvalidTag as error:
            raise DecryptionError("the wrapped dataset key does not open under its master key") from error

"""CIDv1 and multihash, the small part of multiformats Cluster needs (sha2-256, raw and dag-pb, base32)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

RAW = 0x55
DAG_PB = 0x70
SHA2_256 = 0x12


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data: bytes, offset: int = 0) -> tuple[int, int]:
    """(value, offset after it)."""
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7


@dataclass(frozen=True)
class CID:
    codec: int
    digest: bytes  # sha2-256

    @classmethod
    def of(cls, codec: int, block: bytes) -> CID:
        return cls(codec, hashlib.sha256(block).digest())

    @property
    def binary(self) -> bytes:
        return b"\x01" + varint(self.codec) + bytes([SHA2_256, len(self.digest)]) + self.digest

    def __str__(self) -> str:
        return "b" + base64.b32encode(self.binary).decode().lower().rstrip("=")

    @classmethod
    def parse(cls, text: str) -> CID:
        if not text.startswith("b"):
            raise ValueError(f"not a base32 CIDv1: {text!r}")
        body = text[1:].upper()
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
        return cls.decode(raw)

    @classmethod
    def decode(cls, raw: bytes) -> CID:
        version, offset = read_varint(raw)
        if version != 1:
            raise ValueError("only CIDv1 is supported")
        codec, offset = read_varint(raw, offset)
        code, length = raw[offset], raw[offset + 1]
        if code != SHA2_256 or length != 32:
            raise ValueError("only sha2-256 multihashes are supported")
        return cls(codec, raw[offset + 2 : offset + 34])

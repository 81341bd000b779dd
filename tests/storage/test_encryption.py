"""CDE1: streamed AES-256-GCM segments that decrypt from any segment, and refuse any tampering."""

from __future__ import annotations

import os
import random

import pytest

from cluster.storage.encryption import (
    HEADER,
    DecryptionError,
    Encryptor,
    KeyWrapper,
    decrypt_segments,
    encrypted_size,
    new_key,
    segment_span,
)

SEGMENT = 1024


def encrypt(key: bytes, data: bytes, pieces: int = 7) -> bytes:
    encryptor = Encryptor(key, SEGMENT)
    rng = random.Random(len(data))
    out, offset = [], 0
    while offset < len(data):
        step = rng.randrange(1, 3 * SEGMENT)
        out.append(encryptor.write(data[offset : offset + step]))
        offset += step
    out.append(encryptor.finish())
    return b"".join(out)


def decrypt(key: bytes, sealed: bytes, plain_size: int, start: int = 0, end: int | None = None) -> bytes:
    end = plain_size if end is None else end
    first, lo, hi = segment_span(sealed[:HEADER], plain_size, start, end)
    plain = b"".join(decrypt_segments(key, sealed[:HEADER], iter([sealed[lo:hi]]), first=first, plain_size=plain_size))
    skip = start - first * SEGMENT
    return plain[skip : skip + (end - start)]


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 10 * SEGMENT, 10 * SEGMENT + 17])
def test_round_trip_and_ranges(size: int) -> None:
    key, data = new_key(), os.urandom(size)
    sealed = encrypt(key, data)
    assert len(sealed) == encrypted_size(size, SEGMENT)
    assert decrypt(key, sealed, size) == data
    rng = random.Random(size)
    for _ in range(10):
        start = rng.randrange(size + 1)
        end = rng.randrange(start, size + 1)
        assert decrypt(key, sealed, size, start, end) == data[start:end]


def test_ciphertext_shows_no_plaintext_and_differs_each_time() -> None:
    key, data = new_key(), b"patient record 12345, diagnosis: confidential; " * 500
    sealed = encrypt(key, data)
    for window in range(0, len(data) - 16, 97):
        assert data[window : window + 16] not in sealed
    assert encrypt(key, data) != sealed  # fresh nonce prefix


def test_tampering_truncation_and_wrong_keys_fail() -> None:
    key, data = new_key(), os.urandom(5 * SEGMENT + 3)
    sealed = bytearray(encrypt(key, data))
    with pytest.raises(DecryptionError):
        decrypt(new_key(), bytes(sealed), len(data))
    flipped = bytearray(sealed)
    flipped[HEADER + 10] ^= 1
    with pytest.raises(DecryptionError):
        decrypt(key, bytes(flipped), len(data))
    # Cut after a whole segment and claim that was all: the segment was not sealed as final.
    with pytest.raises(DecryptionError):
        decrypt(key, bytes(sealed[: HEADER + SEGMENT + 16]), SEGMENT)
    # Swap two segments.
    a, b = HEADER, HEADER + SEGMENT + 16
    swapped = sealed[:a] + sealed[b : b + SEGMENT + 16] + sealed[a:b] + sealed[b + SEGMENT + 16 :]
    with pytest.raises(DecryptionError):
        decrypt(key, bytes(swapped), len(data))


def test_keys_are_wrapped_per_dataset_and_survive_master_rotation() -> None:
    old, new = new_key(), new_key()
    wrapper = KeyWrapper({"m1": old}, "m1")
    key = new_key()
    master_id, wrapped = wrapper.wrap(key, "ds_1")
    assert key not in wrapped
    with pytest.raises(DecryptionError):
        wrapper.unwrap(master_id, wrapped, "ds_2")  # bound to its dataset
    rotated = KeyWrapper({"m1": old, "m2": new}, "m2")
    assert rotated.unwrap(master_id, wrapped, "ds_1") == key
    rewrapped = rotated.wrap(key, "ds_1")
    assert rewrapped[0] == "m2" and rotated.unwrap(*rewrapped, "ds_1") == key

"""Step "report_data": the quote binds the provider's signing key and our fresh nonce.

``report_data`` (64 bytes) = signing address (20-byte address or 32-byte ed25519 key), right-padded with zeros
to 32 bytes, followed by the 32-byte nonce. A replayed report carries someone else's nonce and fails here.
"""

from __future__ import annotations

from cluster.tee.errors import VerificationFailed


def expected_report_data(signing_address: str, nonce: bytes) -> bytes:
    key = bytes.fromhex(signing_address.removeprefix("0x"))
    if len(key) not in (20, 32) or len(nonce) != 32:
        raise VerificationFailed("report_data", "a signing key is 20 or 32 bytes and the nonce 32")
    return key.ljust(32, b"\x00") + nonce


def check_binding(report_data: bytes, signing_address: str, nonce: bytes) -> None:
    expected = expected_report_data(signing_address, nonce)
    if report_data[:32] != expected[:32]:
        raise VerificationFailed("report_data", "the quote binds another signing key")
    if report_data[32:64] != expected[32:]:
        raise VerificationFailed("report_data", "the quote answers another nonce (a replayed report)")

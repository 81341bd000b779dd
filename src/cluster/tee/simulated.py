"""The simulated enclave's quote: this machine has no TEE, so the dev enclave produces a report with the same
structure as a real one, but its quote is plainly fake: a magic prefix and the measured fields in the clear, no
Intel signature. Verification refuses it at the "quote" step unless explicitly told to accept simulated
enclaves; every other step runs unchanged on its fields.
"""

from __future__ import annotations

from cluster.tee.errors import VerificationFailed
from cluster.tee.quote import QuoteFields

MAGIC = b"CLUSTER-SIMULATED-TDX-QUOTE-NOT-A-TEE\x00"
_SIZES = (48, 48, 48, 48, 48, 48, 64)  # mrtd, rtmr0-3, mr_config_id, report_data


def is_simulated(raw: bytes) -> bool:
    return raw.startswith(MAGIC)


def make_quote(fields: QuoteFields) -> bytes:
    parts = (fields.mrtd, *fields.rtmr, fields.mr_config_id, fields.report_data)
    if tuple(len(p) for p in parts) != _SIZES:
        raise ValueError("field sizes: mrtd, rtmr0-3 and mr_config_id 48 bytes, report_data 64")
    return MAGIC + b"".join(parts)


def fields(raw: bytes) -> QuoteFields:
    body = raw[len(MAGIC) :]
    if not is_simulated(raw) or len(body) != sum(_SIZES):
        raise VerificationFailed("quote", "malformed simulated quote")
    cut, offset = [], 0
    for size in _SIZES:
        cut.append(body[offset : offset + size])
        offset += size
    return QuoteFields(cut[0], (cut[1], cut[2], cut[3], cut[4]), cut[5], cut[6])

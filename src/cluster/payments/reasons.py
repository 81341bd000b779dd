"""The spec's machine-readable reasons (``invalidReason`` / ``errorReason``), as the official package names
them, and the mapping from USDC's revert strings to them."""

from __future__ import annotations

from x402.mechanisms.evm import constants as evm

VALUE_MISMATCH = evm.ERR_AUTHORIZATION_VALUE_MISMATCH
UNKNOWN_ASSET = evm.ERR_FAILED_TO_GET_ASSET_INFO
INSUFFICIENT_BALANCE = evm.ERR_INSUFFICIENT_BALANCE
INVALID_SIGNATURE = evm.ERR_INVALID_SIGNATURE
NETWORK_MISMATCH = evm.ERR_NETWORK_MISMATCH
NONCE_ALREADY_USED = evm.ERR_NONCE_ALREADY_USED
RECIPIENT_MISMATCH = evm.ERR_RECIPIENT_MISMATCH
TRANSACTION_FAILED = evm.ERR_TRANSACTION_FAILED
UNSUPPORTED_SCHEME = evm.ERR_UNSUPPORTED_SCHEME
VALID_AFTER_FUTURE = evm.ERR_VALID_AFTER_FUTURE
VALID_BEFORE_EXPIRED = evm.ERR_VALID_BEFORE_EXPIRED
INVALID_PAYLOAD = "invalid_payload"
INVALID_VERSION = "invalid_x402_version"
CHAIN_UNAVAILABLE = "unexpected_settle_error"

_REVERTS = (
    ("authorization is expired", VALID_BEFORE_EXPIRED),
    ("authorization is not yet valid", VALID_AFTER_FUTURE),
    ("authorization is used or canceled", NONCE_ALREADY_USED),
    ("transfer amount exceeds balance", INSUFFICIENT_BALANCE),
    ("invalid signature", INVALID_SIGNATURE),
    ("ecrecover", INVALID_SIGNATURE),
)


def from_revert(reason: str) -> str:
    lowered = reason.lower()
    for needle, code in _REVERTS:
        if needle in lowered:
            return code
    return TRANSACTION_FAILED


__all__ = [
    "CHAIN_UNAVAILABLE",
    "INSUFFICIENT_BALANCE",
    "INVALID_PAYLOAD",
    "INVALID_SIGNATURE",
    "INVALID_VERSION",
    "NETWORK_MISMATCH",
    "NONCE_ALREADY_USED",
    "RECIPIENT_MISMATCH",
    "TRANSACTION_FAILED",
    "UNKNOWN_ASSET",
    "UNSUPPORTED_SCHEME",
    "VALID_AFTER_FUTURE",
    "VALID_BEFORE_EXPIRED",
    "VALUE_MISMATCH",
    "from_revert",
]

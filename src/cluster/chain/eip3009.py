"""EIP-712 signatures over USDC: EIP-3009 transfer/receive authorizations and EIP-2612 permits.

The same helpers sign for the SDK's wallet, the tests and x402, and recover signers on the verifying side.
"""

from __future__ import annotations

from typing import Any, Literal

from eth_account import Account
from eth_account.messages import encode_typed_data

from cluster.chain.contracts import TransferAuthorization

_AUTH_FIELDS = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "validAfter", "type": "uint256"},
    {"name": "validBefore", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]
_PERMIT_FIELDS = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]

AuthorizationKind = Literal["TransferWithAuthorization", "ReceiveWithAuthorization"]


def usdc_domain(chain_id: int, usdc: str, name: str = "USDC", version: str = "2") -> dict[str, Any]:
    """USDC's EIP-712 domain. Base mainnet's USDC is named "USD Coin"; Base Sepolia's and TestUSDC "USDC"."""
    return {"name": name, "version": version, "chainId": chain_id, "verifyingContract": usdc}


def _authorization_message(domain: dict[str, Any], auth: TransferAuthorization, kind: AuthorizationKind) -> Any:
    message = {
        "from": auth.from_,
        "to": auth.to,
        "value": auth.value,
        "validAfter": auth.valid_after,
        "validBefore": auth.valid_before,
        "nonce": auth.nonce,
    }
    return encode_typed_data(domain_data=domain, message_types={kind: _AUTH_FIELDS}, message_data=message)


def sign_authorization(
    private_key: str,
    domain: dict[str, Any],
    auth: TransferAuthorization,
    kind: AuthorizationKind = "TransferWithAuthorization",
) -> bytes:
    """65-byte r‖s‖v signature (what the ``bytes signature`` overloads take)."""
    signed = Account.sign_message(_authorization_message(domain, auth, kind), private_key)
    return bytes(signed.signature)


def recover_authorization(
    domain: dict[str, Any],
    auth: TransferAuthorization,
    signature: bytes,
    kind: AuthorizationKind = "TransferWithAuthorization",
) -> str:
    return str(Account.recover_message(_authorization_message(domain, auth, kind), signature=signature))


def sign_permit(
    private_key: str, domain: dict[str, Any], owner: str, spender: str, value: int, nonce: int, deadline: int
) -> bytes:
    message = {"owner": owner, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline}
    encoded = encode_typed_data(domain_data=domain, message_types={"Permit": _PERMIT_FIELDS}, message_data=message)
    return bytes(Account.sign_message(encoded, private_key).signature)


def split_signature(signature: bytes) -> tuple[int, bytes, bytes]:
    """(v, r, s) for the ``uint8 v, bytes32 r, bytes32 s`` overloads."""
    return signature[64], signature[:32], signature[32:64]

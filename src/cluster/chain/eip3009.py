"""EIP-712 signatures over USDC: EIP-3009 transfer/receive authorizations and EIP-2612 permits.

Signing goes through eth-account. Verifying is the hot side (x402 checks one authorization per paid request),
so it has its own path: the struct hash packed by hand, the domain separator computed once per domain, and
public-key recovery in libsecp256k1 through coincurve: about 5x eth-account's generic typed-data path
(``bench/chain.py``). ``tests/chain/test_eip3009.py`` holds the two paths to the same digests.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from coincurve import PublicKey
from Crypto.Hash import keccak as _keccak
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


def keccak(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


_TYPEHASH = {
    kind: keccak(
        f"{kind}(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)".encode()
    )
    for kind in ("TransferWithAuthorization", "ReceiveWithAuthorization")
}
_DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
# secp256k1's n / 2: USDC (like EIP-2) accepts only the low-s form of a signature.
_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


@lru_cache(maxsize=64)
def domain_separator(name: str, version: str, chain_id: int, verifying_contract: str) -> bytes:
    return keccak(
        _DOMAIN_TYPEHASH
        + keccak(name.encode())
        + keccak(version.encode())
        + chain_id.to_bytes(32, "big")
        + _word(verifying_contract)
    )


def authorization_digest(
    domain: dict[str, Any], auth: TransferAuthorization, kind: AuthorizationKind = "TransferWithAuthorization"
) -> bytes:
    """The EIP-712 digest USDC checks the signature against."""
    separator = domain_separator(domain["name"], domain["version"], domain["chainId"], domain["verifyingContract"])
    struct = keccak(
        _TYPEHASH[kind]
        + _word(auth.from_)
        + _word(auth.to)
        + auth.value.to_bytes(32, "big")
        + auth.valid_after.to_bytes(32, "big")
        + auth.valid_before.to_bytes(32, "big")
        + auth.nonce
    )
    return keccak(b"\x19\x01" + separator + struct)


def recover_signer(digest: bytes, signature: bytes) -> str | None:
    """The lower-case address that signed ``digest``, or None for a malformed or high-s signature (which USDC
    would refuse too)."""
    if len(signature) != 65:
        return None
    v = signature[64] - 27 if signature[64] >= 27 else signature[64]
    if v not in (0, 1) or int.from_bytes(signature[32:64], "big") > _HALF_N:
        return None
    try:
        public = PublicKey.from_signature_and_message(signature[:64] + bytes([v]), digest, hasher=None)
    except Exception:  # coincurve raises a bare Exception for unrecoverable signatures
        return None
    return "0x" + keccak(public.format(compressed=False)[1:])[-20:].hex()


def recover_authorization(
    domain: dict[str, Any],
    auth: TransferAuthorization,
    signature: bytes,
    kind: AuthorizationKind = "TransferWithAuthorization",
) -> str | None:
    """Lower-case signer address of an authorization, or None if the signature is malformed."""
    return recover_signer(authorization_digest(domain, auth, kind), signature)


def _word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:] if address.startswith("0x") else address)


def sign_permit(
    private_key: str, domain: dict[str, Any], owner: str, spender: str, value: int, nonce: int, deadline: int
) -> bytes:
    message = {"owner": owner, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline}
    encoded = encode_typed_data(domain_data=domain, message_types={"Permit": _PERMIT_FIELDS}, message_data=message)
    return bytes(Account.sign_message(encoded, private_key).signature)


def split_signature(signature: bytes) -> tuple[int, bytes, bytes]:
    """(v, r, s) for the ``uint8 v, bytes32 r, bytes32 s`` overloads."""
    return signature[64], signature[:32], signature[32:64]

"""Step "signature": the response was signed by the attested key.

The signed text is ``sha256hex(request body) + ":" + sha256hex(response body)`` (a stream's raw SSE bytes), the
format of Phala's and NEAR AI's private-ml-sdk ``/v1/signature/{chat_id}``. ``ecdsa``: secp256k1 EIP-191
personal_sign, the signer recovered and compared with the attested address; ``ed25519``: the text signed by the
attested 32-byte public key.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from eth_account import Account
from eth_account.messages import encode_defunct

from cluster.tee.errors import VerificationFailed


def signed_text(request_body: bytes, response_body: bytes) -> str:
    return f"{hashlib.sha256(request_body).hexdigest()}:{hashlib.sha256(response_body).hexdigest()}"


def check_signature(text: str, signature: str, signing_address: str, algo: str) -> None:
    raw = bytes.fromhex(signature.removeprefix("0x"))
    if algo == "ecdsa":
        try:
            signer = Account.recover_message(encode_defunct(text=text), signature=raw)
        except Exception:
            raise VerificationFailed("signature", "not a valid secp256k1 signature") from None
        if signer.lower() != signing_address.lower():
            raise VerificationFailed("signature", f"signed by {signer}, not the attested {signing_address}")
    elif algo == "ed25519":
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(signing_address.removeprefix("0x"))).verify(
                raw, text.encode()
            )
        except (InvalidSignature, ValueError):
            raise VerificationFailed(
                "signature", "the ed25519 signature does not verify under the attested key"
            ) from None
    else:
        raise VerificationFailed("signature", f"unknown signing algorithm {algo!r}")

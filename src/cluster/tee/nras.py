"""Step "gpu": NVIDIA's remote attestation service (NRAS) vouches for the GPUs, for our nonce.

Each token is an ES384 JWT signed by NVIDIA (its JWKS, by ``kid``); it must verify, be within ``nbf``/``exp``,
say ``x-nvidia-overall-att-result: true`` (the platform token) and carry our nonce as ``eat_nonce``. Keys come from
NVIDIA's JWKS (https://nras.attestation.nvidia.com/.well-known/jwks.json) fetched by the caller, or offline.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cluster.tee.errors import VerificationFailed


def claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload) without verifying."""
    try:
        header, payload, _ = token.split(".")
        return json.loads(_b64(header)), json.loads(_b64(payload))
    except ValueError:
        raise VerificationFailed("gpu", "not a JWT") from None


def check_token(token: str, keys: dict[str, ec.EllipticCurvePublicKey], nonce: str, now: int) -> dict[str, Any]:
    header, payload = claims(token)
    if header.get("alg") != "ES384":
        raise VerificationFailed("gpu", f"NRAS tokens are ES384, not {header.get('alg')}")
    key = keys.get(header.get("kid", ""))
    if key is None:
        raise VerificationFailed("gpu", f"no NVIDIA key {header.get('kid')!r} (fetch NRAS's JWKS)")
    signing_input, _, signature = token.rpartition(".")
    raw = _b64(signature)
    if len(raw) != 96:
        raise VerificationFailed("gpu", "an ES384 signature is 96 bytes")
    der = encode_dss_signature(int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big"))
    try:
        key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise VerificationFailed("gpu", "the NRAS token's signature does not verify") from None
    if not payload.get("nbf", 0) <= now < payload.get("exp", 0):
        raise VerificationFailed("gpu", "the NRAS token is not valid now")
    if payload.get("eat_nonce") != nonce:
        raise VerificationFailed("gpu", "the NRAS token answers another nonce (or none)")
    if "submods" in payload and payload.get("x-nvidia-overall-att-result") is not True:
        raise VerificationFailed("gpu", "NRAS does not say the platform's GPU attestation passed")
    return payload


def keys_from_jwks(jwks: dict[str, Any]) -> dict[str, ec.EllipticCurvePublicKey]:
    keys = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-384":
            numbers = ec.EllipticCurvePublicNumbers(
                int.from_bytes(_b64(jwk["x"]), "big"), int.from_bytes(_b64(jwk["y"]), "big"), ec.SECP384R1()
            )
            keys[jwk["kid"]] = numbers.public_key()
    return keys


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

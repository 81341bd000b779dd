"""End-to-end encryption to the attested enclave: the gateway forwards ciphertext it cannot read.

A client takes the enclave's X25519 public key from an attestation it verified itself (the key is measured into
RTMR3 as the ``e2ee-key`` event, so the quote vouches for it), makes an ephemeral key pair, and replaces each
message's ``content`` with ``e2ee:v1:<ephemeral public key hex>:<nonce hex>:<AES-256-GCM ciphertext, base64>``
(key = HKDF-SHA256 of the X25519 shared secret, info ``cluster-e2ee-v1 request``). The enclave answers with the
assistant's content sealed the same way under info ``cluster-e2ee-v1 response`` (stream deltas one by one), so
only the client reads it. Model, token limits and usage stay in the clear: the gateway routes and bills on them.

This needs the provider's support (decrypting inside the enclave): Cluster's simulated enclave has it; Phala's
and NEAR AI's APIs would need the same envelope, so the SDK refuses E2EE for a provider that does not publish a
measured key.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "e2ee:v1:"
REQUEST, RESPONSE = b"cluster-e2ee-v1 request", b"cluster-e2ee-v1 response"


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key(private: X25519PrivateKey, peer: bytes, info: bytes) -> bytes:
    shared = private.exchange(X25519PublicKey.from_public_bytes(peer))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def seal(text: str, private: X25519PrivateKey, peer: bytes, info: bytes) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(private, peer, info)).encrypt(nonce, text.encode(), None)
    return f"{PREFIX}{public_bytes(private).hex()}:{nonce.hex()}:{base64.b64encode(sealed).decode()}"


def open_sealed(envelope: str, private: X25519PrivateKey, info: bytes) -> tuple[str, bytes]:
    """(plaintext, the sender's public key)."""
    if not envelope.startswith(PREFIX):
        raise ValueError("not an e2ee envelope")
    sender_hex, nonce_hex, body = envelope[len(PREFIX) :].split(":", 2)
    sender = bytes.fromhex(sender_hex)
    plain = AESGCM(_key(private, sender, info)).decrypt(bytes.fromhex(nonce_hex), base64.b64decode(body), None)
    return plain.decode(), sender

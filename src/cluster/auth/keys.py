"""API key material. A key is ``sk-cluster-`` + 43 url-safe characters (256 random bits); only its
HMAC-SHA256 under the service's secret is stored, so a database leak reveals no usable key and lookup is one
indexed equality on the digest (no slow KDF needed: the input already has 256 bits of entropy)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "sk-cluster-"


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def looks_like_key(value: str) -> bool:
    return value.startswith(PREFIX) and 40 <= len(value) <= 100


def display(key: str) -> str:
    """What may be shown or logged of a key: its prefix and last four characters."""
    return f"{key[:14]}…{key[-4:]}"

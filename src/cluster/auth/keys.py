"""API key material. A key is ``sk-cluster-`` + 43 url-safe characters (256 random bits); only its
HMAC-SHA256 under the service's secret is stored, so a database leak reveals no usable key and lookup is one
indexed equality on the digest (no slow KDF needed: the input already has 256 bits of entropy)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

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


def load_or_create_secret(path: Path) -> bytes:
    """The HMAC secret kept beside the data (0600), created on first start. Several workers may start at
    once: the secret is written to a private temporary file and linked into place, so exactly one wins and
    nobody reads a half-written file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_bytes(32).hex())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another worker was first: use its secret
        finally:
            temporary.unlink()
    return bytes.fromhex(path.read_text().strip())

"""Secrets kept beside the data: generated once, on first start, readable only by the service's user."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


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

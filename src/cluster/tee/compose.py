"""Step "compose": the app's docker-compose (``app_compose``) is the one measured.

``sha256(app_compose) == compose_hash``; the RTMR3 ``compose-hash`` event carries that hash; MRCONFIGID is
``0x01 || compose_hash`` (zero-padded to 48 bytes), so the hash is bound at TD creation as well.
"""

from __future__ import annotations

import hashlib

from cluster.tee.errors import VerificationFailed


def check_compose(app_compose: str, compose_hash: bytes, mr_config_id: bytes, measured: dict[str, bytes]) -> None:
    if hashlib.sha256(app_compose.encode()).digest() != compose_hash:
        raise VerificationFailed("compose", "sha256(app_compose) is not the compose hash")
    if measured.get("compose-hash") != compose_hash:
        raise VerificationFailed("compose", "the RTMR3 compose-hash event names another compose hash")
    expected = (b"\x01" + compose_hash).ljust(len(mr_config_id), b"\x00")
    if mr_config_id != expected:
        raise VerificationFailed("compose", "MRCONFIGID is not 0x01 || compose_hash")

"""The storage domain, assembled: the block store (files in the data dir, or a kubo node), the optional pinning
service, and the master keys that wrap each dataset's key; the stores' connections close at stop."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from cluster.keyfile import load_or_create_secret
from cluster.settings import Settings
from cluster.storage.blockstore import Blockstore, FileBlockstore, KuboBlockstore
from cluster.storage.encryption import KeyWrapper
from cluster.storage.pinning import PinataPinner


@dataclass(frozen=True, slots=True)
class Storage:
    store: Blockstore
    keys: KeyWrapper
    #: a pinning service datasets are replicated to (None: the store alone)
    pinner: PinataPinner | None


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Storage]:
    config = settings.storage
    keys = _master_keys(settings)
    store: Blockstore = (
        KuboBlockstore(config.kubo_url) if config.backend == "kubo" else FileBlockstore(settings.data_dir / "blocks")
    )
    try:
        jwt = config.pinning_jwt.get_secret_value() if config.pinning_jwt else ""
        pinner = PinataPinner(config.pinning_url, jwt) if config.pinning_url else None
        try:
            yield Storage(store, keys, pinner)
        finally:
            if pinner is not None:
                pinner.close()
    finally:
        store.close()


def _master_keys(settings: Settings) -> KeyWrapper:
    """The configured master keys (base64), or one generated beside the data on first start."""
    config = settings.storage
    if config.master_keys:
        keys = {kid: base64.b64decode(key.get_secret_value()) for kid, key in config.master_keys.items()}
        return KeyWrapper(keys, config.current_master or sorted(keys)[-1])
    return KeyWrapper({"local": load_or_create_secret(settings.data_dir / "master_key")}, "local")

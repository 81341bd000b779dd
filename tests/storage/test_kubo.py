"""The kubo adapter's real code path, against FakeKuboRPC (kubo cannot run here: see fake_kubo.py)."""

from __future__ import annotations

import os

import pytest

from cluster.storage.blockstore import KuboBlockstore, read_range
from cluster.storage.encryption import new_key
from cluster.storage.pipeline import store_encrypted
from tests.storage.fake_kubo import fake_kubo_app
from tests.support import ServerThread


def test_blocks_round_trip_through_kubo_rpc_and_failed_uploads_are_removed() -> None:
    app = fake_kubo_app()
    with ServerThread(app) as node:
        store = KuboBlockstore(node.url)
        data = os.urandom(3_000_000)
        stored = store_encrypted(iter([data]), store, new_key())
        sealed = b"".join(read_range(store, stored.cid))
        assert len(sealed) == stored.stored_size and data[:64] not in sealed
        assert stored.added and not store.put(stored.added[0], store.get(stored.added[0]))  # already there

        def broken():  # type: ignore[no-untyped-def]
            yield os.urandom(1_000_000)
            raise OSError("gone")

        before = set(app.state.blocks)
        with pytest.raises(OSError, match="gone"):
            store_encrypted(broken(), store, new_key())
        assert set(app.state.blocks) == before

"""Our UnixFS DAG gives the CID kubo gives: checked against the npm reference importer configured like
`ipfs add --cid-version 1` (scripts/unixfs_cid.mjs)."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from cluster.storage.blockstore import FileBlockstore, read_range
from cluster.storage.cid import CID
from cluster.storage.unixfs import CHUNK_SIZE, MAX_LINKS, UnixfsBuilder

ROOT = Path(__file__).resolve().parents[2]
SIZES = {
    "0 B": 0,
    "1 B": 1,
    "256 KiB": CHUNK_SIZE,
    "256 KiB + 1": CHUNK_SIZE + 1,
    "5 MB": 5_000_000,
    "174 chunks": MAX_LINKS * CHUNK_SIZE,
    "174 chunks + 1": MAX_LINKS * CHUNK_SIZE + 1,
    "50 MB (two levels)": 50_000_000,
}


def our_cid(path: Path, store: FileBlockstore | None = None) -> str:
    builder = UnixfsBuilder(store.put if store else lambda cid, block: True)
    with path.open("rb") as handle:
        while piece := handle.read(1_000_003):  # odd reads: chunking must not depend on them
            builder.write(piece)
    return str(builder.finish().cid)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("unixfs")
    rng = random.Random(402)
    paths = {}
    for name, size in SIZES.items():
        path = folder / name.replace(" ", "_")
        path.write_bytes(rng.randbytes(size))
        paths[name] = path
    return paths


@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed for the reference importer")
def test_cids_equal_the_npm_importer_configured_like_kubo(files: dict[str, Path]) -> None:
    reference = subprocess.run(
        ["node", str(ROOT / "scripts" / "unixfs_cid.mjs"), *map(str, files.values())],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.split()
    ours = [our_cid(path) for path in files.values()]
    assert dict(zip(files, ours, strict=True)) == dict(zip(files, reference, strict=True))


def test_known_cids_without_node() -> None:
    """kubo's well-known CIDs, so the check also runs where node is absent."""
    empty, one = UnixfsBuilder(lambda c, b: True), UnixfsBuilder(lambda c, b: True)
    one.write(b"\n")
    assert str(empty.finish().cid) == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert CID.parse(str(one.finish().cid)).codec == 0x55


def test_a_stored_file_reads_back_whole_and_by_range(files: dict[str, Path], tmp_path: Path) -> None:
    store = FileBlockstore(tmp_path / "blocks")
    data = files["50 MB (two levels)"].read_bytes()
    root = CID.parse(our_cid(files["50 MB (two levels)"], store))
    assert b"".join(read_range(store, root)) == data
    rng = random.Random(7)
    for _ in range(20):
        start = rng.randrange(len(data))
        end = rng.randrange(start, len(data) + 1)
        assert b"".join(read_range(store, root, start, end)) == data[start:end]
    assert b"".join(read_range(store, root, CHUNK_SIZE - 1, CHUNK_SIZE + 1)) == data[CHUNK_SIZE - 1 : CHUNK_SIZE + 1]

"""The committed ABI/bytecode artifacts are what the sources compile to."""

from __future__ import annotations

import json
import shutil

import pytest

from cluster.chain import artifacts
from cluster.chain.compile import ARTIFACTS, OUTPUTS, compile_contracts, sources_digest


def test_artifacts_are_fresh_against_the_sources() -> None:
    manifest = artifacts.manifest()
    assert manifest["sources_sha256"] == sources_digest(), (
        "contracts/ changed since the artifacts were built: run `cluster chain compile` and commit the result"
    )
    assert sorted(manifest["contracts"]) == sorted(name for names in OUTPUTS.values() for name in names)
    assert manifest["solc"].startswith("0.8.")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("node") is None, reason="node (for solc) is not installed")
def test_recompiling_gives_the_committed_bytecode() -> None:
    for name, artifact in compile_contracts().items():
        committed = json.loads((ARTIFACTS / f"{name}.json").read_text())
        assert artifact["bytecode"] == committed["bytecode"], f"{name}: run `cluster chain compile`"
        assert artifact["abi"] == committed["abi"], name

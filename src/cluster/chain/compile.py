"""Compile ``contracts/`` with solc (the npm package) through standard JSON, into the committed artifacts.

The service never compiles at run time: it loads ``artifacts/<Contract>.json`` (ABI + creation bytecode).
``artifacts/manifest.json`` records a digest of every source and of the compiler settings, so a test can tell
cheaply when the artifacts are stale against the sources (``cluster chain compile`` refreshes them).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
CONTRACTS = REPO / "contracts"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SOLC_FRONTEND = REPO / "scripts" / "solc.cjs"

# The contracts whose artifacts are committed (test-only upgrade targets included: tests deploy them).
OUTPUTS = {
    "ClusterToken.sol": ["ClusterToken"],
    "TestUSDC.sol": ["TestUSDC"],
    "DatasetNFT.sol": ["DatasetNFT"],
    "DatasetRegistry.sol": ["DatasetRegistry"],
    "PaymentRouter.sol": ["PaymentRouter"],
    "Deposits.sol": ["Deposits"],
    "ComposeRegistry.sol": ["ComposeRegistry"],
    "Proxy.sol": ["ClusterProxy"],
    # ERC-8004 "Trustless Agents" registries (written from the CC0 spec; ABI-identical to the reference v2.0.0)
    "erc8004/IdentityRegistry.sol": ["IdentityRegistry"],
    "erc8004/ReputationRegistry.sol": ["ReputationRegistry"],
    "erc8004/ValidationRegistry.sol": ["ValidationRegistry"],
    # Cluster's agent layer on top: usage epochs and task traces anchored as Merkle roots, agents' activity events
    "UsageEpochAnchor.sol": ["UsageEpochAnchor"],
    "TraceAnchor.sol": ["TraceAnchor"],
    "AgentActivityLog.sol": ["AgentActivityLog"],
    "test/DatasetNFTV2.sol": ["DatasetNFTV2"],
    "test/PaymentRouterV2.sol": ["PaymentRouterV2"],
    "test/ReentrantReceiver.sol": ["ReentrantReceiver"],
}

SETTINGS: dict[str, Any] = {
    # Cancun: Base and every current L2 run it; transient storage backs the reentrancy guard.
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": False,
    "metadata": {"bytecodeHash": "none"},  # bytecode independent of comments and paths
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


def source_files() -> list[Path]:
    return sorted(CONTRACTS.rglob("*.sol"))


def sources_digest() -> str:
    digest = hashlib.sha256(json.dumps(SETTINGS, sort_keys=True).encode())
    for path in source_files():
        digest.update(path.relative_to(CONTRACTS).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def solc_version() -> str:
    return subprocess.run(
        ["node", str(SOLC_FRONTEND), "--version"], check=True, capture_output=True, text=True
    ).stdout.strip()


def compile_contracts() -> dict[str, dict[str, Any]]:
    """Run solc on every source; return ``{contract name: {"abi", "bytecode", "deployedBytecode"}}``."""
    sources = {
        f"contracts/{path.relative_to(CONTRACTS).as_posix()}": {"content": path.read_text()} for path in source_files()
    }
    standard_input = {"language": "Solidity", "sources": sources, "settings": SETTINGS}
    completed = subprocess.run(
        ["node", str(SOLC_FRONTEND)],
        input=json.dumps(standard_input),
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    output = json.loads(completed.stdout)
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise RuntimeError("solc failed:\n" + "\n".join(e["formattedMessage"] for e in errors))
    artifacts: dict[str, dict[str, Any]] = {}
    for source, names in OUTPUTS.items():
        compiled = output["contracts"][f"contracts/{source}"]
        for name in names:
            evm = compiled[name]["evm"]
            artifacts[name] = {
                "contractName": name,
                "sourceName": f"contracts/{source}",
                "abi": compiled[name]["abi"],
                "bytecode": "0x" + evm["bytecode"]["object"],
                "deployedBytecode": "0x" + evm["deployedBytecode"]["object"],
            }
    return artifacts


def write_artifacts(destination: Path = ARTIFACTS) -> list[Path]:
    artifacts = compile_contracts()
    destination.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in artifacts.items():
        path = destination / f"{name}.json"
        path.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
        written.append(path)
    manifest = {"solc": solc_version(), "sources_sha256": sources_digest(), "contracts": sorted(artifacts)}
    (destination / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return written

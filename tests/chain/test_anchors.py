"""Merkle roots anchored on chain: ``cluster.chain.merkle`` builds exactly OpenZeppelin's StandardMerkleTree (its
JavaScript, from npm, is the reference), and its proofs pass the anchors' on-chain checks (UsageEpochAnchor,
TraceAnchor); AgentActivityLog takes events only from an agent's wallet, owner or operator."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from eth_utils import keccak

from cluster.chain.merkle import MerkleTree, leaf_hash, verify
from cluster.errors import TransactionReverted
from tests.chain_fixtures import Chain
from tests.support import ROOT

# one agent's usage in an epoch: agent id, requests, successes, tokens, spend (micro-USDC), receipts root
USAGE = ["uint256", "uint64", "uint64", "uint256", "uint256", "bytes32"]
ROWS: list[list[Any]] = [
    [agent, 10 * agent + 3, 10 * agent, 1000 * agent + 7, 2500 * agent, keccak(text=f"r{agent}")] for agent in range(5)
]


def as_json(rows: list[list[Any]]) -> list[list[Any]]:
    """Values as OpenZeppelin's JavaScript takes them (bytes as 0x-hex)."""
    return [["0x" + v.hex() if isinstance(v, bytes) else v for v in row] for row in rows]


def reference(types: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    script = ROOT / "tests" / "chain" / "oz_merkle.mjs"
    given = json.dumps({"types": types, "rows": as_json(rows)})
    out = subprocess.run(["node", str(script)], input=given, capture_output=True, text=True, check=True, cwd=ROOT)
    return dict(json.loads(out.stdout))


def test_the_tree_is_openzeppelins() -> None:
    for count in (1, 2, 3, 5):
        rows = ROWS[:count]
        ours = MerkleTree.of(USAGE, rows)
        theirs = reference(USAGE, rows)
        assert "0x" + ours.root.hex() == theirs["root"]
        for row, proof in zip(rows, theirs["proofs"], strict=True):
            leaf = leaf_hash(USAGE, row)
            assert ["0x" + p.hex() for p in ours.proof(leaf)] == proof
            assert verify(ours.root, ours.proof(leaf), leaf)
    with pytest.raises(ValueError):
        MerkleTree.of(USAGE, [])


async def _deploy(chain: Chain, name: str, *args: Any) -> Any:
    client = await chain.client(0)
    address = (await client.deploy(name, *args)).contract_address
    assert address
    return client.contract(name, address)


async def test_an_epoch_root_is_committed_once_and_proves_its_leaves(chain: Chain) -> None:
    client = await chain.client(0)
    anchor = await _deploy(chain, "UsageEpochAnchor", chain.address(0))
    tree = MerkleTree.of(USAGE, ROWS)
    receipt = await client.transact(anchor.functions.commitEpoch(7, tree.root, len(ROWS), "https://cluster.test/e/7"))
    print(f"commitEpoch gas: {receipt.gas_used}")
    assert await client.call(anchor.functions.rootOf(7).call()) == tree.root
    for row in ROWS:
        leaf = leaf_hash(USAGE, row)
        assert await client.call(anchor.functions.verify(7, tree.proof(leaf), leaf).call())
    tampered = leaf_hash(USAGE, [1, 999, 10, 1007, 2500, ROWS[1][5]])
    assert not await client.call(anchor.functions.verify(7, tree.proof(leaf_hash(USAGE, ROWS[1])), tampered).call())
    assert not await client.call(anchor.functions.verify(8, [], tree.root).call())  # an epoch not committed
    with pytest.raises(TransactionReverted, match="committed"):
        await client.transact(anchor.functions.commitEpoch(7, keccak(text="other"), 1, ""))
    other = (await chain.client(1)).contract("UsageEpochAnchor", anchor.address)
    with pytest.raises(TransactionReverted, match="OwnableUnauthorizedAccount"):
        await (await chain.client(1)).transact(other.functions.commitEpoch(9, tree.root, 1, ""))


async def test_trace_roots_are_anchored_in_batches(chain: Chain) -> None:
    client = await chain.client(0)
    anchor = await _deploy(chain, "TraceAnchor", chain.address(0))
    traces = [keccak(text=f"task {i}") for i in range(8)]
    batch = MerkleTree.of(["bytes32"], [[t] for t in traces])
    receipt = await client.transact(anchor.functions.anchorBatch(batch.root, len(traces), "https://cluster.test/b/1"))
    print(f"anchorBatch gas: {receipt.gas_used}")
    leaf = leaf_hash(["bytes32"], [traces[3]])
    assert await client.call(anchor.functions.included(batch.root, batch.proof(leaf), leaf).call())
    outsider = leaf_hash(["bytes32"], [keccak(text="not anchored")])
    assert not await client.call(anchor.functions.included(batch.root, batch.proof(leaf), outsider).call())


async def test_only_the_agent_logs_its_activity(chain: Chain) -> None:
    identity = chain.addresses.identity_registry
    assert identity
    log = await _deploy(chain, "AgentActivityLog", identity)
    owner = await chain.client(1)
    await owner.transact(owner.contract("IdentityRegistry", identity).functions.register("ipfs://agent"))
    mine = owner.contract("AgentActivityLog", log.address)
    receipt = await owner.transact(mine.functions.logActivity(0, keccak(text="purchase"), keccak(text="tx"), ""))
    assert receipt.raw["logs"], "ActivityLogged emitted"
    stranger = await chain.client(2)
    with pytest.raises(TransactionReverted, match="not the agent"):
        await stranger.transact(
            stranger.contract("AgentActivityLog", log.address).functions.logActivity(0, b"\x00" * 32, b"\x00" * 32, "")
        )

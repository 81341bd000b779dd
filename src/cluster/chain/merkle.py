"""Merkle trees exactly as OpenZeppelin's StandardMerkleTree builds them (``@openzeppelin/merkle-tree``), so a
root computed here is the root OpenZeppelin's JavaScript computes from the same values, and its proofs pass
``MerkleProof.verify`` on chain (UsageEpochAnchor, TraceAnchor).

A leaf is ``keccak256(bytes.concat(keccak256(abi.encode(values))))`` (hashed twice: a leaf can never pass for an
inner node); inner nodes hash their two children sorted; leaves are sorted by hash and laid out, with the inner
nodes, in one array as a complete binary tree (the root at 0, the children of ``i`` at ``2i+1`` and ``2i+2``).
Written here because the Python ports on PyPI either build other layouts or pull in heavy dependencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode
from eth_utils.crypto import keccak


def leaf_hash(types: Sequence[str], values: Sequence[Any]) -> bytes:
    return keccak(keccak(encode(list(types), list(values))))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


@dataclass(frozen=True)
class MerkleTree:
    nodes: list[bytes]  # the whole tree, root first
    leaves: list[bytes]  # leaf hashes in the caller's order
    positions: dict[bytes, int]  # leaf hash -> its index in ``nodes``

    @classmethod
    def of(cls, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> MerkleTree:
        return cls.of_hashes([leaf_hash(types, row) for row in rows])

    @classmethod
    def of_hashes(cls, hashes: Sequence[bytes]) -> MerkleTree:
        if not hashes:
            raise ValueError("a Merkle tree needs at least one leaf")
        ordered = sorted(hashes)
        nodes = [b""] * (2 * len(ordered) - 1)
        for i, leaf in enumerate(ordered):
            nodes[len(nodes) - 1 - i] = leaf
        for i in range(len(nodes) - 1 - len(ordered), -1, -1):
            nodes[i] = _pair(nodes[2 * i + 1], nodes[2 * i + 2])
        return cls(nodes, list(hashes), {leaf: len(nodes) - 1 - i for i, leaf in enumerate(ordered)})

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def proof(self, leaf: bytes) -> list[bytes]:
        """The sibling hashes from ``leaf`` up to the root (what ``MerkleProof.verify`` takes)."""
        index = self.positions[leaf]
        siblings = []
        while index > 0:
            siblings.append(self.nodes[index - 1 if index % 2 == 0 else index + 1])
            index = (index - 1) // 2
        return siblings


def verify(root: bytes, proof: Sequence[bytes], leaf: bytes) -> bool:
    node = leaf
    for sibling in proof:
        node = _pair(node, sibling)
    return node == root

// OpenZeppelin's own StandardMerkleTree (npm @openzeppelin/merkle-tree), the reference tests/chain/test_anchors.py
// compares cluster.chain.merkle against: reads {types, rows} on stdin, prints the root and every row's proof.
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { readFileSync } from "node:fs";

const { types, rows } = JSON.parse(readFileSync(0, "utf8"));
const tree = StandardMerkleTree.of(rows, types);
console.log(JSON.stringify({ root: tree.root, proofs: rows.map((_, i) => tree.getProof(i)) }));

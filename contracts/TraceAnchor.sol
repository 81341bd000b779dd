// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title TraceAnchor: multi-agent task traces, anchored in batches
/// @notice A task's trace (its events hash-chained, a sub-agent's trace root an event of its parent's) has one
///         root; many tasks' roots are the leaves of a batch tree whose root is anchored here in one transaction.
///         `included` proves a task's trace root is in an anchored batch, and when it was anchored.
contract TraceAnchor is Ownable {
    mapping(bytes32 batchRoot => uint256 anchoredAt) public anchoredAt;

    event BatchAnchored(bytes32 indexed batchRoot, uint256 traces, string uri);

    constructor(address anchorer) Ownable(anchorer) {}

    function anchorBatch(bytes32 batchRoot, uint256 traces, string calldata uri) external onlyOwner {
        require(batchRoot != bytes32(0), "empty root");
        require(anchoredAt[batchRoot] == 0, "anchored");
        anchoredAt[batchRoot] = block.timestamp;
        emit BatchAnchored(batchRoot, traces, uri);
    }

    function included(bytes32 batchRoot, bytes32[] calldata proof, bytes32 leaf) external view returns (bool) {
        return anchoredAt[batchRoot] != 0 && MerkleProof.verifyCalldata(proof, batchRoot, leaf);
    }
}

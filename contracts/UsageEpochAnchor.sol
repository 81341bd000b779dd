// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title UsageEpochAnchor: one Merkle root per epoch of metered agent usage
/// @notice Cluster's attestor commits, once per epoch (hourly by default), the root of a tree whose leaves are each
///         agent's metered usage in that epoch (requests, successes, payment failures, tokens, spend, the root of
///         its receipts), hashed as OpenZeppelin's StandardMerkleTree does. Anyone holding a leaf and its proof
///         checks it here. This makes the operator's attestation auditable, not trustless: the leaves are what
///         the operator's request log says.
contract UsageEpochAnchor is Ownable {
    mapping(uint64 epoch => bytes32 root) public rootOf;

    event EpochCommitted(uint64 indexed epoch, bytes32 root, uint256 leaves, string uri);

    constructor(address attestor) Ownable(attestor) {}

    /// @notice Commit an epoch's root (once: a committed epoch never changes) and where its leaves are served.
    function commitEpoch(uint64 epoch, bytes32 root, uint256 leaves, string calldata uri) external onlyOwner {
        require(root != bytes32(0), "empty root");
        require(rootOf[epoch] == bytes32(0), "committed");
        rootOf[epoch] = root;
        emit EpochCommitted(epoch, root, leaves, uri);
    }

    /// @notice Whether `leaf` (keccak256(bytes.concat(keccak256(abi.encode(values))))) is in the epoch's tree.
    function verify(uint64 epoch, bytes32[] calldata proof, bytes32 leaf) external view returns (bool) {
        bytes32 root = rootOf[epoch];
        return root != bytes32(0) && MerkleProof.verifyCalldata(proof, root, leaf);
    }
}

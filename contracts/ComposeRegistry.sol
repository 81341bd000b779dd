// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title ComposeRegistry: which enclave builds Cluster trusts
/// @notice A DstackApp-style allow-list of docker-compose hashes (sha256 of a dstack `app_compose`). A confidential
///         provider's attestation passes only while its compose hash is allowed here, so revoking a hash makes every
///         verifier that reads this contract refuse that build from the next check on. The same function names as
///         dstack's DstackApp (`allowedComposeHashes`, `addComposeHash`, `removeComposeHash`), so a verifier can
///         point at either.
contract ComposeRegistry is Ownable {
    mapping(bytes32 => bool) public allowedComposeHashes;

    event ComposeHashAdded(bytes32 composeHash);
    event ComposeHashRemoved(bytes32 composeHash);

    constructor(address initialOwner) Ownable(initialOwner) {}

    function addComposeHash(bytes32 composeHash) external onlyOwner {
        allowedComposeHashes[composeHash] = true;
        emit ComposeHashAdded(composeHash);
    }

    function removeComposeHash(bytes32 composeHash) external onlyOwner {
        allowedComposeHashes[composeHash] = false;
        emit ComposeHashRemoved(composeHash);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IdentityRegistry} from "./IdentityRegistry.sol";

/// @notice What the Reputation and Validation registries share: the IdentityRegistry they answer to (fixed at
///         construction) and the reference's version string.
abstract contract IdentityBound {
    IdentityRegistry internal immutable _identity;

    constructor(address identityRegistry_) {
        require(identityRegistry_ != address(0), "bad identity");
        _identity = IdentityRegistry(identityRegistry_);
    }

    function getIdentityRegistry() external view returns (address) {
        return address(_identity);
    }

    function getVersion() external pure returns (string memory) {
        return "2.0.0";
    }
}

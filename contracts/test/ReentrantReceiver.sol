// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

interface IRegistry {
    function register(string calldata agentURI) external returns (uint256);
    function transferFrom(address from, address to, uint256 tokenId) external;
}

/// @notice TESTS ONLY: registers an agent and, from inside onERC721Received, hands it on at once (what a hostile
///         receiver could do to catch the registry half-way through a registration).
contract ReentrantReceiver {
    address private immutable _next;

    constructor(address next) {
        _next = next;
    }

    function registerAndPass(IRegistry registry) external returns (uint256) {
        return registry.register("ipfs://passed-on");
    }

    function onERC721Received(address, address, uint256 tokenId, bytes calldata) external returns (bytes4) {
        IRegistry(msg.sender).transferFrom(address(this), _next, tokenId);
        return this.onERC721Received.selector;
    }
}

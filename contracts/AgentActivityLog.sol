// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

interface IAgentIdentity {
    function isAuthorizedOrOwner(address spender, uint256 agentId) external view returns (bool);
    function getAgentWallet(uint256 agentId) external view returns (address);
}

/// @title AgentActivityLog: an agent's on-chain activity, as events against its ERC-8004 identity
/// @notice The agent loop's "log the action": only the agent's wallet, owner or operator may write for it, so an
///         indexer can count an agent's activity from these events alone. Nothing is stored.
contract AgentActivityLog {
    IAgentIdentity public immutable identityRegistry;

    event ActivityLogged(
        uint256 indexed agentId, bytes32 indexed kind, address indexed sender, bytes32 dataHash, string uri
    );

    constructor(address identityRegistry_) {
        require(identityRegistry_ != address(0), "bad identity");
        identityRegistry = IAgentIdentity(identityRegistry_);
    }

    function logActivity(uint256 agentId, bytes32 kind, bytes32 dataHash, string calldata uri) external {
        require(
            msg.sender == identityRegistry.getAgentWallet(agentId)
                || identityRegistry.isAuthorizedOrOwner(msg.sender, agentId),
            "not the agent"
        );
        emit ActivityLogged(agentId, kind, msg.sender, dataHash, uri);
    }
}

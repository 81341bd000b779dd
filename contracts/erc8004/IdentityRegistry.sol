// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title IdentityRegistry: ERC-8004 "Trustless Agents" agent identities (the January 2026 revision)
/// @notice Written from the ERC-8004 specification (CC0), ABI-identical to the reference registries (v2.0.0) so
///         existing ERC-8004 tools read it unchanged; non-upgradeable, initialized by its constructor (the
///         reference's proxy flow exists for vanity addresses on public chains, which a dev chain does not need).
///         An agent is an ERC-721 token; its tokenURI is the agent's registration file (`agentURI`). The reserved
///         metadata key "agentWallet" holds the address the agent is paid at: its owner at registration, changed
///         only with the new wallet's EIP-712 (or ERC-1271) signature, and cleared when the agent changes hands.
contract IdentityRegistry is ERC721URIStorage, EIP712 {
    struct MetadataEntry {
        string metadataKey;
        bytes metadataValue;
    }

    bytes32 private constant AGENT_WALLET_SET_TYPEHASH =
        keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)");
    bytes32 private constant AGENT_WALLET_KEY = keccak256("agentWallet");
    uint256 private constant MAX_DEADLINE_DELAY = 5 minutes;

    uint256 private _lastId; // agent ids start at 0 (never use 0 as "none")
    mapping(uint256 agentId => mapping(string metadataKey => bytes)) private _metadata;

    event Registered(uint256 indexed agentId, string agentURI, address indexed owner);
    event MetadataSet(uint256 indexed agentId, string indexed indexedMetadataKey, string metadataKey, bytes metadataValue);
    event URIUpdated(uint256 indexed agentId, string newURI, address indexed updatedBy);

    constructor() ERC721("AgentIdentity", "AGENT") EIP712("ERC8004IdentityRegistry", "1") {}

    // -- registration ---------------------------------------------------------------------------------------
    function register() external returns (uint256 agentId) {
        agentId = _register("", new MetadataEntry[](0));
    }

    function register(string memory agentURI) external returns (uint256 agentId) {
        agentId = _register(agentURI, new MetadataEntry[](0));
    }

    function register(string memory agentURI, MetadataEntry[] memory metadata) external returns (uint256 agentId) {
        agentId = _register(agentURI, metadata);
    }

    /// @dev Every write and event first, the receiver's onERC721Received last: a receiver that re-enters (say,
    ///      transfers the new agent on) then meets a complete agent, and its transfer clears the wallet as any does.
    ///      Events in the reference's order: Transfer, Registered, MetadataSet(agentWallet), then the entries.
    function _register(string memory agentURI, MetadataEntry[] memory metadata) private returns (uint256 agentId) {
        agentId = _lastId++;
        _mint(msg.sender, agentId);
        if (bytes(agentURI).length > 0) {
            _setTokenURI(agentId, agentURI);
        } else {
            emit MetadataUpdate(agentId);
        }
        emit Registered(agentId, agentURI, msg.sender);
        _setWallet(agentId, abi.encodePacked(msg.sender));
        for (uint256 i = 0; i < metadata.length; i++) {
            require(keccak256(bytes(metadata[i].metadataKey)) != AGENT_WALLET_KEY, "reserved key");
            _metadata[agentId][metadata[i].metadataKey] = metadata[i].metadataValue;
            emit MetadataSet(agentId, metadata[i].metadataKey, metadata[i].metadataKey, metadata[i].metadataValue);
        }
        ERC721Utils.checkOnERC721Received(msg.sender, address(0), msg.sender, agentId, "");
    }

    function setAgentURI(uint256 agentId, string calldata newURI) external {
        require(isAuthorizedOrOwner(msg.sender, agentId), "Not authorized");
        _setTokenURI(agentId, newURI);
        emit URIUpdated(agentId, newURI, msg.sender);
    }

    // -- metadata -------------------------------------------------------------------------------------------
    function getMetadata(uint256 agentId, string memory metadataKey) external view returns (bytes memory) {
        return _metadata[agentId][metadataKey];
    }

    function setMetadata(uint256 agentId, string memory metadataKey, bytes memory metadataValue) external {
        require(isAuthorizedOrOwner(msg.sender, agentId), "Not authorized");
        require(keccak256(bytes(metadataKey)) != AGENT_WALLET_KEY, "reserved key");
        _metadata[agentId][metadataKey] = metadataValue;
        emit MetadataSet(agentId, metadataKey, metadataKey, metadataValue);
    }

    // -- the agent's wallet ---------------------------------------------------------------------------------
    /// @notice Point the agent's wallet at `newWallet`, which proves control by signing
    ///         AgentWalletSet(agentId, newWallet, owner, deadline) (EIP-712; a contract wallet through ERC-1271).
    function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes calldata signature) external {
        address owner = ownerOf(agentId);
        require(isAuthorizedOrOwner(msg.sender, agentId), "Not authorized");
        require(newWallet != address(0), "bad wallet");
        require(block.timestamp <= deadline, "expired");
        require(deadline <= block.timestamp + MAX_DEADLINE_DELAY, "deadline too far");
        bytes32 digest =
            _hashTypedDataV4(keccak256(abi.encode(AGENT_WALLET_SET_TYPEHASH, agentId, newWallet, owner, deadline)));
        // ECDSA first, then ERC-1271: an EOA with EIP-7702 delegated code still signs as an EOA
        (address recovered, ECDSA.RecoverError failure,) = ECDSA.tryRecover(digest, signature);
        require(
            (failure == ECDSA.RecoverError.NoError && recovered == newWallet)
                || SignatureChecker.isValidERC1271SignatureNow(newWallet, digest, signature),
            "invalid wallet sig"
        );
        _setWallet(agentId, abi.encodePacked(newWallet));
    }

    function getAgentWallet(uint256 agentId) external view returns (address) {
        bytes memory wallet = _metadata[agentId]["agentWallet"];
        return wallet.length == 20 ? address(bytes20(wallet)) : address(0);
    }

    function unsetAgentWallet(uint256 agentId) external {
        require(isAuthorizedOrOwner(msg.sender, agentId), "Not authorized");
        _setWallet(agentId, "");
    }

    function _setWallet(uint256 agentId, bytes memory wallet) private {
        _metadata[agentId]["agentWallet"] = wallet;
        emit MetadataSet(agentId, "agentWallet", "agentWallet", wallet);
    }

    // -- reads the other registries use -------------------------------------------------------------------
    /// @notice The owner, an approved address or an operator of the owner (reverts for an agent that does not exist).
    function isAuthorizedOrOwner(address spender, uint256 agentId) public view returns (bool) {
        address owner = ownerOf(agentId);
        return _isAuthorized(owner, spender, agentId);
    }

    function getVersion() external pure returns (string memory) {
        return "2.0.0";
    }

    /// @dev A transfer (not a mint or a burn) clears the agent wallet: the new owner sets its own.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from != address(0) && to != address(0)) {
            _setWallet(tokenId, "");
        }
    }
}

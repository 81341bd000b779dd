// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IdentityBound} from "./IdentityBound.sol";

/// @title ValidationRegistry: ERC-8004 requests for independent validation of an agent's work, and the answers
/// @notice Written from the ERC-8004 specification (CC0), ABI-identical to the reference registry (v2.0.0). The
///         agent's owner or operator asks a validator to check the work committed to by `requestHash`; only that
///         validator answers (0-100), as often as it likes (a tag tells soft from hard finality).
contract ValidationRegistry is IdentityBound {
    struct Status {
        address validatorAddress;
        uint256 agentId;
        uint8 response;
        bytes32 responseHash;
        string tag;
        uint256 lastUpdate;
        bool hasResponse;
    }

    mapping(bytes32 requestHash => Status) private _status;
    mapping(uint256 agentId => bytes32[]) private _agentValidations;
    mapping(address validator => bytes32[]) private _validatorRequests;

    event ValidationRequest(
        address indexed validatorAddress, uint256 indexed agentId, string requestURI, bytes32 indexed requestHash
    );
    event ValidationResponse(
        address indexed validatorAddress,
        uint256 indexed agentId,
        bytes32 indexed requestHash,
        uint8 response,
        string responseURI,
        bytes32 responseHash,
        string tag
    );

    constructor(address identityRegistry_) IdentityBound(identityRegistry_) {}

    function validationRequest(
        address validatorAddress,
        uint256 agentId,
        string calldata requestURI,
        bytes32 requestHash
    ) external {
        require(validatorAddress != address(0), "bad validator");
        require(_status[requestHash].validatorAddress == address(0), "exists");
        require(_identity.isAuthorizedOrOwner(msg.sender, agentId), "Not authorized");
        _status[requestHash] = Status(validatorAddress, agentId, 0, bytes32(0), "", block.timestamp, false);
        _agentValidations[agentId].push(requestHash);
        _validatorRequests[validatorAddress].push(requestHash);
        emit ValidationRequest(validatorAddress, agentId, requestURI, requestHash);
    }

    function validationResponse(
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external {
        Status storage status = _status[requestHash];
        require(status.validatorAddress != address(0), "unknown");
        require(msg.sender == status.validatorAddress, "not validator");
        require(response <= 100, "resp>100");
        status.response = response;
        status.responseHash = responseHash;
        status.tag = tag;
        status.lastUpdate = block.timestamp;
        status.hasResponse = true;
        emit ValidationResponse(
            status.validatorAddress, status.agentId, requestHash, response, responseURI, responseHash, tag
        );
    }

    function getValidationStatus(bytes32 requestHash)
        external
        view
        returns (
            address validatorAddress,
            uint256 agentId,
            uint8 response,
            bytes32 responseHash,
            string memory tag,
            uint256 lastUpdate
        )
    {
        Status storage status = _status[requestHash];
        require(status.validatorAddress != address(0), "unknown");
        return (status.validatorAddress, status.agentId, status.response, status.responseHash, status.tag, status.lastUpdate);
    }

    /// @notice The answered requests of the agent (by the given validators; all when the list is empty, and with the
    ///         given tag; "" matches any): how many, and their average response.
    function getSummary(uint256 agentId, address[] calldata validatorAddresses, string calldata tag)
        external
        view
        returns (uint64 count, uint8 avgResponse)
    {
        bytes32[] storage requests = _agentValidations[agentId];
        uint256 total;
        for (uint256 i = 0; i < requests.length; i++) {
            Status storage status = _status[requests[i]];
            if (!status.hasResponse) continue;
            if (validatorAddresses.length > 0 && !_contains(validatorAddresses, status.validatorAddress)) continue;
            if (bytes(tag).length > 0 && keccak256(bytes(status.tag)) != keccak256(bytes(tag))) continue;
            total += status.response;
            count++;
        }
        avgResponse = count == 0 ? 0 : uint8(total / count);
    }

    function getAgentValidations(uint256 agentId) external view returns (bytes32[] memory) {
        return _agentValidations[agentId];
    }

    function getValidatorRequests(address validatorAddress) external view returns (bytes32[] memory) {
        return _validatorRequests[validatorAddress];
    }

    function _contains(address[] calldata list, address item) private pure returns (bool) {
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == item) return true;
        }
        return false;
    }
}

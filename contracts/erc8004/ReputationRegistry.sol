// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IdentityBound} from "./IdentityBound.sol";

/// @title ReputationRegistry: ERC-8004 feedback on agents (the January 2026 revision)
/// @notice Written from the ERC-8004 specification (CC0), ABI-identical to the reference registry (v2.0.0).
///         Anyone but the agent's owner and operators may give feedback (a signed value with its decimals, two
///         tags, and the endpoint, file and hash it refers to, which are only emitted). Indexes are 1-based per
///         (agent, client). Summaries need an explicit list of clients: who to trust is the reader's choice (the
///         spec's answer to Sybil feedback).
contract ReputationRegistry is IdentityBound {
    struct Feedback {
        int128 value;
        uint8 valueDecimals;
        bool isRevoked;
        string tag1;
        string tag2;
    }

    int128 private constant MAX_ABS_VALUE = 1e38;
    uint8 private constant MAX_DECIMALS = 18;

    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => Feedback))) private _feedback;
    mapping(uint256 agentId => mapping(address client => uint64)) private _lastIndex;
    mapping(uint256 agentId => address[]) private _clients;
    mapping(uint256 agentId => mapping(address client => bool)) private _isClient;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => mapping(address responder => uint64))))
        private _responseCount;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => address[]))) private _responders;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => mapping(address => bool))))
        private _isResponder;

    event NewFeedback(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        int128 value,
        uint8 valueDecimals,
        string indexed indexedTag1,
        string tag1,
        string tag2,
        string endpoint,
        string feedbackURI,
        bytes32 feedbackHash
    );
    event FeedbackRevoked(uint256 indexed agentId, address indexed clientAddress, uint64 indexed feedbackIndex);
    event ResponseAppended(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        address indexed responder,
        string responseURI,
        bytes32 responseHash
    );

    constructor(address identityRegistry_) IdentityBound(identityRegistry_) {}

    function giveFeedback(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string memory tag1,
        string memory tag2,
        string memory endpoint,
        string memory feedbackURI,
        bytes32 feedbackHash
    ) external {
        // memory, not calldata: eleven event fields from calldata strings overflow the stack (same ABI either way)
        require(valueDecimals <= MAX_DECIMALS, "too many decimals");
        require(value <= MAX_ABS_VALUE && value >= -MAX_ABS_VALUE, "value too large");
        // reverts for an agent that does not exist too (ownerOf)
        require(!_identity.isAuthorizedOrOwner(msg.sender, agentId), "Self-feedback not allowed");
        uint64 index = ++_lastIndex[agentId][msg.sender];
        _feedback[agentId][msg.sender][index] = Feedback(value, valueDecimals, false, tag1, tag2);
        if (!_isClient[agentId][msg.sender]) {
            _isClient[agentId][msg.sender] = true;
            _clients[agentId].push(msg.sender);
        }
        emit NewFeedback(
            agentId, msg.sender, index, value, valueDecimals, tag1, tag1, tag2, endpoint, feedbackURI, feedbackHash
        );
    }

    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external {
        require(feedbackIndex > 0 && feedbackIndex <= _lastIndex[agentId][msg.sender], "index out of bounds");
        Feedback storage entry = _feedback[agentId][msg.sender][feedbackIndex];
        require(!entry.isRevoked, "Already revoked");
        entry.isRevoked = true;
        emit FeedbackRevoked(agentId, msg.sender, feedbackIndex);
    }

    function appendResponse(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        string calldata responseURI,
        bytes32 responseHash
    ) external {
        require(feedbackIndex > 0 && feedbackIndex <= _lastIndex[agentId][clientAddress], "index out of bounds");
        require(bytes(responseURI).length > 0, "Empty URI");
        if (!_isResponder[agentId][clientAddress][feedbackIndex][msg.sender]) {
            _isResponder[agentId][clientAddress][feedbackIndex][msg.sender] = true;
            _responders[agentId][clientAddress][feedbackIndex].push(msg.sender);
        }
        _responseCount[agentId][clientAddress][feedbackIndex][msg.sender]++;
        emit ResponseAppended(agentId, clientAddress, feedbackIndex, msg.sender, responseURI, responseHash);
    }

    // -- reads ----------------------------------------------------------------------------------------------
    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64) {
        return _lastIndex[agentId][clientAddress];
    }

    function getClients(uint256 agentId) external view returns (address[] memory) {
        return _clients[agentId];
    }

    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked)
    {
        require(feedbackIndex > 0 && feedbackIndex <= _lastIndex[agentId][clientAddress], "index out of bounds");
        Feedback storage entry = _feedback[agentId][clientAddress][feedbackIndex];
        return (entry.value, entry.valueDecimals, entry.tag1, entry.tag2, entry.isRevoked);
    }

    /// @notice The average of the chosen clients' unrevoked feedback matching the tags ("" matches any), every value
    ///         taken to 18 decimals, then given in the decimals most of them used.
    function getSummary(uint256 agentId, address[] calldata clientAddresses, string memory tag1, string memory tag2)
        external
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals)
    {
        require(clientAddresses.length > 0, "clientAddresses required");
        int256 total;
        uint64[19] memory decimalsSeen;
        for (uint256 c = 0; c < clientAddresses.length; c++) {
            (int256 sum, uint64 n) = _sumOf(agentId, clientAddresses[c], tag1, tag2, decimalsSeen);
            total += sum;
            count += n;
        }
        if (count == 0) return (0, 0, 0);
        uint8 mode;
        for (uint8 d = 1; d <= MAX_DECIMALS; d++) {
            if (decimalsSeen[d] > decimalsSeen[mode]) mode = d;
        }
        // SafeCast: an average that does not fit int128 reverts rather than wrapping (the reference truncates)
        summaryValue = SafeCast.toInt128(total / int256(uint256(count)) / int256(10 ** (MAX_DECIMALS - mode)));
        summaryValueDecimals = mode;
    }

    /// @dev One client's matching, unrevoked feedback: its sum at 18 decimals and count (decimals tallied in place).
    function _sumOf(uint256 agentId, address client, string memory tag1, string memory tag2, uint64[19] memory seen)
        private
        view
        returns (int256 sum, uint64 count)
    {
        uint64 last = _lastIndex[agentId][client];
        for (uint64 i = 1; i <= last; i++) {
            Feedback storage entry = _feedback[agentId][client][i];
            if (entry.isRevoked || !_matches(entry, tag1, tag2)) continue;
            sum += int256(entry.value) * int256(10 ** (MAX_DECIMALS - entry.valueDecimals));
            seen[entry.valueDecimals]++;
            count++;
        }
    }

    function readAllFeedback(
        uint256 agentId,
        address[] calldata clientAddresses,
        string memory tag1,
        string memory tag2,
        bool includeRevoked
    )
        external
        view
        returns (
            address[] memory clients,
            uint64[] memory feedbackIndexes,
            int128[] memory values,
            uint8[] memory valueDecimals,
            string[] memory tag1s,
            string[] memory tag2s,
            bool[] memory revokedStatuses
        )
    {
        (clients, feedbackIndexes) = _select(agentId, clientAddresses, tag1, tag2, includeRevoked);
        values = new int128[](clients.length);
        valueDecimals = new uint8[](clients.length);
        tag1s = new string[](clients.length);
        tag2s = new string[](clients.length);
        revokedStatuses = new bool[](clients.length);
        _fill(agentId, clients, feedbackIndexes, values, valueDecimals, tag1s, tag2s, revokedStatuses);
    }

    /// @dev Copies each selected feedback into the (preallocated) columns: a function of its own for the stack.
    function _fill(
        uint256 agentId,
        address[] memory clients,
        uint64[] memory indexes,
        int128[] memory values,
        uint8[] memory valueDecimals,
        string[] memory tag1s,
        string[] memory tag2s,
        bool[] memory revokedStatuses
    ) private view {
        for (uint256 n = 0; n < clients.length; n++) {
            Feedback storage entry = _feedback[agentId][clients[n]][indexes[n]];
            values[n] = entry.value;
            valueDecimals[n] = entry.valueDecimals;
            tag1s[n] = entry.tag1;
            tag2s[n] = entry.tag2;
            revokedStatuses[n] = entry.isRevoked;
        }
    }

    /// @dev The (client, index) pairs readAllFeedback returns; every client when none is given.
    function _select(
        uint256 agentId,
        address[] calldata clientAddresses,
        string memory tag1,
        string memory tag2,
        bool includeRevoked
    ) private view returns (address[] memory clients, uint64[] memory indexes) {
        address[] memory chosen = clientAddresses;
        if (chosen.length == 0) chosen = _clients[agentId];
        uint256 total;
        for (uint256 c = 0; c < chosen.length; c++) {
            for (uint64 i = 1; i <= _lastIndex[agentId][chosen[c]]; i++) {
                if (_included(_feedback[agentId][chosen[c]][i], tag1, tag2, includeRevoked)) total++;
            }
        }
        clients = new address[](total);
        indexes = new uint64[](total);
        uint256 n;
        for (uint256 c = 0; c < chosen.length; c++) {
            for (uint64 i = 1; i <= _lastIndex[agentId][chosen[c]]; i++) {
                if (!_included(_feedback[agentId][chosen[c]][i], tag1, tag2, includeRevoked)) continue;
                clients[n] = chosen[c];
                indexes[n] = i;
                n++;
            }
        }
    }

    /// @notice Responses by the given responders (all when the list is empty) to one feedback, or to all of a
    ///         client's feedback (index 0), or to all feedback on the agent (client 0): the spec's optional filters.
    function getResponseCount(uint256 agentId, address clientAddress, uint64 feedbackIndex, address[] calldata responders)
        external
        view
        returns (uint64 count)
    {
        address[] memory clients = new address[](1);
        clients[0] = clientAddress;
        if (clientAddress == address(0)) clients = _clients[agentId];
        for (uint256 c = 0; c < clients.length; c++) {
            uint64 first = feedbackIndex == 0 ? 1 : feedbackIndex;
            uint64 last = feedbackIndex == 0 ? _lastIndex[agentId][clients[c]] : feedbackIndex;
            for (uint64 i = first; i <= last; i++) {
                count += _responsesTo(agentId, clients[c], i, responders);
            }
        }
    }

    function _responsesTo(uint256 agentId, address client, uint64 index, address[] calldata responders)
        private
        view
        returns (uint64 count)
    {
        address[] memory chosen = responders;
        if (chosen.length == 0) chosen = _responders[agentId][client][index];
        for (uint256 r = 0; r < chosen.length; r++) {
            count += _responseCount[agentId][client][index][chosen[r]];
        }
    }

    function _included(Feedback storage entry, string memory tag1, string memory tag2, bool includeRevoked)
        private
        view
        returns (bool)
    {
        return (includeRevoked || !entry.isRevoked) && _matches(entry, tag1, tag2);
    }

    function _matches(Feedback storage entry, string memory tag1, string memory tag2) private view returns (bool) {
        return (bytes(tag1).length == 0 || keccak256(bytes(entry.tag1)) == keccak256(bytes(tag1)))
            && (bytes(tag2).length == 0 || keccak256(bytes(entry.tag2)) == keccak256(bytes(tag2)));
    }
}
